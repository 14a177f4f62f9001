"""Real, deterministic MP4 videos: H.264 and AAC through PyAV, off the event loop, cached.

A clip is a backdrop (a gradient and shapes chosen by a hash, the caller's keyframes
placed on it, or a source video's frames resized and tinted), marks that move on every
frame (a bouncing square, a playhead, a running timecode) and the caption. Frames are
built in YUV 4:2:0 directly: each backdrop is converted once, and a frame copies its
planes and writes the marks as rectangles, so a frame costs a few memory copies plus the
encoder's time rather than a Pillow drawing and a colour conversion of the whole picture.

The same request gives the same bytes (with the same PyAV build): the encoder's thread
count is fixed, so the machine's core count does not leak into the stream.

Input videos are read with bounds on what a hostile file can cost (packets demuxed,
frames decoded, pixels per frame), by a short list of demuxers, with every nested open
refused; whatever FFmpeg rejects comes out as :class:`UndecodableVideo`.
"""

from __future__ import annotations

import array
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import enum
import functools
import hashlib
import io
import math
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, Protocol

import av
import av.error
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont, ImageOps

from mockserver.render.images import RenderedImage

MEDIA_TYPE = "video/mp4"
FPS = 24
SAMPLE_RATE = 48_000
MARK = "bfl-mock"
TINT_STRENGTH = 0.3
"""How far source frames are pulled toward the request's tint colour (0 none, 1 all)."""

MAX_FRAME_PIXELS = 4352 * 4352
"""The largest frame read or written: the longest side the video endpoints deliver, squared."""
MAX_PACKETS = 20_000
"""Packets demuxed from one input before it is refused (20 s at 24 fps with AAC: ~1,400)."""
MAX_DECODED_FRAMES = 1_200
"""Frames decoded to reach one frame of an input (50 s at 24 fps: far past any GOP)."""

_PIXEL_FORMAT = "yuv420p"
_COLORSPACE = "ITU709"
_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: the 16-235 range swscale's yuv420p holds
_INPUT_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
"""Demuxers allowed to read an input: MP4/QuickTime and Matroska/WebM, none that opens URLs."""
_GOP_SECONDS = 2
_AUDIO_CODEC = "aac"
_AUDIO_BIT_RATE = 96_000
_AUDIO_LAYOUT = "stereo"
_AUDIO_FRAME = 1024  # samples per AAC frame
_STILL_SHARE = 0.8  # a keyframe fills at most this share of the frame's width and height
_CAPTION_SHARE = 0.45  # the caption panel's largest share of the frame's height
_PANEL = (16, 16, 20)
_INK = (245, 245, 245)
_PLAYHEAD = (235, 235, 235)
_TIMECODE_CHARS = "0123456789:./ "


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
    def tint(self) -> tuple[int, int, int]:
        """The colour source frames are pulled toward by :data:`TINT_STRENGTH`."""
        return _palette(self).tint


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


_UNBOUNDED = Budget()


# -- encoders ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class H264Encoder:
    name: str
    options: tuple[tuple[str, str], ...]
    bits_per_pixel: float | None = None
    """For an encoder with no constant-quality mode: its bit rate, per pixel and frame."""


H264_ENCODERS = (
    # ultrafast: no CABAC, no B-frames (Constrained Baseline, which plays everywhere)
    # and the cheapest search; zerolatency: sliced threads, so each frame leaves the
    # encoder at once; a fixed thread count keeps the bytes the same on every machine.
    H264Encoder(
        "libx264",
        (("preset", "ultrafast"), ("tune", "zerolatency"), ("crf", "28"), ("threads", "4")),
    ),
    # Cisco's encoder, in FFmpeg builds that leave out x264 (GPL); bit-rate driven.
    H264Encoder("libopenh264", (("threads", "4"),), bits_per_pixel=0.07),
)


def pick_h264_encoder(available: Collection[str]) -> H264Encoder:
    """The first of :data:`H264_ENCODERS` that ``available`` names."""
    for encoder in H264_ENCODERS:
        if encoder.name in available:
            return encoder
    names = ", ".join(encoder.name for encoder in H264_ENCODERS)
    raise NoH264Encoder(
        f"this PyAV build (FFmpeg {av.ffmpeg_version_info}) has none of the H.264 encoders"
        f" the mock can use ({names}); the PyAV wheels on PyPI ship libx264"
    )


@functools.lru_cache(maxsize=1)
def h264_encoder() -> H264Encoder:
    """The best H.264 encoder this PyAV build has (hardware ones left out: no device here)."""
    available = set()
    for encoder in H264_ENCODERS:
        try:
            if av.codec.Codec(encoder.name, "w").is_encoder:
                available.add(encoder.name)
        except (av.error.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
            continue
    return pick_h264_encoder(available)


# -- rendering --------------------------------------------------------------------------


def render_video(
    request: VideoRequest,
    sources: Mapping[str, bytes] | None = None,
    *,
    budget: Budget = _UNBOUNDED,
) -> RenderedVideo:
    """Encode the clip ``request`` describes; ``sources`` maps its digests to their bytes.

    Raises :class:`MissingSource` when ``sources`` lacks (or mislabels) a digest the
    request names, :class:`UndecodableVideo` / :class:`UndecodableImage` for inputs that
    cannot be read, :class:`RenderTimeout` / :class:`RenderCancelled` from ``budget``,
    :class:`NoH264Encoder` when PyAV cannot write H.264.
    """
    inputs = _resolve(request, sources or {})
    encoder = h264_encoder()
    output = io.BytesIO()
    # faststart moves the index before the media in a second pass that reopens the
    # output to read it back; the output lives in memory, so that pass reads a copy.
    with av.open(
        output,
        "w",
        format="mp4",
        options={"movflags": "faststart"},
        io_open=lambda url, flags, options: io.BytesIO(output.getvalue()),
    ) as container:
        video = container.add_stream(encoder.name, rate=request.fps, options=dict(encoder.options))
        assert isinstance(video, VideoStream)
        _configure(video, request, encoder)
        sound = _Sound(request, _audio_stream(container)) if request.audio else None
        for index, frame in enumerate(_frames(request, inputs, budget)):
            budget.check()
            frame.pts = index
            frame.time_base = Fraction(1, request.fps)
            container.mux(video.encode(frame))
            if sound is not None:
                container.mux(sound.encode_until((index + 1) * SAMPLE_RATE // request.fps))
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.flush())
    data = output.getvalue()
    return RenderedVideo(
        data=data, media_type=MEDIA_TYPE, md5=base64.b64encode(hashlib.md5(data).digest()).decode()
    )


def _configure(stream: VideoStream, request: VideoRequest, encoder: H264Encoder) -> None:
    stream.width = request.width
    stream.height = request.height
    stream.pix_fmt = _PIXEL_FORMAT
    context = stream.codec_context
    context.gop_size = request.fps * _GOP_SECONDS
    context.color_range = _LIMITED_RANGE
    context.color_primaries = context.color_trc = context.colorspace = _BT709
    if encoder.bits_per_pixel is not None:
        pixels = request.width * request.height * request.fps
        context.bit_rate = round(pixels * encoder.bits_per_pixel)


def _audio_stream(container: Any) -> AudioStream:
    stream = container.add_stream(_AUDIO_CODEC, rate=SAMPLE_RATE)
    assert isinstance(stream, AudioStream)
    stream.layout = _AUDIO_LAYOUT
    stream.bit_rate = _AUDIO_BIT_RATE
    return stream


@dataclasses.dataclass(frozen=True, slots=True)
class _Inputs:
    stills: tuple[tuple[float, bytes], ...]
    """(first second, image bytes), in showing order."""
    video: bytes | None


def _resolve(request: VideoRequest, sources: Mapping[str, bytes]) -> _Inputs:
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
    return _Inputs(
        stills=tuple((starts[i], sources[request.keyframes[i].source]) for i in order),
        video=sources[request.video.source] if request.video else None,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Palette:
    backdrop: tuple[tuple[int, int, int], tuple[int, int, int]]
    angle: float
    shapes: tuple[tuple[int, int, int, tuple[int, int, int]], ...]
    """(x, y, radius) in 1/256ths of the frame, and a colour."""
    square: tuple[int, int, int]
    tint: tuple[int, int, int]
    start: tuple[float, float]
    velocity: tuple[float, float]
    """The square's speed, in frame widths and heights per second."""


@functools.lru_cache(maxsize=256)
def _palette(request: VideoRequest) -> _Palette:
    # surrogatepass: a prompt may hold lone surrogates (JSON allows "\ud800").
    text = "\0".join((*request.caption, str(request.seed), request.size_label))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    shapes = tuple(
        (x, y, radius % 96 + 16, (shade, 255 - shade, digest[7]))
        for x, y, radius, shade in (digest[8 + 4 * i : 12 + 4 * i] for i in range(4))
    )
    return _Palette(
        backdrop=(_rgb(digest[0:3]), _rgb(digest[3:6])),
        angle=digest[6] * 360 / 256,
        shapes=shapes,
        square=_rgb(bytes(255 - value for value in digest[24:27])),
        tint=_rgb(digest[27:30]),
        start=(digest[30] / 256, digest[31] / 256),
        velocity=(0.15 + digest[30] / 1024, 0.2 + digest[31] / 1024),
    )


def _rgb(values: bytes) -> tuple[int, int, int]:
    return values[0], values[1], values[2]


# -- frames -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Planes:
    """A picture's Y, U and V planes as PyAV lays them out (rows ``stride`` bytes apart)."""

    width: int
    height: int
    data: tuple[bytes, ...]
    strides: tuple[int, ...]

    @classmethod
    def of(cls, frame: av.VideoFrame) -> _Planes:
        return cls(
            frame.width,
            frame.height,
            tuple(bytes(plane) for plane in frame.planes),
            tuple(plane.line_size for plane in frame.planes),
        )

    @classmethod
    def of_image(cls, image: Image.Image) -> _Planes:
        return cls.of(_to_yuv(_frame_of(image)))

    def frame(self) -> av.VideoFrame:
        """A new frame holding these planes."""
        frame = av.VideoFrame(self.width, self.height, _PIXEL_FORMAT)
        for index, (plane, data, stride) in enumerate(
            zip(frame.planes, self.data, self.strides, strict=True)
        ):
            if plane.line_size == stride:
                plane.update(data)
                continue
            # Another allocator's row padding: copy row by row.
            view, source = memoryview(plane), memoryview(data)
            run = min(stride, plane.line_size)
            for line in range(self.height >> (1 if index else 0)):
                start = line * plane.line_size
                view[start : start + run] = source[line * stride : line * stride + run]
        return frame


def _to_yuv(
    frame: av.VideoFrame, width: int | None = None, height: int | None = None
) -> av.VideoFrame:
    return frame.reformat(
        width=width,
        height=height,
        format=_PIXEL_FORMAT,
        dst_colorspace=_COLORSPACE,
        interpolation="BILINEAR",
    )


def _frames(request: VideoRequest, inputs: _Inputs, budget: Budget) -> Iterator[av.VideoFrame]:
    overlays = _Overlays(request)
    if inputs.video is None or request.video is None:
        backdrops = _generated(request, inputs.stills, budget)
    elif request.video.use is SourceUse.TRANSFORM:
        backdrops = _transformed(request, inputs.video, budget)
    else:
        backdrops = _continued(request, inputs.video, budget)
    for index, frame in enumerate(backdrops):
        overlays.draw(frame, index)
        yield frame


def _generated(
    request: VideoRequest, stills: Sequence[tuple[float, bytes]], budget: Budget
) -> Iterator[av.VideoFrame]:
    """The hash's backdrop, with each keyframe placed on it from its second on."""
    background = _background(request)
    current = _Planes.of_image(background)
    upcoming = collections.deque(stills)
    for index in range(request.frame_count):
        second = index / request.fps
        if upcoming and upcoming[0][0] <= second:
            while len(upcoming) > 1 and upcoming[1][0] <= second:
                upcoming.popleft()  # shown for less than a frame: never seen
            budget.check()
            current = _Planes.of_image(_with_still(background, upcoming.popleft()[1]))
        yield current.frame()


def _continued(request: VideoRequest, source: bytes, budget: Budget) -> Iterator[av.VideoFrame]:
    """The source's last frame, tinted, wiped left to right into the hash's backdrop."""
    size = (request.width, request.height)
    last = _Planes.of_image(_tinted(ImageOps.fit(last_frame(source), size), request))
    budget.check()
    new = _Planes.of_image(_background(request))
    count = request.frame_count
    for index in range(count):
        frame = last.frame()
        _paste_columns(frame, new, (request.width * index // max(count - 1, 1)) & ~1)
        yield frame


def _transformed(request: VideoRequest, source: bytes, budget: Budget) -> Iterator[av.VideoFrame]:
    """The source's frame at each output second, resized and tinted."""
    luts = _tint_luts(request)
    with _reading(source) as container:
        stream = _video_of(container)
        stream.thread_type = "AUTO"
        decoded = _timed(container, stream)
        origin, current = next(decoded, (0.0, None))
        if current is None:
            raise UndecodableVideo("no frame of the video decodes")
        start, upcoming = next(decoded, (0.0, None))
        planes, planes_of = None, None
        for index in range(request.frame_count):
            second = origin + index / request.fps
            # The source's frame showing at this second: the last one that started by it.
            while upcoming is not None and start <= second + 1e-6:
                current = upcoming
                start, upcoming = next(decoded, (0.0, None))
                budget.check()
            if planes is None or planes_of is not current:
                planes = _tinted_planes(_to_yuv(current, request.width, request.height), luts)
                planes_of = current
            yield planes.frame()


def _tint_luts(request: VideoRequest) -> tuple[list[int], ...]:
    target = _yuv_of(request.tint)
    return tuple(
        [round(value * (1 - TINT_STRENGTH) + goal * TINT_STRENGTH) for value in range(256)]
        for goal in target
    )


def _tinted_planes(frame: av.VideoFrame, luts: Sequence[list[int]]) -> _Planes:
    data = []
    for plane, lut in zip(frame.planes, luts, strict=True):
        rows = len(memoryview(plane)) // plane.line_size
        image = Image.frombuffer("L", (plane.line_size, rows), bytes(plane), "raw", "L", 0, 1)
        data.append(image.point(lut).tobytes())
    return _Planes(
        frame.width, frame.height, tuple(data), tuple(plane.line_size for plane in frame.planes)
    )


def _tinted(image: Image.Image, request: VideoRequest) -> Image.Image:
    return Image.blend(image, Image.new("RGB", image.size, request.tint), TINT_STRENGTH)


@functools.lru_cache(maxsize=256)
def _yuv_of(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour's Y, U and V, by the conversion the frames go through."""
    frame = _to_yuv(_frame_of(Image.new("RGB", (2, 2), rgb)))
    y, u, v = (bytes(plane)[0] for plane in frame.planes)
    return y, u, v


def _background(request: VideoRequest) -> Image.Image:
    """A two-colour gradient and four discs, all chosen by the palette's hash."""
    palette = _palette(request)
    size = (request.width, request.height)
    mask = Image.linear_gradient("L").rotate(palette.angle).resize(size)
    first, second = palette.backdrop
    image = Image.composite(Image.new("RGB", size, first), Image.new("RGB", size, second), mask)
    draw = ImageDraw.Draw(image)
    for x, y, radius, colour in palette.shapes:
        cx, cy = x * request.width // 256, y * request.height // 256
        r = radius * min(size) // 256
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return image


def _with_still(background: Image.Image, data: bytes) -> Image.Image:
    """The keyframe, scaled to fit the frame's middle, on the backdrop."""
    box = (round(background.width * _STILL_SHARE), round(background.height * _STILL_SHARE))
    still = ImageOps.contain(_open_image(data, box), box)
    image = background.copy()
    image.paste(still, ((image.width - still.width) // 2, (image.height - still.height) // 2))
    return image


def _open_image(data: bytes, box: tuple[int, int]) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_FRAME_PIXELS:
            raise UndecodableImage(f"a {image.width}x{image.height} keyframe is too large")
        image.draft("RGB", box)  # JPEG decodes straight at a fraction of its size
        return image.convert("RGB")
    except UndecodableImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise UndecodableImage(f"a keyframe is not an image Pillow reads: {error}") from error


# -- marks drawn on every frame ---------------------------------------------------------


def _even(value: float) -> int:
    return int(value) & ~1


def _fill(frame: av.VideoFrame, box: tuple[int, int, int, int], yuv: Sequence[int]) -> None:
    """Paint ``box`` (even x, y, width, height, inside the frame) in one colour."""
    x, y, width, height = box
    for index, (plane, value) in enumerate(zip(frame.planes, yuv, strict=True)):
        shift = 1 if index else 0
        stride = plane.line_size
        view = memoryview(plane)
        left, run = x >> shift, width >> shift
        row = bytes((value,)) * run
        for line in range(y >> shift, (y + height) >> shift):
            start = line * stride + left
            view[start : start + run] = row


def _paste(frame: av.VideoFrame, tile: _Planes, x: int, y: int) -> None:
    """Copy ``tile`` into the frame at even ``x``, ``y`` (the tile fits inside)."""
    for index, (plane, data, tile_stride) in enumerate(
        zip(frame.planes, tile.data, tile.strides, strict=True)
    ):
        shift = 1 if index else 0
        stride = plane.line_size
        view = memoryview(plane)
        source = memoryview(data)
        left, run = x >> shift, tile.width >> shift
        for line in range(tile.height >> shift):
            start = (line + (y >> shift)) * stride + left
            view[start : start + run] = source[line * tile_stride : line * tile_stride + run]


def _paste_columns(frame: av.VideoFrame, planes: _Planes, width: int) -> None:
    """Copy the first ``width`` (even) columns of ``planes`` over the frame's."""
    if width <= 0:
        return
    for index, (plane, data, source_stride) in enumerate(
        zip(frame.planes, planes.data, planes.strides, strict=True)
    ):
        shift = 1 if index else 0
        stride = plane.line_size
        view = memoryview(plane)
        source = memoryview(data)
        run = width >> shift
        for line in range(planes.height >> shift):
            view[line * stride : line * stride + run] = source[
                line * source_stride : line * source_stride + run
            ]


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _printable(text: str) -> str:
    # Lone surrogates cannot be drawn; control characters would draw as boxes.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(char if char.isprintable() else " " for char in text)


def _wrap(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; a word too long for a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width and len(word) > 1:
            cut = max(1, len(word) * width // max(1, round(font.getlength(word))))
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


class _Overlays:
    """The marks every frame carries: square, playhead, timecode, mark and caption."""

    def __init__(self, request: VideoRequest) -> None:
        self._request = request
        palette = _palette(request)
        width, height = request.width, request.height
        self._size = max(8, min(width, height) // 24)
        self._margin = _even(max(2, self._size // 2))
        self._font = _font(self._size)
        self._square_side = max(2, _even(min(width, height) / 6))
        self._square_yuv = _yuv_of(palette.square)
        self._playhead_width = max(2, _even(width / 160))
        self._playhead_yuv = _yuv_of(_PLAYHEAD)
        self._line_height = _even(self._size * 1.25 + 1)
        self._caption = self._text_tile(self._caption_lines(), width - 2 * self._margin)
        self._mark = self._text_tile([MARK], width // 3)
        # The timecode changes every frame: drawn from glyphs converted once, in cells
        # of one width, so a frame pastes a dozen small tiles instead of drawing text.
        self._cell = _even(max(self._font.getlength(char) for char in _TIMECODE_CHARS) + 2)
        self._glyphs = {char: self._glyph(char) for char in _TIMECODE_CHARS}
        longest = len(self._timecode(request.frame_count - 1))
        self._timecode_box = (
            self._margin,
            self._margin,
            _even(min(longest * self._cell + 2 * self._margin, width - 2 * self._margin)),
            _even(min(self._line_height + 2 * self._margin, height - 2 * self._margin)),
        )
        self._panel_yuv = _yuv_of(_PANEL)

    def draw(self, frame: av.VideoFrame, index: int) -> None:
        request = self._request
        width, height = request.width, request.height
        side = self._square_side
        second = index / request.fps
        palette = _palette(request)
        x = _bounce(palette.start[0] + palette.velocity[0] * second) * (width - side)
        y = _bounce(palette.start[1] + palette.velocity[1] * second) * (height - side)
        _fill(frame, (_even(x), _even(y), side, side), self._square_yuv)
        bar = self._playhead_width
        left = _even((width - bar) * index / max(request.frame_count - 1, 1))
        _fill(frame, (left, 0, bar, height), self._playhead_yuv)
        margin = self._margin
        if self._mark is not None:
            _paste(frame, self._mark, width - margin - self._mark.width, margin)
        self._draw_timecode(frame, index)
        if self._caption is not None:
            _paste(frame, self._caption, margin, height - margin - self._caption.height)

    def _caption_lines(self) -> list[str]:
        request = self._request
        duration = f"{request.duration:g}"
        lines = [*request.caption, f"{request.size_label} · {duration} s · {request.fps} fps"]
        return [_printable(line) for line in lines]

    def _draw_timecode(self, frame: av.VideoFrame, index: int) -> None:
        x, y, width, height = self._timecode_box
        _fill(frame, self._timecode_box, self._panel_yuv)
        left, top = x + self._margin, y + self._margin
        if top + self._line_height > y + height:
            return
        for char in self._timecode(index):
            if left + self._cell > x + width:
                return
            _paste(frame, self._glyphs[char], left, top)
            left += self._cell

    def _glyph(self, char: str) -> _Planes:
        image = Image.new("RGB", (self._cell, self._line_height), _PANEL)
        offset = (self._cell - self._font.getlength(char)) / 2
        ImageDraw.Draw(image).text((offset, 0), char, fill=_INK, font=self._font)
        return _Planes.of_image(image)

    def _timecode(self, index: int) -> str:
        second = index / self._request.fps
        minutes, rest = divmod(second, 60)
        return f"{int(minutes):02d}:{rest:05.2f}  {index + 1}/{self._request.frame_count}"

    def _text_tile(self, lines: Sequence[str], width: int) -> _Planes | None:
        """Lines on a dark panel at most ``width`` wide, as YUV planes (None if no room)."""
        request = self._request
        pad = self._margin
        room = width - 2 * pad
        if room < self._size:
            return None
        wrapped = [part for line in lines for part in _wrap(line, self._font, room)]
        line_height = self._line_height
        most = max(1, int((request.height * _CAPTION_SHARE - 2 * pad) // line_height))
        if len(wrapped) > most:
            # Keep the last line (the size line) and cut the text above it.
            wrapped = [*wrapped[: most - 1], wrapped[-1]] if most > 1 else wrapped[-1:]
        used = max(round(self._font.getlength(line)) for line in wrapped)
        tile_width = _even(min(width, used + 2 * pad, request.width - 2 * self._margin))
        tile_height = _even(
            min(len(wrapped) * line_height + 2 * pad, request.height - 2 * self._margin)
        )
        if tile_width < 2 or tile_height < 2:
            return None
        image = Image.new("RGB", (tile_width, tile_height), _PANEL)
        draw = ImageDraw.Draw(image)
        for number, line in enumerate(wrapped):
            draw.text((pad, pad + number * line_height), line, fill=_INK, font=self._font)
        return _Planes.of_image(image)


def _bounce(position: float) -> float:
    """A triangle wave in [0, 1]: position along a path that reflects off both ends."""
    phase = position % 2
    return phase if phase <= 1 else 2 - phase


# -- sound ------------------------------------------------------------------------------


class _Sound:
    """A two-chord loop chosen by the seed, encoded in step with the frames."""

    def __init__(self, request: VideoRequest, stream: AudioStream) -> None:
        self._stream = stream
        loop = _chords(request.seed)
        self._loop_samples = len(loop) // 4
        # One frame's worth repeated past the end, so any frame is one slice.
        self._loop = loop + loop[: _AUDIO_FRAME * 4]
        self.total = round(request.frame_count * SAMPLE_RATE / request.fps)
        self._done = 0

    def encode_until(self, sample: int) -> list[Packet[AudioStream]]:
        """Packets for the whole AAC frames before ``sample`` (all that is left at the end)."""
        until = min(self.total, sample)
        packets: list[Packet[AudioStream]] = []
        while self._done + _AUDIO_FRAME <= until or (
            until == self.total and self._done < self.total
        ):
            packets.extend(self._stream.encode(self._next()))
        return packets

    def flush(self) -> list[Packet[AudioStream]]:
        return [*self.encode_until(self.total), *self._stream.encode(None)]

    def _next(self) -> av.AudioFrame:
        count = min(_AUDIO_FRAME, self.total - self._done)
        start = self._done % self._loop_samples
        samples = self._loop[start * 4 : (start + count) * 4]
        frame = av.AudioFrame(format="fltp", layout=_AUDIO_LAYOUT, samples=count)
        for plane in frame.planes:
            plane.update(samples)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._done
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._done += count
        return frame


def _chords(seed: int) -> bytes:
    """Two seconds of float samples: a triad, then one a fourth or fifth up.

    Both pulse twice a second on whole-hertz pitches, so the two seconds loop without a click.
    """
    digest = hashlib.sha256(b"chord\0%d" % seed).digest()
    return _chord_samples(45 + digest[0] % 12, 4 if digest[1] % 2 else 3, 5 if digest[2] % 2 else 7)


@functools.lru_cache(maxsize=48)
def _chord_samples(root: int, third: int, step: int) -> bytes:
    """The samples of one of the 48 progressions seeds pick from, computed once each.

    A pure-Python loop over 96,000 samples costs about a third of a second: done per
    progression, not per seed, it is paid at most 48 times a process.
    """
    samples = array.array("f")
    for chord in (
        (root, root + third, root + 7),
        (root + step, root + step + third, root + step + 7),
    ):
        pitches = [round(440 * 2 ** ((note - 69) / 12)) for note in chord]
        for index in range(SAMPLE_RATE):
            t = index / SAMPLE_RATE
            envelope = 0.5 - 0.5 * math.cos(4 * math.pi * t)
            tone = sum(math.sin(2 * math.pi * pitch * t) for pitch in pitches)
            samples.append(0.1 * envelope * tone)
    return samples.tobytes()


# -- reading input videos ---------------------------------------------------------------

_FFMPEG_ERRORS = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)


def _refuse_nested(url: str, flags: int, options: dict[str, str]) -> Any:
    raise PermissionError(f"an input video may not open another resource ({url!r})")


@contextlib.contextmanager
def _reading(data: bytes) -> Iterator[InputContainer]:
    """An input container over ``data``; every FFmpeg failure inside is UndecodableVideo."""
    try:
        container = av.open(
            io.BytesIO(data),
            "r",
            container_options={"format_whitelist": _INPUT_FORMATS},
            metadata_errors="replace",
            io_open=_refuse_nested,
        )
    except _FFMPEG_ERRORS as error:
        raise UndecodableVideo(
            f"not a video in a container the mock reads (MP4/QuickTime, Matroska/WebM): {error}"
        ) from error
    try:
        with container:
            yield container
    except UndecodableVideo:
        raise
    except _FFMPEG_ERRORS as error:
        raise UndecodableVideo(f"the video does not decode: {error}") from error


def _video_of(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise UndecodableVideo("the file holds no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width < 1 or height < 1:
        raise UndecodableVideo("the video stream has no frame size")
    if width * height > MAX_FRAME_PIXELS:
        raise UndecodableVideo(f"{width}x{height} frames are past {MAX_FRAME_PIXELS} pixels")
    return stream


def _decoded(
    container: InputContainer, stream: VideoStream, max_packets: int = MAX_PACKETS
) -> Iterator[av.VideoFrame]:
    """The stream's frames in order, reading at most ``max_packets`` of its packets."""
    read = 0
    for packet in container.demux(stream):
        if packet.size:
            read += 1
            if read > max_packets:
                raise UndecodableVideo(f"the video has more than {max_packets} packets")
        yield from stream.decode(packet)


def _timed(container: InputContainer, stream: VideoStream) -> Iterator[tuple[float, av.VideoFrame]]:
    """The stream's frames with the second each starts at (by count where pts are missing)."""
    rate = float(stream.average_rate or stream.guessed_rate or FPS)
    for count, frame in enumerate(_decoded(container, stream)):
        if frame.pts is not None and stream.time_base is not None:
            yield float(frame.pts * stream.time_base), frame
        else:
            yield count / rate, frame


def _frame_of(image: Image.Image) -> av.VideoFrame:
    frame: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    return frame


def _image_of(frame: av.VideoFrame) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return image


def probe_video(data: bytes, *, max_packets: int = MAX_PACKETS) -> VideoInfo:
    """What ``data`` holds, from its packets (all demuxed) and its first frame (decoded).

    Raises :class:`UndecodableVideo` for anything that is not a complete, decodable video
    in MP4/QuickTime or Matroska/WebM, or that has more than ``max_packets`` packets.
    """
    with _reading(data) as container:
        stream = _video_of(container)
        count = 0
        first: int | None = None
        end: int | None = None
        decodes = False
        for packet in container.demux(stream):
            if not packet.size:
                continue
            count += 1
            if count > max_packets:
                raise UndecodableVideo(f"the video has more than {max_packets} packets")
            if packet.pts is not None:
                first = packet.pts if first is None else min(first, packet.pts)
                finish = packet.pts + (packet.duration or 0)
                end = finish if end is None else max(end, finish)
            if not decodes and count <= MAX_DECODED_FRAMES:
                decodes = bool(stream.decode(packet))
        if not decodes:
            decodes = bool(stream.decode(None))
        if count == 0 or not decodes:
            raise UndecodableVideo("no frame of the video decodes")
        if stream.frames and count < stream.frames:
            raise UndecodableVideo(f"the video is cut short: {count} of {stream.frames} frames")
        rate = stream.average_rate or stream.guessed_rate
        if first is not None and end is not None and end > first and stream.time_base:
            duration = float((end - first) * stream.time_base)
        else:
            duration = count / float(rate) if rate else 0.0
        fps = float(rate) if rate else (count / duration if duration else 0.0)
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=duration,
            fps=fps,
            frame_count=count,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
        )


def first_frame(data: bytes) -> Image.Image:
    """The video's first frame, as an RGB image."""
    with _reading(data) as container:
        frame = next(_decoded(container, _video_of(container)), None)
        if frame is None:
            raise UndecodableVideo("no frame of the video decodes")
        return _image_of(frame)


def last_frame(data: bytes, *, max_frames: int = MAX_DECODED_FRAMES) -> Image.Image:
    """The video's last frame, as an RGB image, decoded from the last keyframe on.

    Raises :class:`UndecodableVideo` when reaching it takes more than ``max_frames``.
    """
    with _reading(data) as container:
        stream = _video_of(container)
        with contextlib.suppress(*_FFMPEG_ERRORS):
            # Past every timestamp, backward: lands on the last keyframe.
            container.seek(2**62, stream=stream, backward=True)
        last = _last_of(_decoded(container, stream), max_frames)
    if last is None:
        # The seek went nowhere useful (an index-less file): read from the start.
        with _reading(data) as container:
            stream = _video_of(container)
            last = _last_of(_decoded(container, stream), max_frames)
    if last is None:
        raise UndecodableVideo("no frame of the video decodes")
    return last


def _last_of(frames: Iterator[av.VideoFrame], max_frames: int) -> Image.Image | None:
    last = None
    for count, frame in enumerate(frames, 1):
        if count > max_frames:
            raise UndecodableVideo(f"the last frame is more than {max_frames} frames away")
        last = frame
    return _image_of(last) if last is not None else None


# -- the cache ----------------------------------------------------------------------------


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
