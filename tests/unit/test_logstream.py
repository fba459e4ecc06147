"""Log lines: the splitter under every log follower never holds more than one capped line."""

from __future__ import annotations

from localsvc.host.logstream import CONTINUED, MAX_LINE, LineSplitter


def test_lines_across_chunks() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb") == [b"a"]
    assert splitter.feed(b"c\n\nd") == [b"bc", b""]
    assert splitter.finish() == [b"d"]
    assert splitter.finish() == []


def test_a_line_without_end_is_cut_at_the_cap_and_marked() -> None:
    """Regression: a container printing without newlines made the follower hold all of it."""
    splitter = LineSplitter(max_line=10)
    out: list[bytes] = []
    for _ in range(100):
        out += splitter.feed(b"x" * 7)
        assert len(splitter.pending) <= 10  # never more than one line is held
    assert out[0] == b"x" * 10 + CONTINUED
    assert all(len(line) == 10 + len(CONTINUED) for line in out)
    assert sum(len(line) - len(CONTINUED) for line in out) + len(splitter.pending) == 700


def test_default_cap_is_one_mebibyte() -> None:
    splitter = LineSplitter()
    out = splitter.feed(b"y" * (3 * MAX_LINE + 5) + b"\nz\n")
    assert [len(line) for line in out] == [MAX_LINE + len(CONTINUED)] * 3 + [5, 1]
    assert MAX_LINE == 1024 * 1024


def test_newline_right_at_the_cap_is_one_whole_line() -> None:
    splitter = LineSplitter(max_line=4)
    assert splitter.feed(b"abcd\nef") == [b"abcd"]
    assert splitter.feed(b"ghij") == [b"efgh" + CONTINUED]
    assert splitter.finish() == [b"ij"]
