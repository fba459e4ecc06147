"""A host build step (runtime/image_common.run_step): success is None, a failure keeps its exit
code and the last BUILD_LOG_TAIL lines of both streams, in order. Runs real processes."""

from __future__ import annotations

import sys

from localsvc.runtime.image_common import BUILD_LOG_TAIL, StepFailure, run_step


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_step_that_succeeds_is_none() -> None:
    assert run_step(python("print('fine')")) is None


def test_a_failure_keeps_the_code_and_both_streams_in_order() -> None:
    failed = run_step(python(
        "import sys; print('out', flush=True); print('err', file=sys.stderr, flush=True); "
        "sys.exit(4)"))
    assert failed == StepFailure(4, "out\nerr")


def test_only_the_end_of_a_long_output_is_kept() -> None:
    failed = run_step(python(f"[print(i) for i in range({BUILD_LOG_TAIL + 20})]; exit(1)"))
    assert failed is not None
    assert failed.tail.splitlines() == [str(i) for i in range(20, BUILD_LOG_TAIL + 20)]


def test_undecodable_output_does_not_hide_the_failure() -> None:
    failed = run_step(python("import sys; sys.stdout.buffer.write(b'bad \\xff byte'); exit(2)"))
    assert failed is not None and failed.code == 2 and failed.tail.startswith("bad ")
