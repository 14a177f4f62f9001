"""Typed values the kit passes around: requests, responses, and what was broken on purpose."""

from __future__ import annotations

import dataclasses
import json
import shlex
import urllib.parse
from collections.abc import Collection, Mapping
from typing import Any

import httpx

HIDDEN = "[Filtered]"
"""What a hidden header value reads as (schemathesis's word for a value it hides)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request for an operation of the spec."""

    operation_id: str
    method: str
    path: str
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body: Any = None
    """The JSON body, or None to send no body."""

    def send(self, client: httpx.Client) -> Response:
        content = None if self.body is None else json.dumps(self.body).encode()
        sent = client.request(
            self.method,
            self.path,
            params=dict(self.query),
            headers=self._headers(),
            content=content,
        )
        return Response.of(sent)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.body is not None:
            headers.setdefault("content-type", "application/json")
        return headers

    def describe(self) -> str:
        """The request as a person reads it: method, path and query, and the JSON body."""
        target = self.path
        if self.query:
            target += "?" + "&".join(f"{key}={value}" for key, value in self.query.items())
        shown = "" if self.body is None else " " + json.dumps(self.body, ensure_ascii=False)
        return f"{self.method} {target}{shown}"

    def curl(self, base_url: str, *, hide: Collection[str] = ()) -> str:
        """A curl command sending this request to ``base_url``; ``hide``: headers to mask."""
        url = base_url + self.path
        if self.query:
            url += "?" + urllib.parse.urlencode(dict(self.query))
        hidden = {name.lower() for name in hide}
        words = ["curl", "-X", self.method]
        for name, value in self._headers().items():
            words += ["-H", f"{name}: {HIDDEN if name.lower() in hidden else value}"]
        if self.body is not None:
            words += ["-d", json.dumps(self.body, ensure_ascii=False)]
        return shlex.join([*words, url])


@dataclasses.dataclass(frozen=True, slots=True)
class Broken:
    """The one constraint an invalid request breaks, and where FastAPI reports it."""

    loc: tuple[str | int, ...]
    """The ``loc`` a 422 must name, e.g. ``("body", "width")``."""
    keyword: str
    """The JSON Schema keyword broken (``multipleOf``, ``required``, ``type`` ...)."""
    value: Any = None
    """The offending value (None when the value is left out)."""

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)

    def __str__(self) -> str:
        if self.keyword == "required":
            return f"{self.field} left out (required)"
        return f"{self.field} breaks {self.keyword} ({json.dumps(self.value, ensure_ascii=False)})"


@dataclasses.dataclass(frozen=True, slots=True)
class InvalidRequest:
    """A request that breaks exactly one constraint of its operation, labelled with it."""

    request: Request
    broken: Broken


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """What the server answered, kept as bytes and decoded on demand."""

    status: int
    url: str
    headers: Mapping[str, str]
    content: bytes

    @classmethod
    def of(cls, response: httpx.Response) -> Response:
        return cls(
            status=response.status_code,
            url=str(response.request.url),
            headers=dict(response.headers),
            content=response.content,
        )

    def json(self) -> Any:
        """The decoded body; ``ValueError`` when it is not JSON."""
        return json.loads(self.content)

    def field(self, name: str) -> Any:
        """A top-level field of a JSON object body; None when absent or not an object."""
        try:
            body = self.json()
        except ValueError:
            return None
        return body.get(name) if isinstance(body, dict) else None

    def describe(self, limit: int = 300) -> str:
        text = self.content.decode("utf-8", errors="replace")
        if len(text) > limit:
            text = text[:limit] + f"... ({len(self.content)} bytes)"
        return f"{self.status} {text}"


@dataclasses.dataclass(frozen=True, slots=True)
class Lifecycle:
    """Successive poll bodies of one task: Pending zero or more times, then a final status."""

    stages: tuple[Mapping[str, Any], ...]

    @property
    def final(self) -> Mapping[str, Any]:
        return self.stages[-1]

    def at_poll(self, poll: int) -> Mapping[str, Any]:
        """The body of poll number ``poll`` (1-based); polls after the last repeat it."""
        return self.stages[min(max(poll, 1), len(self.stages)) - 1]


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """One request and everything the kit did to follow it up."""

    request: Request
    response: Response
    broken: Broken | None = None
    """Set when the request was invalid on purpose."""
    requested_size: tuple[int, int] | None = None
    requested_format: str | None = None
    requested_video: bool = False
    requested_duration: float | None = None
    """Seconds of a video sample (None: not predictable from the request)."""
    requested_audio: bool | None = None
    followed: bool = False
    """Whether the kit followed ``polling_url`` (it stops once a task failed to finish)."""
    polls: tuple[Response, ...] = ()
    poll_error: str | None = None
    """Why following ``polling_url`` failed (connection error, bad URL), if it did."""
    sample: Response | None = None
    sample_error: str | None = None
