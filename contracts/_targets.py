"""What a server check talks to: an ASGI app in this process, or any base URL.

An app is served on a loopback port for the length of the check (``LiveApp``: uvicorn
in a thread, the stack ``bfl-mock serve`` runs), so the kit's requests and
schemathesis's reach it over HTTP exactly as they reach a live server. Nothing here
goes through ``starlette.testclient``, whose choice of HTTP library follows the
installed Starlette release (and warns on the newest).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx

from contracts._live_app import LiveApp
from mockserver.http.addresses import is_loopback

REQUEST_TIMEOUT_SECONDS = 30.0
CONNECT_RETRY_SECONDS = 0.1


class TargetUnreachable(Exception):
    """The server under check does not accept connections."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A server under check: ``app`` in this process, or the server at ``base_url``."""

    base_url: str | None = None
    app: Any = None

    @classmethod
    def of(cls, server: Any) -> Target:
        """A target for a base URL (``str``) or an ASGI application."""
        if isinstance(server, str):
            return cls(base_url=server.rstrip("/"))
        return cls(app=server)

    @property
    def in_process(self) -> bool:
        return self.app is not None

    @property
    def local(self) -> bool:
        """In this process or on a loopback address: a test server, whose key is a test key."""
        return self.base_url is None or is_loopback(self.base_url)

    def describe(self) -> str:
        return "the in-process app" if self.in_process else str(self.base_url)

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """The base URL to send requests to; an app is served (lifespan and all) meanwhile."""
        if self.base_url is not None:
            yield self.base_url
            return
        with LiveApp(self.app) as live:
            yield live.url

    @staticmethod
    def client(base_url: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)

    def ensure_reachable(self, wait: float = 0.0) -> None:
        """Raise ``TargetUnreachable`` if nothing listens at the base URL within ``wait`` s."""
        if self.base_url is None:
            return
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetUnreachable(f"{self.base_url!r} is not an http(s) base URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        deadline = time.monotonic() + wait
        while True:
            try:
                with socket.create_connection((parts.hostname, port), timeout=5):
                    return
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise TargetUnreachable(
                        f"cannot connect to {self.base_url}: {error.strerror or error}"
                    ) from None
            time.sleep(CONNECT_RETRY_SECONDS)
