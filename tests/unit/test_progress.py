"""Progress of long commands: on a terminal, and nowhere else (CI logs, pipes, files)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mockserver.progress import CLEAR_LINE, Progress, wanted

from broken_servers import KEY, mock


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


@pytest.mark.contracts
def test_check_client_tells_how_many_requests_were_sent_while_it_runs(tmp_path: Path) -> None:
    from contracts import check_client

    seen: list[str] = []
    release = tmp_path / "release"

    def progress(text: str) -> None:
        seen.append(text)
        if text.startswith("1 request(s)"):
            release.touch()  # the client has been counted: let it finish

    client = (
        "import os, pathlib, sys, time, httpx\n"
        "httpx.get(os.environ['BFL_API_URL'] + '/v1/credits', "
        "headers={'x-key': os.environ['BFL_API_KEY']})\n"
        "while not pathlib.Path(sys.argv[1]).exists():\n"
        "    time.sleep(0.02)\n"
    )
    report = check_client(
        [sys.executable, "-c", client, str(release)], progress=progress, timeout=120
    )
    assert report.ok, report.render()
    assert "1 request(s) so far, 0 refused" in seen


@pytest.mark.contracts
def test_check_server_shows_progress_on_a_terminal_only() -> None:
    from contracts import LiveApp

    with LiveApp(mock()) as live:
        command = [sys.executable, "-m", "mockserver", "check-server", live.url, "--api-key",
                   KEY, "--seed", "1", "--max-examples", "3", "--lifecycles", "1",
                   "--poll-interval", "0"]  # fmt: skip
        on_terminal = _with_stderr_on_a_terminal(command)
        in_a_log = subprocess.run(command, capture_output=True, text=True)
    assert on_terminal.returncode == 0
    status = on_terminal.stderr
    assert status.startswith(
        f"{CLEAR_LINE}bfl-mock check-server 0:00  API keys: sending a made-up key to "
        f"GET /v1/credits{CLEAR_LINE}bfl-mock check-server 0:0"
    ), status
    assert status.endswith(CLEAR_LINE)  # and nothing left on the screen
    assert on_terminal.stdout.endswith("PASSED\n")
    assert in_a_log.returncode == 0 and in_a_log.stderr == ""


def _with_stderr_on_a_terminal(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with stderr on a pseudo-terminal and stdout on a pipe."""
    controller, terminal = pty.openpty()
    received = bytearray()

    def drain() -> None:  # a full terminal buffer would stop the command
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the command closed its end
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, text=True)
    finally:
        os.close(terminal)
        reader.join()
        os.close(controller)
    return subprocess.CompletedProcess(command, done.returncode, done.stdout, received.decode())
