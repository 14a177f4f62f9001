"""The kit's long commands show their progress: on a terminal, and nowhere else.

How progress is drawn, wherever it is wanted, is in unit/test_progress.py.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from contracts import LiveApp, check_client
from mockserver.progress import CLEAR_LINE

from broken_servers import KEY, mock


def test_check_client_tells_how_many_requests_were_sent_while_it_runs(tmp_path: Path) -> None:
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


def test_check_server_shows_progress_on_a_terminal_only() -> None:
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
