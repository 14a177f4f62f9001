"""Serve an ASGI app on loopback ports from a background thread, for clients that need URLs.

The client check serves the mock this way, the fuzz server its answers, and the server
check an app it is given (``_targets``).

Several listening sockets can share one app: the client check and the fuzz server use
a second one as a "regional" origin, the way BFL's global host hands out polling URLs
on a regional one (``api.bfl.ai`` -> ``api.us1.bfl.ai``).
"""

from __future__ import annotations

import socket
from typing import Any

from mockserver.serving.server import BackgroundServer, Served, listen
from mockserver.settings import MockSettings

LOOPBACK = "127.0.0.1"


def bind_loopback() -> socket.socket:
    """A listening socket on 127.0.0.1 and a free port."""
    return listen(LOOPBACK, 0)


def origin_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


class LiveApp(Served):
    """An ASGI ``app`` served on loopback from a background thread, as a context manager.

    It listens on ``origins`` free ports (``origins`` lists their base URLs, ``url`` the
    first), or on the given listening ``sockets``.
    """

    def __init__(
        self, app: Any, sockets: list[socket.socket] | None = None, *, origins: int = 1
    ) -> None:
        self.app = app
        self.sockets = sockets or [bind_loopback() for _ in range(origins)]
        self.origins = tuple(origin_of(sock) for sock in self.sockets)

    @property
    def url(self) -> str:
        return self.origins[0]

    def start(self) -> LiveApp:
        served = BackgroundServer(self.app, self.sockets, MockSettings(), name="bfl-contracts")
        served.start()
        self._served = served
        return self
