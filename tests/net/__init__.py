"""Network code on real sockets bound to port 0 on 127.0.0.1."""
