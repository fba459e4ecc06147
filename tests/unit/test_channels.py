"""The exec/attach channel protocol, Docker's stream framing and the exec/attach options
(model/kubeapi/channels.py, model/kubeapi/execoptions.py): pure rules, no Docker."""

from __future__ import annotations

import json

import pytest

from localsvc.model.kubeapi import channels as ch
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import Query, choose_container
from localsvc.model.kubeapi.execoptions import (StreamTarget, attach_options, container_not_found,
                                                exec_options, protocols_not_supported,
                                                running_target, websocket_required)


def test_a_frame_starts_with_its_channel() -> None:
    assert ch.frame(ch.STDOUT, b"hi") == b"\x01hi"
    assert ch.frame(ch.ERROR, b"") == b"\x03"


def test_client_messages_name_their_channel() -> None:
    assert ch.parse_message(ch.V5, b"\x00abc") == ch.Message(0, b"abc")
    assert ch.parse_message(ch.V4, b"\x04{}") == ch.Message(4, b"{}")
    assert ch.parse_message(ch.V5, b"") is None


def test_the_close_signal_is_v5_only() -> None:
    assert ch.parse_message(ch.V5, b"\xff\x00") == ch.Message(0, close=True)
    # Before v5, 255 is just a channel number nobody serves.
    assert ch.parse_message(ch.V4, b"\xff\x00") == ch.Message(255, b"\x00")
    assert ch.parse_message(ch.V5, b"\xff") is None


def test_resize_messages_read_width_and_height() -> None:
    assert ch.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    with pytest.raises(ch.ResizeError, match="not"):
        ch.parse_resize(b"120x40")
    with pytest.raises(ch.ResizeError, match="0-65535"):
        ch.parse_resize(b'{"Width":-1,"Height":40}')


def test_resize_buffer_takes_split_and_joined_messages() -> None:
    sizes = ch.ResizeBuffer()
    assert sizes.feed(b'{"Width":80,') == []
    assert sizes.feed(b'"Height":24}\n{"Width":100,"Height":30}\n') == [(80, 24), (100, 30)]
    assert sizes.feed(b"") == []


def test_resize_buffer_drops_garbage() -> None:
    sizes = ch.ResizeBuffer()
    with pytest.raises(ch.ResizeError):
        sizes.feed(b"x" * 5000)
    assert sizes.feed(b'{"Width":1,"Height":2}') == [(1, 2)]


def test_success_is_a_bare_success_status() -> None:
    payload = ch.error_payload(ch.V5, ch.success_status())
    assert json.loads(payload) == {"metadata": {}, "status": "Success"}


def test_a_non_zero_exit_carries_its_code_as_kubectl_reads_it() -> None:
    status = json.loads(ch.error_payload(ch.V4, ch.exit_status(3, ["sh", "-c", "exit 3"])))
    assert status["status"] == "Failure"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert status["message"] == ("command terminated with non-zero exit code: error executing "
                                 "command [sh -c exit 3], exit code 3")


def test_older_protocols_send_the_error_text_and_nothing_on_success() -> None:
    assert ch.error_payload(ch.V2, ch.success_status()) == b""
    failure = ch.internal_error_status("boom")
    assert json.dumps(failure) == json.dumps({  # the error channel's JSON, key order included
        "metadata": {}, "status": "Failure", "message": "Internal error occurred: boom",
        "reason": "InternalError", "details": {"causes": [{"message": "boom"}]}, "code": 500})
    assert ch.error_payload(ch.V1, failure) == b"Internal error occurred: boom"
    assert json.loads(ch.error_payload(ch.V5, failure))["code"] == 500


def docker_frame(stream: int, data: bytes) -> bytes:
    """One frame as the engine sends it: stream byte, three zero bytes, big-endian length."""
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def test_docker_frames_are_split_by_stream_across_chunks() -> None:
    wire = docker_frame(1, b"out") + docker_frame(2, b"err") + docker_frame(1, b"")
    demuxer = ch.DockerDemuxer()
    got = []
    for i in range(len(wire)):  # one byte at a time: every split point
        got += demuxer.feed(wire[i:i + 1])
    assert got == [(ch.STDOUT, b"out"), (ch.STDERR, b"err")]
    # nothing held back: a next whole frame comes out alone and intact
    assert demuxer.feed(docker_frame(2, b"next")) == [(ch.STDERR, b"next")]


def test_a_run_of_one_streams_frames_is_one_message() -> None:
    wire = (docker_frame(1, b"a") + docker_frame(1, b"b") + docker_frame(2, b"c")
            + docker_frame(1, b"d"))
    assert ch.DockerDemuxer().feed(wire) == [(ch.STDOUT, b"ab"), (ch.STDERR, b"c"),
                                             (ch.STDOUT, b"d")]


def test_docker_frames_in_one_chunk() -> None:
    wire = docker_frame(2, b"a" * 70000) + docker_frame(1, b"b")[:5]
    demuxer = ch.DockerDemuxer()
    assert demuxer.feed(wire) == [(ch.STDERR, b"a" * 70000)]
    # the incomplete frame's 5 bytes are held: its other 4 complete it
    assert demuxer.feed(docker_frame(1, b"b")[5:]) == [(ch.STDOUT, b"b")]


def _query(command: tuple[str, ...] = ("ls",), **single: str) -> Query:
    return {"command": list(command), **{key: [value] for key, value in single.items()}}


def test_exec_options_default_to_stdout_and_stderr() -> None:
    options = exec_options(_query(container="app"))
    assert (options.stdin, options.stdout, options.stderr, options.tty) == \
        (False, True, True, False)
    assert options.command == ("ls",) and options.container == "app"


def test_a_tty_has_no_separate_stderr() -> None:
    options = exec_options(_query(stdin="true", tty="1", stderr="true"))
    assert options.tty and options.stdin and not options.stderr


def test_exec_needs_a_command_and_a_stream() -> None:
    with pytest.raises(ApiError, match="at least one command"):
        exec_options(_query(()))
    with pytest.raises(ApiError, match="at least 1 of stdin, stdout, stderr") as caught:
        exec_options(_query(stdout="false", stderr="false"))
    assert caught.value.code == 400


def test_flags_are_read_as_the_api_servers_codec_reads_them() -> None:
    # Convert_Slice_string_To_bool: any value but "0" and "false" is true, "" and "yes" too
    # (this said 400 for "yes" and false for "", which no API server answers).
    assert attach_options(_query(tty="yes")).tty
    assert attach_options(_query(stdin="")).stdin
    assert not attach_options(_query(stdout="FALSE", stderr="0", stdin="1")).stdout


POD = {"metadata": {"name": "web"},
       "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}],
                "initContainers": [{"name": "setup"}]}}


def test_the_only_container_is_the_default() -> None:
    assert choose_container({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}},
                            "") == "c"


def test_several_containers_and_none_named_is_the_api_servers_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        choose_container(POD, "")
    assert caught.value.status["reason"] == "BadRequest"
    assert caught.value.status["message"] == (
        "a container name must be specified for pod web, choose one of: [app sidecar] "
        "or one of the init containers: [setup]")


def test_an_unknown_container_is_not_valid() -> None:
    assert choose_container(POD, "setup") == "setup"
    with pytest.raises(ApiError, match="container nope is not valid for pod web"):
        choose_container(POD, "nope")


def test_the_kubelets_words_for_a_container_not_running() -> None:
    assert container_not_found("app") == \
        'unable to upgrade connection: container not found ("app")'


def test_a_request_without_websocket_is_told_what_is_served() -> None:
    status = websocket_required("exec")
    assert status["code"] == 400 and "v5.channel.k8s.io" in status["message"]
    assert "SPDY is not served" in status["message"]


def test_unserved_subprotocols_are_named_with_the_served_ones() -> None:
    status = protocols_not_supported(["base64.channel.k8s.io"], ch.PROTOCOLS)
    assert status["message"] == (
        "requested protocol(s) are not supported: [base64.channel.k8s.io]; supports "
        "[v5.channel.k8s.io v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io "
        "channel.k8s.io]")


def test_attach_options_default_to_output_only() -> None:
    options = attach_options(_query(()))
    assert (options.stdin, options.stdout, options.stderr, options.tty) == \
        (False, True, True, False)
    assert options.command == ()


def _pod_with(state: dict[str, object], container_id: str = "docker://abc") -> dict[str, object]:
    return {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "tty": True, "stdin": True},
                                    {"name": "side"}],
                     "initContainers": [{"name": "setup"}]},
            "status": {"containerStatuses": [
                {"name": "app", "state": state, "containerID": container_id},
                {"name": "side", "state": {"running": {}}, "containerID": "docker://def"}]}}


def test_a_session_reaches_the_running_container_its_status_names() -> None:
    # the ID from the status, tty and stdin from the spec: no engine call per session
    pod = _pod_with({"running": {"startedAt": "2026-12-07T08:00:00Z"}})
    assert running_target(pod, "app") == StreamTarget("abc", tty=True, stdin=True)
    assert running_target(pod, "side") == StreamTarget("def", tty=False, stdin=False)


def test_a_container_not_running_by_its_status_is_no_target() -> None:
    assert running_target(_pod_with({"terminated": {"exitCode": 0}}), "app") is None
    assert running_target(_pod_with({"waiting": {"reason": "CrashLoopBackOff"}}), "app") is None
    assert running_target(_pod_with({"running": {}}, container_id=""), "app") is None
    assert running_target(_pod_with({"running": {}}), "setup") is None  # no status at all
