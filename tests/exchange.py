"""One HTTP request as plain data, and what an app answered to it, for differential tests."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any

from starlette.testclient import TestClient

KNOWN_TASK = "<known task>"
"""Stands for the id of a task the app under test issued itself (each app has its own)."""


@dataclasses.dataclass(frozen=True)
class Exchange:
    """A request, exactly as sent: repeated and odd headers, any bytes as the body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, bytes], ...] = ()
    body: bytes = b""
    raw_query: str = ""
    """Sent as is after ``?`` (and after ``query``): escapes that are not UTF-8, bare names."""

    def url(self, known_task: str) -> str:
        query = [(name, known_task if value == KNOWN_TASK else value) for name, value in self.query]
        parts = [part for part in (urllib.parse.urlencode(query), self.raw_query) if part]
        return self.path + ("?" + "&".join(parts) if parts else "")


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    def without_headers(self, *names: str) -> Answer:
        dropped = {name.lower() for name in names}
        kept = tuple((key, value) for key, value in self.headers if key not in dropped)
        return dataclasses.replace(self, headers=kept)

    def replace(self, old: str, new: str) -> Answer:
        """The same answer, with ``old`` written ``new`` in its headers and body."""
        return Answer(
            status=self.status,
            headers=tuple((key, value.replace(old, new)) for key, value in self.headers),
            body=self.body.replace(old.encode(), new.encode()),
        )

    def json(self) -> Any:
        return json.loads(self.body)


def send(client: TestClient, exchange: Exchange, known_task: str = "") -> Answer:
    response = client.request(
        exchange.method,
        exchange.url(known_task),
        headers=[(name.encode(), value) for name, value in exchange.headers],
        content=exchange.body,
        follow_redirects=False,
    )
    return Answer(
        status=response.status_code,
        headers=tuple(
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in response.headers.raw
        ),
        body=response.content,
    )


def shape(value: Any) -> Any:
    """What a client's parser sees of a JSON value, ids and numbers aside: keys in order, types."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__
