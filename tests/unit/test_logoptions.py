"""pods/log's pure rules: PodLogOptions from the query as the API server decodes and validates
them, the container LogLocation chooses, the instance the kubelet reads, and the byte shaping."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import choose_container
from localsvc.model.kubeapi.logoptions import (
    ByteBudget,
    PodLogOptions,
    docker_container_id,
    docker_log_query,
    kubelet_timestamp,
    parse_options,
    validate,
)


def q(**values: str) -> dict[str, list[str]]:
    return {key: [value] for key, value in values.items()}


def error_of(call: Any, *args: Any) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as caught:
        call(*args)
    body = caught.value.status
    return body["code"], body["reason"], body["message"]


def test_every_option_decodes_from_the_query() -> None:
    options = parse_options(q(container="app", follow="true", previous="1", timestamps="True",
                              sinceSeconds="30", tailLines="5", limitBytes="100"))
    assert options == PodLogOptions("app", True, True, True, 30, None, 5, 100)
    assert parse_options({}) == PodLogOptions()


def test_booleans_follow_go_conversion_false_and_zero_are_false() -> None:
    assert not parse_options(q(follow="false")).follow
    assert not parse_options(q(follow="FALSE")).follow
    assert not parse_options(q(follow="0")).follow
    assert parse_options(q(follow="yes")).follow


def test_a_number_that_does_not_parse_is_a_bad_request_with_strconv_words() -> None:
    assert error_of(parse_options, q(tailLines="ten")) == (
        400, "BadRequest", 'strconv.ParseInt: parsing "ten": invalid syntax')
    assert error_of(parse_options, q(limitBytes="99999999999999999999"))[2] == (
        'strconv.ParseInt: parsing "99999999999999999999": value out of range')


def test_since_time_is_rfc3339_and_a_bad_one_says_the_form() -> None:
    options = parse_options(q(sinceTime="2026-12-07T08:00:00+01:00"))
    assert options.since_time == datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc)
    assert options.since_epoch(0) == options.since_time.timestamp()
    code, reason, message = error_of(parse_options, q(sinceTime="yesterday"))
    assert (code, reason) == (400, "BadRequest")
    assert 'parsing time "yesterday"' in message and "2006-01-02T15:04:05Z" in message


def test_since_seconds_counts_back_from_now() -> None:
    assert PodLogOptions(since_seconds=10).since_epoch(1000.0) == 990.0
    assert PodLogOptions().since_epoch(1000.0) is None


def test_validation_messages_are_the_api_servers() -> None:
    assert error_of(validate, PodLogOptions(tail_lines=-1), "p") == (
        422, "Invalid", 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: '
                        "must be greater than or equal to 0")
    assert error_of(validate, PodLogOptions(limit_bytes=0), "p")[2] == (
        'PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be greater than 0')
    assert error_of(validate, PodLogOptions(since_seconds=0), "p")[2] == (
        'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0')
    both = PodLogOptions(since_seconds=5, since_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert error_of(validate, both, "p")[2] == (
        'PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or '
        "`sinceSeconds` may be specified")


def test_several_problems_are_reported_together() -> None:
    message = error_of(validate, PodLogOptions(tail_lines=-2, limit_bytes=-1), "p")[2]
    assert message.startswith('PodLogOptions "p" is invalid: [tailLines: ')
    assert "limitBytes: Invalid value: -1" in message


def test_valid_options_pass() -> None:
    validate(PodLogOptions(tail_lines=0, limit_bytes=1, since_seconds=1), "p")


def pod(containers: list[str], init: list[str] | None = None,
        statuses: list[dict[str, Any]] | None = None,
        init_statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": n} for n in containers]}
    if init:
        spec["initContainers"] = [{"name": n} for n in init]
    return {"metadata": {"name": "p"}, "spec": spec,
            "status": {"containerStatuses": statuses or [],
                       "initContainerStatuses": init_statuses or []}}


def test_the_only_container_is_chosen_without_a_name() -> None:
    assert choose_container(pod(["app"], init=["setup"]), "") == "app"


def test_several_containers_need_a_name_listing_them_as_the_api_server_does() -> None:
    assert error_of(choose_container, pod(["a", "b"]), "") == (
        400, "BadRequest", "a container name must be specified for pod p, choose one of: [a b]")
    assert error_of(choose_container, pod(["a", "b"], init=["i"]), "")[2] == (
        "a container name must be specified for pod p, choose one of: [a b] "
        "or one of the init containers: [i]")


def test_an_unknown_container_is_not_valid_and_init_containers_are_known() -> None:
    assert error_of(choose_container, pod(["a"]), "zz") == (
        400, "BadRequest", "container zz is not valid for pod p")
    assert choose_container(pod(["a"], init=["setup"]), "setup") == "setup"


def status(state: dict[str, Any], last: dict[str, Any] | None = None,
           cid: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": "c", "state": state,
                           "lastState": {"terminated": last} if last else {}}
    if cid:
        out["containerID"] = f"docker://{cid}"
    return out


def test_a_running_container_is_read_by_its_id() -> None:
    p = pod(["c"], statuses=[status({"running": {}}, cid="abc")])
    assert docker_container_id(p, "c", False) == "abc"


def test_previous_reads_the_last_terminated_instance_or_says_none_exists() -> None:
    p = pod(["c"], statuses=[status({"running": {}}, {"containerID": "docker://old"}, "new")])
    assert docker_container_id(p, "c", True) == "old"
    fresh = pod(["c"], statuses=[status({"running": {}}, cid="new")])
    assert error_of(docker_container_id, fresh, "c", True) == (
        400, "BadRequest", 'previous terminated container "c" in pod "p" not found')


def test_a_waiting_container_says_why_as_the_kubelet_does() -> None:
    p = pod(["c"], statuses=[status({"waiting": {"reason": "ContainerCreating"}})])
    assert error_of(docker_container_id, p, "c", False)[2] == (
        'container "c" in pod "p" is waiting to start: ContainerCreating')
    pull = pod(["c"], statuses=[status({"waiting": {"reason": "ErrImagePull"}})])
    assert error_of(docker_container_id, pull, "c", False)[2] == (
        'container "c" in pod "p" is waiting to start: image can\'t be pulled')


def test_a_waiting_container_that_ran_before_shows_its_last_instance() -> None:
    # CrashLoopBackOff: waiting, and the log is the instance that crashed.
    p = pod(["c"], statuses=[status({"waiting": {"reason": "CrashLoopBackOff"}},
                                    {"containerID": "docker://crashed"})])
    assert docker_container_id(p, "c", False) == "crashed"


def test_a_terminated_container_is_read_and_init_containers_are_found() -> None:
    p = pod(["c"], init=["setup"], init_statuses=[
        {"name": "setup", "state": {"terminated": {"containerID": "docker://done"}}}])
    assert docker_container_id(p, "setup", False) == "done"


def test_a_container_without_a_status_is_not_available() -> None:
    assert error_of(docker_container_id, pod(["c"]), "c", False)[2] == (
        'container "c" in pod "p" is not available')


def test_timestamps_lose_trailing_zeros_as_go_rfc3339nano() -> None:
    assert kubelet_timestamp(b"2026-12-07T08:37:01.123456700Z hello\n") == (
        b"2026-12-07T08:37:01.1234567Z hello\n")
    assert kubelet_timestamp(b"2026-12-07T08:37:01.000000000Z x") == b"2026-12-07T08:37:01Z x"
    assert kubelet_timestamp(b"no stamp here") == b"no stamp here"


def test_every_line_of_a_block_gets_the_kubelet_timestamp() -> None:
    # a TTY container's log is not framed: one block holds several stamped lines
    block = (b"2026-12-07T08:37:01.100000000Z a\r\n"
             b"2026-12-07T08:37:02.000000000Z b 2026-12-07T08:37:02.000000000Z \r\n")
    assert kubelet_timestamp(block) == (
        b"2026-12-07T08:37:01.1Z a\r\n2026-12-07T08:37:02Z b 2026-12-07T08:37:02.000000000Z \r\n")


def test_the_byte_budget_cuts_mid_line_and_then_gives_nothing() -> None:
    budget = ByteBudget(5)
    assert budget.take(b"abc") == b"abc" and not budget.spent
    assert budget.take(b"defg") == b"de" and budget.spent
    assert budget.take(b"more") == b""
    unlimited = ByteBudget(None)
    assert unlimited.take(b"x" * 100) == b"x" * 100 and not unlimited.spent


def test_the_engine_is_asked_for_the_options_log() -> None:
    assert docker_log_query(PodLogOptions(), 1000.0) == \
        "stdout=1&stderr=1&follow=0&timestamps=0"
    asked = docker_log_query(PodLogOptions(follow=True, timestamps=True, tail_lines=5,
                                           since_seconds=10), 1000.5)
    assert asked == "stdout=1&stderr=1&follow=1&timestamps=1&tail=5&since=990.500000000"
    # a sinceTime before 1970 asks for everything, as no since does
    old = PodLogOptions(since_time=datetime(1960, 1, 1, tzinfo=timezone.utc))
    assert "since" not in docker_log_query(old, 1000.0)
