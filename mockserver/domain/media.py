"""Media a request carries: images, videos and draft bundles, as base64, data URI or URL.

Every media field of a body (the endpoint table names them) is read into a
``MediaInput``: its size, length and a small thumbnail, or the problem that makes it
unusable. Reading decodes the bytes with Pillow (images) or the injected video probe, so
it runs in a worker thread; URLs are fetched by an injected fetcher (loopback only: the
mock never calls the internet) or stood in for (``url_inputs`` setting).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError

INVALID_INPUT = "Invalid or corrupted image input"
"""``details.error`` of a task whose image or video input cannot be used [live LB]."""
THUMBNAIL_SIDE = 256
"""Inputs are kept only as thumbnails this big, for outputs that show what was sent."""
MEGAPIXEL = 2**20
"""BFL's megapixel: 1,048,576 pixels (endpoints.md 0)."""
_DATA_URI = re.compile(r"data:(?P<type>[^;,]*)(?P<params>(;[^;,]*)*?),(?P<data>.*)", re.DOTALL)
_URL_SCHEMES = ("http://", "https://")


class InputKind(enum.Enum):
    """What a media field of a body carries."""

    IMAGE = "image"
    VIDEO = "video"
    KEYFRAMES = "keyframes"
    """Images, or ``[seconds, image]`` pairs (flux-3-video i2v)."""
    BUNDLE = "bundle"
    """A draft-cache bundle of an earlier draft (flux-3-video draft_enhance)."""


class Encoding(enum.Enum):
    BASE64 = "base64"
    DATA_URI = "data_uri"
    URL = "url"


@dataclasses.dataclass(frozen=True, slots=True)
class MediaReference:
    """One media value found in a body, not yet read."""

    field: str
    index: int
    kind: InputKind
    text: str
    at: float | None = None
    """The second a timed keyframe stands at."""

    @property
    def encoding(self) -> Encoding:
        if self.text.startswith(_URL_SCHEMES):
            return Encoding.URL
        if self.text.startswith("data:"):
            return Encoding.DATA_URI
        return Encoding.BASE64


@dataclasses.dataclass(frozen=True, slots=True)
class VideoFacts:
    width: int
    height: int
    duration: float
    has_audio: bool
    frames: int


@dataclasses.dataclass(frozen=True, slots=True)
class MediaInput:
    """What the mock learnt of one media value."""

    field: str
    index: int
    kind: InputKind
    encoding: Encoding
    width: int = 0
    height: int = 0
    duration: float | None = None
    has_audio: bool = False
    at: float | None = None
    thumbnail: bytes | None = None
    """A small JPEG of the image (or of a video's last frame), for derived outputs."""
    payload: bytes | None = None
    """The raw bytes of a bundle (small), for the domain to open."""
    stand_in: bool = False
    """A URL the mock did not fetch: the sizes are the stand-in's (``url_inputs``)."""
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def megapixels(self) -> float:
        return self.area / MEGAPIXEL


@dataclasses.dataclass(frozen=True, slots=True)
class Inputs:
    """Every media value of a request, in body order."""

    items: tuple[MediaInput, ...] = ()

    def of(self, field: str) -> tuple[MediaInput, ...]:
        return tuple(item for item in self.items if item.field == field)

    def first(self, field: str) -> MediaInput | None:
        """The first usable value of ``field`` (the one sizes follow)."""
        return next((item for item in self.of(field) if item.usable), None)

    @property
    def problem(self) -> str | None:
        return next((item.problem for item in self.items if item.problem), None)

    @property
    def images(self) -> tuple[MediaInput, ...]:
        return tuple(
            item for item in self.items if item.usable and item.kind is not InputKind.BUNDLE
        )


NO_INPUTS = Inputs()


def references(
    body: Mapping[str, Any], kind_of: Callable[[str], InputKind | None]
) -> tuple[MediaReference, ...]:
    """The media values of a validated body, by the table's field kinds."""
    found: list[MediaReference] = []
    for field, value in body.items():
        kind = kind_of(field)
        if kind is None or value is None:
            continue
        found.extend(_split(field, kind, value))
    return tuple(found)


def _split(field: str, kind: InputKind, value: Any) -> list[MediaReference]:
    if isinstance(value, str):
        return [MediaReference(field, 0, kind, value)]
    if not isinstance(value, (list, tuple)):
        return []
    if kind is InputKind.KEYFRAMES and _is_pair(value):
        return [MediaReference(field, 0, kind, value[1], at=float(value[0]))]
    found = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            found.append(MediaReference(field, index, kind, item))
        elif _is_pair(item):
            found.append(MediaReference(field, index, kind, item[1], at=float(item[0])))
    return found


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and isinstance(value[0], (int, float))
        and isinstance(value[1], str)
    )


def decode_text(text: str) -> bytes | None:
    """The bytes of raw base64 or a data URI; None when it is neither."""
    if text.startswith("data:"):
        match = _DATA_URI.fullmatch(text)
        if match is None:
            return None
        text = match.group("data")
        if ";base64" not in match.group("params"):
            return text.encode("utf-8", "surrogatepass")
    try:
        # Whitespace and line breaks (base64.encodebytes writes them) are skipped.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


VideoProbe = Callable[[bytes], tuple[VideoFacts, Image.Image | None]]
"""Reads a video's facts and its last frame; raises ``ValueError`` for what is not a video."""


def read(reference: MediaReference, data: bytes | None, *, probe_video: VideoProbe) -> MediaInput:
    """What ``data`` (the decoded or fetched bytes of ``reference``) holds. Runs in a thread."""
    base = MediaInput(
        reference.field, reference.index, reference.kind, reference.encoding, at=reference.at
    )
    if not data:
        return dataclasses.replace(base, problem=INVALID_INPUT)
    if reference.kind is InputKind.BUNDLE:
        return dataclasses.replace(base, payload=data)
    if reference.kind is InputKind.VIDEO:
        try:
            facts, frame = probe_video(data)
        except ValueError:
            return dataclasses.replace(base, problem=INVALID_INPUT)
        return dataclasses.replace(
            base,
            width=facts.width,
            height=facts.height,
            duration=facts.duration,
            has_audio=facts.has_audio,
            thumbnail=None if frame is None else thumbnail(frame),
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return dataclasses.replace(
                base, width=image.width, height=image.height, thumbnail=thumbnail(image)
            )
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return dataclasses.replace(base, problem=INVALID_INPUT)


def stand_in(reference: MediaReference, size: tuple[int, int], duration: float) -> MediaInput:
    """A URL the mock will not fetch, taken as a plain picture (or clip) of ``size``."""
    is_video = reference.kind is InputKind.VIDEO
    return MediaInput(
        reference.field,
        reference.index,
        reference.kind,
        Encoding.URL,
        width=size[0],
        height=size[1],
        duration=duration if is_video else None,
        at=reference.at,
        stand_in=True,
    )


def unusable(reference: MediaReference) -> MediaInput:
    return MediaInput(
        reference.field,
        reference.index,
        reference.kind,
        reference.encoding,
        at=reference.at,
        problem=INVALID_INPUT,
    )


def thumbnail(image: Image.Image) -> bytes:
    """A small JPEG of ``image``, for outputs that show their input."""
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def total_megapixels(items: Sequence[MediaInput]) -> float:
    return sum(item.megapixels for item in items)


def ceil_megapixels(area: int) -> int:
    """Megapixels rounded up, at least one: how FLUX.2 bills each image (endpoints.md 3)."""
    return max(1, math.ceil(area / MEGAPIXEL))
