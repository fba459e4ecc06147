"""The fault suite's reading of the watcher log (tests/faults/watch.py)."""

from __future__ import annotations

from tests.faults.watch import parse, problems


def samples(*pairs: tuple[float, int]) -> str:
    return "\n".join(f"{at:.3f} {ok}" for at, ok in pairs)


def test_answers_throughout() -> None:
    log = samples(*[(100 + i * 0.2, 1) for i in range(50)])
    assert problems(parse(log), 100, 109.8) == []


def test_failure_outside_a_restart_is_reported() -> None:
    log = samples((100, 1), (100.2, 0), (100.4, 1))
    assert problems(parse(log), 100, 100.4) == ["request at 100.200 failed (0.2 s into the test)"]


def test_failures_during_a_restart_and_recovery_are_allowed() -> None:
    log = samples((100, 1), (101, 0), (104, 0), (105, 1), (105.2, 1))
    assert problems(parse(log), 100, 105.2, [(100.5, 104.0)]) == []


def test_slow_recovery_after_a_restart_is_reported() -> None:
    log = samples((100, 1), (101, 0), (104, 0), (106, 0), (108, 0), (108.5, 1))
    found = problems(parse(log), 100, 108.5, [(100.5, 104.0)])
    assert "the Service answered 4.5 s after a node restart" in found
    assert any("request at 108.000 failed" in f for f in found)


def test_gap_in_samples_and_empty_log() -> None:
    assert problems(parse(samples((100, 1), (105, 1))), 100, 105) == \
        ["no request for 5.0 s after 0.0 s"]
    assert problems(parse("garbage\n"), 100, 105) == ["no request between 100.0 and 105.0"]
