"""Rendered videos kept, least recently used dropped; renders on the cache's own threads."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import threading
from collections.abc import Mapping
from typing import Protocol

from mockserver.render.video.encoding import render_video
from mockserver.render.video.request import Budget, RenderCancelled, RenderedVideo, VideoRequest


class Renderer(Protocol):
    def __call__(
        self,
        request: VideoRequest,
        sources: Mapping[str, bytes] | None = None,
        *,
        budget: Budget = ...,
    ) -> RenderedVideo: ...


class VideoCache:
    """Rendered videos, least recently used dropped past ``max_bytes``.

    Renders run on the cache's own threads, at most ``max_renders`` at once (more wait
    their turn), each given up with :class:`RenderTimeout` once it has run ``timeout``
    seconds. Concurrent requests for one video share one render, which finishes (and is
    kept) even if every requester went away. ``close()`` stops what is running.
    """

    def __init__(
        self,
        max_bytes: int,
        *,
        max_renders: int = 1,
        timeout: float | None = 120.0,
        render: Renderer = render_video,
    ) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._timeout = timeout
        self._render = render
        self._stop = threading.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_renders, thread_name_prefix="bfl-mock-video"
        )
        self._videos: collections.OrderedDict[VideoRequest, RenderedVideo] = (
            collections.OrderedDict()
        )
        self._pending: dict[VideoRequest, asyncio.Future[RenderedVideo]] = {}

    def __len__(self) -> int:
        return len(self._videos)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def cached(self, request: VideoRequest) -> RenderedVideo | None:
        """The video if it is kept, without rendering it (and without refreshing it)."""
        return self._videos.get(request)

    async def get(
        self, request: VideoRequest, sources: Mapping[str, bytes] | None = None
    ) -> RenderedVideo:
        """The video, rendered from ``request`` and ``sources`` unless kept or underway.

        ``sources`` is read only when a render starts, and let go when it ends.
        """
        cached = self._videos.get(request)
        if cached is not None:
            self._videos.move_to_end(request)
            return cached
        # shield: a requester that goes away must not cancel the render the others share.
        return await asyncio.shield(self._start(request, sources))

    def prepare(self, request: VideoRequest, sources: Mapping[str, bytes] | None = None) -> None:
        """Start rendering now, unless kept or underway, for a ``get`` later.

        A task's clip is started when the task is made, so its rendering overlaps the
        task's generation time instead of holding up the download.
        """
        if request not in self._videos:
            self._start(request, sources)

    def _start(
        self, request: VideoRequest, sources: Mapping[str, bytes] | None
    ) -> asyncio.Future[RenderedVideo]:
        if self._stop.is_set():
            raise RenderCancelled("the video cache is closed")
        pending = self._pending.get(request)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(
                self._executor, self._run, request, sources
            )
            self._pending[request] = pending
            pending.add_done_callback(functools.partial(self._settle, request))
        return pending

    def close(self) -> None:
        """Stop running renders at their next frame, and drop the queued ones."""
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, request: VideoRequest, sources: Mapping[str, bytes] | None) -> RenderedVideo:
        return self._render(request, sources, budget=Budget(self._timeout, self._stop))

    def _settle(self, request: VideoRequest, future: asyncio.Future[RenderedVideo]) -> None:
        del self._pending[request]
        if not future.cancelled() and future.exception() is None:
            self._keep(request, future.result())

    def _keep(self, request: VideoRequest, video: RenderedVideo) -> None:
        size = len(video.data)
        if size > self._max_bytes:
            return
        self._videos[request] = video
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._videos.popitem(last=False)
            self._bytes -= len(dropped.data)
