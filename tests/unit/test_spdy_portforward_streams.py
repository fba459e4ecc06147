"""The kubelet's port-forward stream pairing (net/portforward_streams.py), frame by frame."""

from __future__ import annotations

from localsvc.net import portforward_streams as pf
from localsvc.net import spdy


def syn(stream_id: int, stream_type: str, port: str = "80",
        request_id: str | None = "0") -> spdy.SynStream:
    headers = {"streamtype": [stream_type], "port": [port]}
    if request_id is not None:
        headers["requestid"] = [request_id]
    return spdy.SynStream(stream_id, headers)


def opened(streams: pf.PortForwardStreams, request_id: str = "0") -> pf.Pair:
    streams.receive(syn(1, "error", request_id=request_id))
    actions = streams.receive(syn(3, "data", request_id=request_id))
    assert isinstance(actions[-1], pf.Open)
    return actions[-1].pair


def test_error_then_data_stream_are_replied_and_paired_once() -> None:
    streams = pf.PortForwardStreams()
    assert streams.receive(syn(1, "error")) == [pf.Send(spdy.SynReply(1))]
    actions = streams.receive(syn(3, "data"))
    assert actions[0] == pf.Send(spdy.SynReply(3))
    assert isinstance(actions[1], pf.Open)
    pair = actions[1].pair
    assert (pair.request_id, pair.port, pair.error_stream, pair.data_stream) == ("0", 80, 1, 3)


def test_pairs_are_kept_apart_by_request_id_in_any_order() -> None:
    streams = pf.PortForwardStreams()
    streams.receive(syn(1, "data", request_id="7"))
    streams.receive(syn(3, "error", request_id="8"))
    first = streams.receive(syn(5, "error", request_id="7"))
    second = streams.receive(syn(7, "data", request_id="8"))
    assert isinstance(first[1], pf.Open) and isinstance(second[1], pf.Open)
    assert (first[1].pair.error_stream, first[1].pair.data_stream) == (5, 1)
    assert (second[1].pair.error_stream, second[1].pair.data_stream) == (3, 7)


def test_without_request_id_the_data_stream_pairs_with_the_one_two_ids_before() -> None:
    streams = pf.PortForwardStreams()
    streams.receive(syn(5, "error", request_id=None))
    actions = streams.receive(syn(7, "data", request_id=None))
    assert isinstance(actions[1], pf.Open) and actions[1].pair.request_id == "5"


def test_bad_headers_or_a_second_stream_of_a_type_are_reset() -> None:
    streams = pf.PortForwardStreams()
    refused = spdy.PROTOCOL_ERROR
    assert streams.receive(syn(1, "error", port="0")) == [pf.Send(spdy.RstStream(1, refused))]
    assert streams.receive(syn(3, "error", port="http")) == [pf.Send(spdy.RstStream(3, refused))]
    assert streams.receive(syn(5, "stdin")) == [pf.Send(spdy.RstStream(5, refused))]
    streams.receive(syn(7, "error"))
    assert streams.receive(syn(9, "error")) == [pf.Send(spdy.RstStream(9, refused))]
    assert streams.receive(syn(7, "data")) == [
        pf.Send(spdy.RstStream(7, spdy.INVALID_STREAM))]


def test_data_goes_to_the_pod_and_fin_half_closes() -> None:
    streams = pf.PortForwardStreams()
    pair = opened(streams)
    assert streams.receive(spdy.DataFrame(3, b"GET /")) == [pf.Deliver(pair, b"GET /")]
    assert streams.receive(spdy.DataFrame(3, b"", fin=True)) == [pf.EndOfInput(pair)]
    assert streams.receive(spdy.DataFrame(3, b"x", fin=True)) == [
        pf.Deliver(pair, b"x"), pf.EndOfInput(pair)]
    # kubectl closes its end of the error stream at once: nothing to do.
    assert streams.receive(spdy.DataFrame(1, b"", fin=True)) == []
    assert streams.receive(spdy.DataFrame(99, b"stray")) == []


def test_reset_of_the_data_stream_aborts_the_pair() -> None:
    streams = pf.PortForwardStreams()
    pair = opened(streams)
    assert streams.receive(spdy.RstStream(1, spdy.CANCEL)) == []
    assert streams.receive(spdy.RstStream(3, spdy.CANCEL)) == [pf.Abort(pair)]


def test_client_pings_are_echoed_goaway_shuts_down_the_rest_ignored() -> None:
    streams = pf.PortForwardStreams()
    assert streams.receive(spdy.Ping(1)) == [pf.Send(spdy.Ping(1))]
    assert streams.receive(spdy.Ping(2)) == []  # an answer to a ping of ours (never sent)
    assert streams.receive(spdy.GoAway(3)) == [pf.Shutdown()]
    assert streams.receive(spdy.WindowUpdate(3, 100)) == []
    assert streams.receive(spdy.Settings(((0, 7, 1),))) == []


def test_pod_bytes_are_cut_into_data_frames_of_at_most_a_chunk() -> None:
    streams = pf.PortForwardStreams()
    pair = opened(streams)
    frames = streams.data(pair, b"a" * (pf.CHUNK + 5))
    assert frames == [spdy.DataFrame(3, b"a" * pf.CHUNK), spdy.DataFrame(3, b"a" * 5)]


def test_finish_writes_the_error_then_closes_both_streams_once() -> None:
    streams = pf.PortForwardStreams()
    pair = opened(streams)
    assert streams.finish(pair, "boom") == [
        spdy.DataFrame(1, b"boom"), spdy.DataFrame(1, fin=True), spdy.DataFrame(3, fin=True)]
    assert streams.finish(pair) == []
    assert streams.receive(spdy.DataFrame(3, b"late")) == []
    # The request id is free again (kubectl never reuses one, but a pair must not leak).
    assert streams.pairs == {} and streams.by_stream == {}


def test_clean_finish_has_no_error_text() -> None:
    streams = pf.PortForwardStreams()
    pair = opened(streams)
    assert streams.finish(pair) == [spdy.DataFrame(1, fin=True), spdy.DataFrame(3, fin=True)]


def test_connect_error_reads_like_the_kubelets() -> None:
    text = pf.connect_error(9999, "ab" * 32, "/var/run/docker/netns/1f2e", "10.0.0.5",
                            "connect: connection refused")
    assert text == (
        f"error forwarding port 9999 to pod {'ab' * 32}, uid : failed to execute portforward in "
        f'network namespace "/var/run/docker/netns/1f2e": failed to connect to 10.0.0.5:9999 '
        f'inside namespace "{"ab" * 32}", IPv4: dial tcp4 10.0.0.5:9999: connect: connection '
        f"refused ")


def test_port_header_values() -> None:
    assert pf.parse_port("65535") == 65535
    assert [pf.parse_port(v) for v in ("", "0", "65536", "-1", "8o")] == [None] * 5


def test_the_last_accepted_stream_is_remembered_for_a_goaway() -> None:
    streams = pf.PortForwardStreams()
    assert streams.last_stream_id == 0
    opened(streams)
    assert streams.last_stream_id == 3
    streams.receive(syn(5, "bogus"))  # refused: not a good stream
    assert streams.last_stream_id == 3
