"""The SPDY/3 header-compression dictionary (1,423 bytes; draft 3, section 2.6.10.1).

Both ends prime zlib with it, so a header block compressed by kubectl's Go framer decompresses
here only with exactly these bytes."""

from __future__ import annotations

HEADER_DICTIONARY = (
    b'\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00\x00\x00\x03put\x00'
    b'\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00\x06accept\x00\x00\x00\x0eaccept-cha'
    b'rset\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-language\x00\x00\x00\raccept-'
    b'ranges\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00\rauthorization\x00\x00\x00\r'
    b'cache-control\x00\x00\x00\nconnection\x00\x00\x00\x0ccontent-base\x00\x00\x00\x10conten'
    b't-encoding\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length\x00\x00\x00'
    b'\x10content-location\x00\x00\x00\x0bcontent-md5\x00\x00\x00\rcontent-range\x00\x00\x00'
    b'\x0ccontent-type\x00\x00\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06expect\x00\x00'
    b'\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04host\x00\x00\x00\x08if-match\x00\x00'
    b'\x00\x11if-modified-since\x00\x00\x00\rif-none-match\x00\x00\x00\x08if-range\x00\x00'
    b'\x00\x13if-unmodified-since\x00\x00\x00\rlast-modified\x00\x00\x00\x08location\x00\x00'
    b'\x00\x0cmax-forwards\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authenticate\x00\x00'
    b'\x00\x13proxy-authorization\x00\x00\x00\x05range\x00\x00\x00\x07referer\x00\x00\x00\x0b'
    b'retry-after\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07trailer\x00\x00\x00'
    b'\x11transfer-encoding\x00\x00\x00\x07upgrade\x00\x00\x00\nuser-agent\x00\x00\x00\x04var'
    b'y\x00\x00\x00\x03via\x00\x00\x00\x07warning\x00\x00\x00\x10www-authenticate\x00\x00\x00'
    b'\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status\x00\x00\x00\x06200 OK\x00\x00\x00'
    b'\x07version\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url\x00\x00\x00\x06public\x00\x00'
    b'\x00\nset-cookie\x00\x00\x00\nkeep-alive\x00\x00\x00\x06origin1001012012022052063003023'
    b'03304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative '
    b'Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbid'
    b'den404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan '
    b'Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun'
    b', GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+'
    b'xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8chars'
    b'et=iso-8859-1,utf-,*,enq=0.'
)
