"""Reading a request's media: decoded in a worker thread, URLs resolved without the internet.

A media URL is, in this order: one of the mock's own delivery URLs (a sample or draft
bundle it handed out: served from memory, in any process that knows the task), a
loopback URL (fetched, bounded in time and size), or anything else (never fetched: a
stand-in or a failure, by the ``url_inputs`` setting).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from PIL import Image

from mockserver.domain import media
from mockserver.domain.endpoints import EndpointBehaviour
from mockserver.domain.media import Encoding, Inputs, MediaInput, MediaReference, VideoFacts
from mockserver.http.addresses import connect_to, is_loopback
from mockserver.render import video
from mockserver.settings import MockSettings, UrlInputs

MAX_FETCHED_BYTES = 64 * 1024 * 1024
"""Larger than any input BFL takes (50 MB videos): a fetch beyond it is cut off."""
STAND_IN_IMAGE = (1024, 1024)
STAND_IN_VIDEO = (1280, 704)
STAND_IN_SECONDS = 5.0

OwnMedia = Callable[[str], Awaitable[bytes | None]]
"""The bytes behind one of the mock's own delivery URLs, or None for any other URL."""


class InputReader:
    def __init__(
        self,
        settings: MockSettings,
        own_media: OwnMedia,
        probe_video: media.VideoProbe,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._own_media = own_media
        self._probe_video = probe_video
        self._transport = transport

    async def read(self, body: Mapping[str, Any], behaviour: EndpointBehaviour) -> Inputs:
        references = media.references(body, behaviour.input_kind)
        if not references:
            return media.NO_INPUTS
        return Inputs(tuple(await asyncio.gather(*(self._read(ref) for ref in references))))

    async def _read(self, reference: MediaReference) -> MediaInput:
        if reference.encoding is not Encoding.URL:
            return await asyncio.to_thread(self._decode, reference)
        data = await self._own_media(reference.text)
        if data is None and is_loopback(reference.text):
            data = await self._fetch(reference.text)
        elif data is None:
            if self._settings.url_inputs is UrlInputs.ERROR:
                return media.unusable(reference)
            video = reference.kind is media.InputKind.VIDEO
            return media.stand_in(
                reference, STAND_IN_VIDEO if video else STAND_IN_IMAGE, STAND_IN_SECONDS
            )
        return await asyncio.to_thread(media.read, reference, data, probe_video=self._probe_video)

    def _decode(self, reference: MediaReference) -> MediaInput:
        data = media.decode_text(reference.text)
        return media.read(reference, data, probe_video=self._probe_video)

    async def _fetch(self, url: str) -> bytes | None:
        """A loopback URL's body; None when it does not answer 200 in time, or is too big."""
        timeout = self._settings.fetch_timeout_seconds
        try:
            async with httpx.AsyncClient(
                timeout=timeout, transport=self._transport, follow_redirects=False
            ) as client:
                target = connect_to(url)  # a *.localhost name is not looked up
                async with client.stream(
                    "GET", target.url, headers=target.headers, extensions=target.extensions
                ) as answer:
                    if answer.status_code != 200:
                        return None
                    chunks, size = [], 0
                    async for chunk in answer.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_FETCHED_BYTES:
                            return None
                        chunks.append(chunk)
                    return b"".join(chunks)
        except httpx.HTTPError:
            return None


def probe_video(data: bytes) -> tuple[VideoFacts, Image.Image | None]:
    """A video's facts and last frame (raises ``UndecodableVideo``, a ``ValueError``)."""
    info = video.probe_video(data)
    try:
        frame: Image.Image | None = video.last_frame(data)
    except video.UndecodableVideo:
        frame = None
    facts = VideoFacts(info.width, info.height, info.duration, info.has_audio, info.frame_count)
    return facts, frame
