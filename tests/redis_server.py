"""A real ``redis-server`` for the tests: on a free loopback port, in a temporary folder.

Started once per session by the ``redis_url`` fixture (``conftest.py``), ready when it
says so on its output (no polling), stopped by its pid. Where Debian's ``redis-server``
is not installed (``.ci/run`` installs it), the tests that need it skip, saying why.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from types import TracebackType

READY = "Ready to accept connections"
START_SECONDS = 15.0


class RedisServer:
    """``persist``: keep the data across a stop and start (saved at a graceful stop)."""

    def __init__(self, *, persist: bool = False) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bfl-mock-redis-")
        self.port = _free_port()
        self._persist = persist
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self._folder.name,
                "--save",
                "3600 1" if self._persist else "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "notice",
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self._process.stdout is not None
        seen = []
        for line in self._process.stdout:
            seen.append(line)
            if READY in line:
                return self
        raise RuntimeError("redis-server stopped before it was ready:\n" + "".join(seen))

    def stop_gracefully(self) -> None:
        """Stop the server this object started (by its pid); ``start()`` brings it back."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()  # Redis saves first when it persists
                self._process.wait(START_SECONDS)
            if self._process.stdout is not None:
                self._process.stdout.close()
        self._process = None

    def close(self) -> None:
        self.stop_gracefully()
        self._folder.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
