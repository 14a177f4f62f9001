"""What a server check talks to: an ASGI app in this process, or any base URL."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.testclient import TestClient

IN_PROCESS_ORIGIN = "http://testserver"
"""The origin an in-process app sees (starlette's TestClient default)."""
REQUEST_TIMEOUT_SECONDS = 30.0
CONNECT_RETRY_SECONDS = 0.1


class TargetUnreachable(Exception):
    """The server under check does not accept connections."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A server under check: ``app`` in this process, or the server at ``base_url``."""

    base_url: str
    app: Any = None

    @classmethod
    def of(cls, server: Any) -> Target:
        """A target for a base URL (``str``) or an ASGI application."""
        if isinstance(server, str):
            return cls(base_url=server.rstrip("/"))
        return cls(base_url=IN_PROCESS_ORIGIN, app=server)

    @property
    def in_process(self) -> bool:
        return self.app is not None

    def describe(self) -> str:
        return "the in-process app" if self.in_process else self.base_url

    @contextlib.contextmanager
    def client(self) -> Iterator[httpx.Client]:
        """An HTTP client for the target; the app's lifespan runs while it is open."""
        if self.in_process:
            with TestClient(
                self.app, base_url=self.base_url, raise_server_exceptions=False
            ) as client:
                yield client
        else:
            with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
                yield client

    def ensure_reachable(self, wait: float = 0.0) -> None:
        """Raise ``TargetUnreachable`` if nothing listens at the base URL within ``wait`` s."""
        if self.in_process:
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

    def bind(self, schema: Any) -> None:
        """Point a schemathesis schema at this target."""
        if self.in_process:
            schema.app = self.app
