"""Progress of long commands: on a terminal, and nowhere else (CI logs, pipes, files).

The kit's commands showing it as they run are in contract/test_check_progress.py.
"""

from __future__ import annotations

import io

import pytest

from mockserver.progress import CLEAR_LINE, Progress, wanted


class Terminal(io.StringIO):
    """A stream that says it is a terminal, and keeps what was written to it."""

    def isatty(self) -> bool:
        super().isatty()  # ValueError once closed, as a real file does
        return True


def test_progress_is_wanted_on_a_terminal_only() -> None:
    assert wanted(Terminal(), environ={"TERM": "xterm-256color"})
    assert wanted(Terminal(), environ={})
    assert not wanted(Terminal(), environ={"TERM": "dumb"})  # cannot redraw a line
    assert not wanted(io.StringIO(), environ={"TERM": "xterm"})  # a pipe, a file, a CI log
    closed = Terminal()
    closed.close()
    assert not wanted(closed, environ={})
    assert not wanted(object(), environ={})  # type: ignore[arg-type]


def test_a_status_line_is_redrawn_in_place_and_cleared() -> None:
    screen = Terminal()
    with Progress("check", screen, enabled=True, interval=0) as progress:
        progress("first")
        progress("second")
    assert screen.getvalue() == (
        f"{CLEAR_LINE}check 0:00  first{CLEAR_LINE}check 0:00  second{CLEAR_LINE}"
    )


def test_lines_of_their_own_come_only_when_something_changed() -> None:
    screen = Terminal()
    with Progress("client", screen, enabled=True, in_place=False, interval=0) as progress:
        for text in ("1 request(s)", "1 request(s)", "2 request(s)"):
            progress(text)
    assert screen.getvalue() == "client 0:00  1 request(s)\nclient 0:00  2 request(s)\n"


def test_output_goes_above_the_status_line(capsys: pytest.CaptureFixture[str]) -> None:
    screen = Terminal()
    progress = Progress("bench", screen, enabled=True, interval=0)
    progress("row 1")
    progress.print("a result")
    assert capsys.readouterr().out == "a result\n"
    assert (
        screen.getvalue()
        == f"{CLEAR_LINE}bench 0:00  row 1{CLEAR_LINE}{CLEAR_LINE}bench 0:00  row 1"
    )


def test_nothing_is_written_where_progress_is_not_wanted() -> None:
    log = io.StringIO()
    with Progress("check", log) as progress:
        progress("working")
        progress.print("a result", file=io.StringIO())
    assert log.getvalue() == ""
