"""What a clip is: the request (a cache key), its inputs, what comes back, the errors."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping

from mockserver.render.images import RenderedImage
from mockserver.render.video.palette import Palette, palette_for

MEDIA_TYPE = "video/mp4"
FPS = 24

MAX_FRAME_PIXELS = 4352 * 4352
"""The largest frame read or written: the longest side the video endpoints deliver, squared."""
MAX_PACKETS = 20_000
"""Packets demuxed from one input before it is refused (20 s at 24 fps with AAC: ~1,400)."""
MAX_DECODED_FRAMES = 1_200
"""Frames decoded to reach one frame of an input (50 s at 24 fps: far past any GOP)."""


class VideoError(Exception):
    """Something about a video went wrong; the subclasses say what."""


class UndecodableVideo(VideoError, ValueError):
    """The bytes are not a video this mock can read (or reading them would cost too much)."""


class UndecodableImage(VideoError, ValueError):
    """A keyframe's bytes are not an image Pillow can read."""


class MissingSource(VideoError, LookupError):
    """A request names source bytes that were not handed to the render."""


class NoH264Encoder(VideoError, RuntimeError):
    """The installed PyAV's FFmpeg has no software H.264 encoder."""


class RenderTimeout(VideoError, TimeoutError):
    """A render ran past its time bound and was given up."""


class RenderCancelled(VideoError):
    """A render was stopped because its cache closed."""


class SourceUse(enum.Enum):
    """How an output derives from a source video."""

    TRANSFORM = "transform"
    """Each output frame is the source's frame at that second, resized, tinted and
    labelled (video edit, upscale); past the source's end its last frame holds."""
    CONTINUE = "continue"
    """The output starts on the source's last frame, tinted, and wipes to new material (v2v)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Keyframe:
    source: str
    """Digest (:func:`source_key`) of the PNG/JPEG bytes."""
    at: float | None = None
    """Second from which the keyframe shows; ``None`` spreads keyframes evenly."""


@dataclasses.dataclass(frozen=True, slots=True)
class SourceVideo:
    source: str
    """Digest (:func:`source_key`) of the video bytes."""
    use: SourceUse


@dataclasses.dataclass(frozen=True, slots=True)
class VideoRequest:
    """Everything a clip's pixels and samples depend on, small enough to be a cache key.

    Source material is named by digest; its bytes go to :func:`render_video` beside the
    request, so a cache keeps keys of a few hundred bytes and the inputs live only as
    long as whoever handed them over keeps them.
    """

    width: int
    height: int
    duration: float
    """Seconds; the clip holds ``round(duration * fps)`` frames."""
    seed: int
    audio: bool = False
    fps: int = FPS
    caption: tuple[str, ...] = ()
    """Lines drawn on every frame, wrapped to fit (prompt, ``seed 42``, endpoint...). The
    size line (``1280x704 · 5 s · 24 fps``) and the ``bfl-mock`` mark are always added."""
    keyframes: tuple[Keyframe, ...] = ()
    video: SourceVideo | None = None

    def __post_init__(self) -> None:
        # 4:2:0 chroma halves both sides, so H.264 in yuv420p needs even sizes.
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError(f"a video needs even sides of 16 px or more, not {self.size_label}")
        if self.width * self.height > MAX_FRAME_PIXELS:
            raise ValueError(f"a {self.size_label} frame is past {MAX_FRAME_PIXELS} pixels")
        if self.fps < 1 or self.frame_count < 1:
            raise ValueError(f"no frame in {self.duration} s at {self.fps} fps")

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps) if math.isfinite(self.duration) else 0

    @property
    def size_label(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def sources(self) -> tuple[str, ...]:
        """Digests of every input the render needs."""
        video = (self.video.source,) if self.video else ()
        return tuple(keyframe.source for keyframe in self.keyframes) + video

    @property
    def palette(self) -> Palette:
        """The colours and motion the caption, seed and size pick."""
        return palette_for(self.caption, self.seed, self.size_label)

    @property
    def tint(self) -> tuple[int, int, int]:
        """The colour source frames are pulled toward by :data:`.frames.TINT_STRENGTH`."""
        return self.palette.tint


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedVideo:
    data: bytes
    media_type: str
    md5: str
    """Base64 MD5 of the bytes, as Azure's Content-MD5 header carries it."""

    @property
    def etag(self) -> str:
        # The ETag is shaped as the image delivery's; borrowed so its shape is written once.
        return RenderedImage(self.data, self.media_type, self.md5).etag


@dataclasses.dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int
    height: int
    duration: float
    """Seconds spanned by the video stream's frames."""
    fps: float
    frame_count: int
    has_audio: bool
    codec: str
    """FFmpeg's name of the video codec: ``h264``, ``hevc``, ``vp9``..."""


def source_key(data: bytes) -> str:
    """The digest a request names input bytes by."""
    return hashlib.sha256(data).hexdigest()


class Budget:
    """How long a render may run, and a switch to stop it early; checked between frames."""

    def __init__(
        self,
        seconds: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._deadline = None if seconds is None else clock() + seconds
        self._stop = stop

    def check(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise RenderCancelled("the video cache closed while this video was rendering")
        if self._deadline is not None and self._clock() >= self._deadline:
            raise RenderTimeout(f"the video took more than {self._seconds} s to render")


@dataclasses.dataclass(frozen=True, slots=True)
class Inputs:
    """A request's source bytes, checked against their digests and put in showing order."""

    stills: tuple[tuple[float, bytes], ...]
    """(first second, image bytes), in showing order."""
    video: bytes | None


def resolve_sources(request: VideoRequest, sources: Mapping[str, bytes]) -> Inputs:
    for digest in request.sources:
        data = sources.get(digest)
        if data is None:
            raise MissingSource(f"no bytes were handed over for source {digest}")
        if source_key(data) != digest:
            raise MissingSource(f"the bytes handed over as {digest} have another digest")
    count = len(request.keyframes)
    starts = [
        keyframe.at if keyframe.at is not None else index * request.duration / count
        for index, keyframe in enumerate(request.keyframes)
    ]
    order = sorted(range(count), key=lambda index: starts[index])
    return Inputs(
        stills=tuple((starts[i], sources[request.keyframes[i].source]) for i in order),
        video=sources[request.video.source] if request.video else None,
    )
