"""Kubernetes and Docker timestamps (model/clock.py): one writer, one reader."""

from __future__ import annotations

import calendar
import time

import pytest

from localsvc.model import clock, objects
from localsvc.host.commands import logtime
from localsvc.model.clock import docker_time, iso_time, now_iso, rfc3339_seconds
from localsvc.runtime import prune

MOMENT = calendar.timegm((2026, 12, 7, 3, 7, 14))


def test_kubernetes_time_is_utc_to_the_second() -> None:
    assert now_iso(MOMENT + 0.9) == "2026-12-07T03:07:14Z"
    assert now_iso(0) == "1970-01-01T00:00:00Z"  # an explicit epoch is a time, not "now"


def test_now_iso_without_a_time_is_now() -> None:
    seen = docker_time(now_iso())
    assert seen is not None and abs(seen - time.time()) < 2


def test_a_time_not_reached_yet_is_none() -> None:
    assert iso_time(None) is None
    assert iso_time(0) is None
    assert iso_time(MOMENT) == "2026-12-07T03:07:14Z"


def test_docker_times_round_trip_and_zero_time_is_never() -> None:
    assert docker_time(iso_time(MOMENT)) == MOMENT
    assert docker_time("2026-12-07T03:07:14.123456789Z") == pytest.approx(MOMENT + 0.123456)
    assert docker_time("2026-12-07T04:07:14+01:00") == MOMENT
    assert docker_time(MOMENT) == float(MOMENT)
    assert docker_time("0001-01-01T00:00:00Z") is None
    assert docker_time(True) is None  # YAML-ish booleans are not epoch 1
    assert docker_time("soon") is None
    assert docker_time(-5) is None


def test_the_old_names_are_the_one_helper() -> None:
    assert objects.now_iso is clock.now_iso
    assert prune.docker_time is clock.docker_time


def test_rfc3339_needs_a_time_and_a_zone() -> None:
    assert rfc3339_seconds("2026-12-07T03:07:14z") == MOMENT
    assert rfc3339_seconds("2026-12-07t03:07:14Z") == MOMENT
    assert rfc3339_seconds("2026-12-07T03:07:14") is None  # local time of which machine?
    assert rfc3339_seconds("2026-12-07") is None
    assert docker_time("2026-12-07T03:07:14") is None


def test_logs_since_time_reads_times_as_docker_times_are_read() -> None:
    assert logtime.parse_rfc3339("2026-12-07T03:07:14.123456789Z") == \
        docker_time("2026-12-07T03:07:14.123456789Z")
