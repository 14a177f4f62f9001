"""Start the servers under test on loopback, pinned to a core, and stop exactly them.

Each server is a child process started here; it is stopped by its pid (SIGINT, the
Ctrl+C a developer would send, then SIGKILL if it hangs). Nothing else is touched.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def machine_busy_seconds() -> float:
    """CPU seconds all processes have used on every core (Linux; NaN elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time process ``pid`` has used so far (user + system), from /proc/<pid>/stat.

    Raises OSError where there is no /proc (not Linux) or the process is gone.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds used by the finished child processes of this one (the loads)."""
    times = os.times()
    return times.children_user + times.children_system


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pinning() -> tuple[list[str], list[str]]:
    """Command prefixes that put the server and the load generator on different cores.

    The server gets the first core and the load generator the others; with one core,
    or without taskset, nothing is pinned (the output says so).
    """
    available = cores()
    if len(available) < 2 or shutil.which("taskset") is None:
        return [], []
    rest = ",".join(str(core) for core in available[1:])
    return ["taskset", "-c", str(available[0])], ["taskset", "-c", rest]


class Server:
    """One server process on ``127.0.0.1:port``."""

    def __init__(self, name: str, argv: Sequence[str], port: int, *, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.url = f"http://{HOST}:{port}"
        # A file, not a pipe: a server that logs a lot must not block on a full pipe.
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=env,
            cwd=BENCH_DIR.parent,
        )
        self.pid = self._process.pid

    def wait_until_serving(self, probe: str) -> float:
        """Block until GET ``probe`` answers anything; seconds since the process started."""
        started = time.monotonic()
        deadline = started + READY_TIMEOUT_SECONDS
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.errors()}")
                try:
                    client.get(self.url + probe)
                    return time.monotonic() - started
                except httpx.TransportError:
                    time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {READY_TIMEOUT_SECONDS} s")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system)."""
        try:
            return process_cpu_seconds(self.pid)
        except OSError:  # not Linux: the figure is left out
            return math.nan

    def errors(self) -> str:
        """The end of what the server wrote to stderr."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def signalled(
        self, sig: int, timeout: float = STOP_TIMEOUT_SECONDS
    ) -> tuple[float, int | None]:
        """Send ``sig`` to this process (by its pid); seconds until it exited, and its status.

        The status is None if it had not exited within ``timeout``.
        """
        started = time.monotonic()
        os.kill(self.pid, sig)
        try:
            status = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return time.monotonic() - started, None
        return time.monotonic() - started, status

    def stop(self) -> None:
        """Stop this process (and only it) by its pid."""
        if self._process.poll() is None:
            os.kill(self.pid, signal.SIGINT)
            try:
                self._process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()


@contextlib.contextmanager
def running(name: str, argv: Sequence[str], *, probe: str, pin: Sequence[str]) -> Iterator[Server]:
    """A started server, stopped on exit whatever happens."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = Server(name, [*pin, *[arg.format(port=port) for arg in argv]], port, env=env)
    try:
        server.wait_until_serving(probe)
        yield server
    finally:
        server.stop()


def mock_argv(*flags: str) -> list[str]:
    """``bfl-mock serve`` with its defaults, on the port ``running`` picks."""
    return [sys.executable, "-m", "mockserver", "serve", "--port", "{port}", *flags]


def ceiling_argv(*flags: str) -> list[str]:
    return [sys.executable, str(BENCH_DIR / "ceiling.py"), "--port", "{port}", *flags]
