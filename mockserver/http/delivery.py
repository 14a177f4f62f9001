"""The delivery side: signed sample and bundle URLs served as Azure serves them.

Also what a delivery URL holds (``delivered``), for the download and for this mock's own
URLs sent back as inputs (``own_media``).
"""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request
from starlette.responses import Response

from mockserver.domain import scenarios
from mockserver.domain.endpoints import Media
from mockserver.domain.generation import Generation
from mockserver.domain.scenarios import Target
from mockserver.http.faults import Layer, fault_for, fault_response, header_scenario, shaped
from mockserver.http.results import BUNDLE_MEDIA_TYPE
from mockserver.http.runtime import Runtime
from mockserver.render import responses
from mockserver.render.images import ImageRequest
from mockserver.render.sample_urls import DRAFT_CACHE_STEM, SAMPLE_STEM, Access, delivered_file
from mockserver.render.video import Keyframe, VideoRequest, source_key
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import SERVER_SCOPE, Task


async def sample(rt: Runtime, request: Request) -> Response:
    """Serve a signed delivery URL (a sample or a draft bundle), refusing as Azure does."""
    now = rt.clock.now()
    scope = request.scope
    verdict = rt.signer.verify_query(scope["path"], scope["query_string"].decode("latin-1"), now)
    if verdict.access is Access.BAD_SIGNATURE:
        return responses.bad_signature(now)
    task = await rt.tasks.by_blob(request.path_params["blob"])
    if task is None or task.status is not TaskStatus.READY:
        return responses.blob_not_found(now)
    layers: list[Layer] = [
        (header_scenario(request), None),
        (scenarios.parsed(task.record.directives), task.id),
        (scenarios.parsed(await rt.store.scenario()), SERVER_SCOPE),
    ]
    fault = await fault_for(rt, Target.IMAGE, layers)
    if fault.status is not None:
        return await shaped(rt, fault_response(rt, fault.status), fault)
    if verdict.access is Access.EXPIRED:
        response = responses.expired_sample(
            signed_at=task.finished_at or task.created_at,
            expires_at=verdict.expires_at or now,
            now=now,
        )
    else:
        rendered = await delivered(rt, task, request.path_params["filename"])
        if rendered is None:
            return responses.blob_not_found(now)
        response = responses.delivered(
            rendered, created_at=task.finished_at or now, head=request.method == "HEAD"
        )
    return await shaped(rt, response, fault)


async def delivered(rt: Runtime, task: Task, filename: str) -> responses.Delivered | None:
    """What a Ready task's delivery URL serves: its sample, or a draft's bundle."""
    generation = task.generation
    stem, _, extension = filename.rpartition(".")
    if stem == DRAFT_CACHE_STEM and generation.draft_fields is not None:
        bundle = rt.drafts.seal({**generation.draft_fields, "seed": task.seed})
        return responses.Delivered.of(bundle, BUNDLE_MEDIA_TYPE)
    if stem != SAMPLE_STEM or extension != generation.output_format:
        return None
    if generation.media is Media.VIDEO:
        video = await rt.videos.get(video_request(task), sources_of(generation))
        return responses.Delivered.of(video.data, video.media_type, video.md5)
    image = await rt.images.get(image_request(task))
    return responses.Delivered.of(image.data, image.media_type, image.md5)


async def own_media(rt: Runtime, url: str) -> bytes | None:
    """The bytes behind one of this mock's delivery URLs (any host), sent back as an input.

    None for any other URL, or one no longer valid.
    """
    parts = urllib.parse.urlsplit(url)
    named = delivered_file(parts.path)
    if named is None:
        return None
    verdict = rt.signer.verify_query(parts.path, parts.query, rt.clock.now())
    if verdict.access is not Access.GRANTED:
        return None
    task = await rt.tasks.by_blob(named[0])
    if task is None or task.status is not TaskStatus.READY:
        return None
    rendered = await delivered(rt, task, named[1])
    return None if rendered is None else rendered.data


def image_request(task: Task) -> ImageRequest:
    generation = task.generation
    return ImageRequest(
        prompt=generation.prompt,
        seed=task.seed,
        width=generation.width,
        height=generation.height,
        output_format=generation.output_format,
        endpoint=generation.endpoint,
        sources=generation.sources,
    )


def sources_of(generation: Generation) -> dict[str, bytes]:
    return {source_key(source): source for source in generation.sources}


def video_request(task: Task) -> VideoRequest:
    """The clip of a video task; its inputs (keyframes, a source's last frame) shown in it."""
    generation = task.generation
    return VideoRequest(
        width=generation.width,
        height=generation.height,
        duration=generation.duration or 0.0,
        seed=task.seed,
        audio=generation.audio,
        caption=(generation.prompt, f"seed {task.seed}", generation.endpoint),
        keyframes=tuple(Keyframe(source_key(source)) for source in generation.sources),
    )
