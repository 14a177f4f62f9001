"""Real media for the fields that carry it: small images and clips, as clients send them.

A schema says only "string" for an image; a request that must succeed needs a real one.
Each value is drawn in the shape its field was drawn in (one string, a list, a keyframe
pair), so the spec's shape is kept and only the content becomes real.
"""

from __future__ import annotations

import base64
import functools
import io
from typing import Any

from hypothesis import strategies as st
from PIL import Image

from mockserver.domain.media import InputKind
from mockserver.render.video import VideoRequest, render_video

IMAGE_SIDES = st.sampled_from((256, 320, 384, 512))
"""Sides of drawn images: every endpoint's smallest accepted input is 256 px or less."""
COLOURS = st.tuples(*(st.integers(0, 255),) * 3)
CLIP_SIZE, CLIP_SECONDS = (320, 192), 1.0
"""The drawn clip: sides over 160 px and a whole second, as the video tools require."""


@functools.lru_cache(maxsize=64)
def image_bytes(width: int, height: int, colour: tuple[int, int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def clip_bytes() -> bytes:
    """One short MP4, rendered once per process."""
    return render_video(VideoRequest(*CLIP_SIZE, CLIP_SECONDS, seed=0)).data


def _encoded(data: bytes, media_type: str, data_uri: bool) -> str:
    text = base64.b64encode(data).decode()
    return f"data:{media_type};base64,{text}" if data_uri else text


@st.composite
def image_text(draw: st.DrawFn) -> str:
    """A PNG or JPEG as raw base64 or a data URI."""
    fmt = draw(st.sampled_from(("PNG", "JPEG")))
    data = image_bytes(draw(IMAGE_SIDES), draw(IMAGE_SIDES), draw(COLOURS), fmt)
    return _encoded(data, f"image/{fmt.lower()}", draw(st.booleans()))


@st.composite
def clip_text(draw: st.DrawFn) -> str:
    return _encoded(clip_bytes(), "video/mp4", draw(st.booleans()))


def media_value(kind: InputKind, drawn: Any) -> st.SearchStrategy[Any]:
    """Real media of ``kind`` in the shape of the value schemathesis ``drawn``."""
    one = clip_text() if kind is InputKind.VIDEO else image_text()
    if isinstance(drawn, list):
        if not drawn:
            return st.just(drawn)
        if all(isinstance(item, list) for item in drawn):
            pairs = st.tuples(st.integers(0, 5), one).map(list)
            return st.lists(pairs, min_size=1, max_size=min(3, len(drawn)))
        if len(drawn) == 2 and isinstance(drawn[0], (int, float)):
            return st.tuples(st.integers(0, 5), one).map(list)
        return st.lists(one, min_size=1, max_size=min(3, max(1, len(drawn))))
    return one
