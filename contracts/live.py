"""Serve an ASGI app on loopback ports from a background thread, for clients that need URLs.

Several listening sockets can share one app: the client check and the fuzz server use
a second one as a "regional" origin, the way BFL's global host hands out polling URLs
on a regional one (``api.bfl.ai`` -> ``api.us1.bfl.ai``).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 10.0


class ServeError(Exception):
    """The app could not be served."""


def bind_loopback() -> socket.socket:
    """A listening socket on 127.0.0.1 and a free port."""
    sock = socket.socket(socket.AF_INET)
    sock.bind((LOOPBACK, 0))
    sock.listen(128)
    return sock


def origin_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class LiveApp:
    """``app`` served on the given sockets (one new loopback socket if none are given)."""

    def __init__(self, app: Any, sockets: list[socket.socket] | None = None) -> None:
        self.app = app
        self.sockets = sockets or [bind_loopback()]
        self.origins = tuple(origin_of(sock) for sock in self.sockets)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.origins[0]

    def start(self) -> LiveApp:
        config = uvicorn.Config(
            self.app, lifespan="on", access_log=False, log_level="warning", server_header=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": self.sockets}, name="bfl-contracts", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        if not server.started:
            self.stop()
            raise ServeError("uvicorn did not start (see its log above)")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        self._server = self._thread = None
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> LiveApp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
