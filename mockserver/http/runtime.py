"""Everything a handler may use, built once by ``create_app``: the runtime of one app.

It also says where clients reach the mock (the origin of each request, and the polling
URL of a task), which every handler and the admin API need alike.
"""

from __future__ import annotations

import asyncio
import functools
import random
import urllib.parse
from collections.abc import Mapping

from starlette.requests import Request

from mockserver.clock import Clock
from mockserver.domain.drafts import DraftCodec
from mockserver.domain.endpoints import BehaviourTable
from mockserver.http.inputs import InputReader
from mockserver.http.results import Results
from mockserver.http.webhooks import WebhookDispatcher
from mockserver.render import responses
from mockserver.render.images import ImageCache
from mockserver.render.sample_urls import SampleSigner
from mockserver.render.video import VideoCache
from mockserver.settings import MockSettings
from mockserver.spec.openapi import Spec
from mockserver.state.poll_windows import PollWindows
from mockserver.state.protocol import Store
from mockserver.state.tasks import Tasks


class Runtime:
    """Everything a handler may use: built by ``create_app``, started on first use."""

    def __init__(
        self,
        *,
        spec: Spec,
        settings: MockSettings,
        clock: Clock,
        store: Store,
        tasks: Tasks,
        renderer: responses.Renderer,
        behaviours: BehaviourTable,
        images: ImageCache,
        videos: VideoCache,
        signer: SampleSigner,
        drafts: DraftCodec,
        inputs: InputReader,
        chance: random.Random,
        secrets: Mapping[str, bytes],
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.store = store
        self.tasks = tasks
        self.renderer = renderer
        self.behaviours = behaviours
        self.images = images
        self.videos = videos
        self.signer = signer
        self.drafts = drafts
        self.inputs = inputs
        self.chance = chance
        """Draws injected latencies (kept apart from ids and seeds)."""
        self.task_id_param = spec.task_id_param
        """Name of get_result's query parameter carrying the task id."""
        self.result_path = spec.result_operation.path
        self.results = Results(settings, behaviours, signer)
        """What a finished task's poll and its webhook carry."""
        self.poll_windows = PollWindows()
        """Each client's window of polls, reported in get_result's rate-limit headers
        (per process: README, "Several workers")."""
        self.webhooks = WebhookDispatcher(
            settings,
            tasks,
            renderer,
            self.results.sample_result,
        )
        self._secrets = secrets
        self._started = False
        self._starting = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Open the store and agree on the shared secrets, once (also without a lifespan)."""
        async with self._starting:
            if self._started:
                return
            await self.store.open()
            await self.tasks.start()
            self.signer.rekey(await self.store.secret(SIGNING, self._secrets[SIGNING]))
            self.drafts.rekey(await self.store.secret(DRAFTS, self._secrets[DRAFTS]))
            await self.store.set_scenario(self.settings.scenario)
            self._started = True

    async def stop(self) -> None:
        await self.webhooks.close()
        self.videos.close()
        await self.store.close()

    def origin(self, request: Request) -> str:
        """Where clients reach the mock: the public URL if set, else the request's own origin."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return request_origin(request)

    def polling_url(self, origin: str, task_id: str) -> str:
        return polling_url(origin, self.result_path, self.task_id_param, task_id)


def request_origin(request: Request) -> str:
    """``str(request.base_url)`` without its final slash, computed once per client origin."""
    scope = request.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":  # the first one, as Starlette takes it
            host = value
            break
    server = scope.get("server")
    return _origin(
        scope.get("scheme", "http"),
        host,
        None if server is None else tuple(server),
        scope.get("app_root_path", scope.get("root_path", "")),
    )


def polling_url(origin: str, result_path: str, task_id_param: str, task_id: str) -> str:
    """Where a task is polled: get_result's path with the id as its query parameter."""
    return _polling_prefix(origin, result_path, task_id_param) + urllib.parse.quote_plus(task_id)


SIGNING, DRAFTS = "signing", "drafts"
"""The shared secrets: sample URL signatures, draft bundles."""


# Clients reach the mock by one or a few names: both are computed once per name.


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int] | None, root_path: str) -> str:
    """``str(request.base_url)`` without its final slash, for a request with these parts."""
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "root_path": root_path,
        "path": "/",
        "query_string": b"",
        "headers": [] if host is None else [(b"host", host)],
    }
    return str(Request(scope).base_url).rstrip("/")


@functools.lru_cache(maxsize=256)
def _polling_prefix(origin: str, result_path: str, task_id_param: str) -> str:
    """The polling URL up to the task id (``urlencode`` quotes both sides with quote_plus)."""
    return f"{origin}{result_path}?{urllib.parse.quote_plus(task_id_param)}="
