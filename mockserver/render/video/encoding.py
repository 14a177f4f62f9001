"""Encoding a clip to MP4: the H.264 encoder chosen, frames and sound muxed."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import io
from collections.abc import Collection, Mapping
from fractions import Fraction

import av
import av.error
from av.video.stream import VideoStream

from mockserver.render.video.frames import clip_frames
from mockserver.render.video.planes import PIXEL_FORMAT
from mockserver.render.video.request import (
    MEDIA_TYPE,
    Budget,
    NoH264Encoder,
    RenderedVideo,
    VideoRequest,
    resolve_sources,
)
from mockserver.render.video.sound import SAMPLE_RATE, Sound, audio_stream

_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: the 16-235 range swscale's yuv420p holds
_GOP_SECONDS = 2

_UNBOUNDED = Budget()


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
    inputs = resolve_sources(request, sources or {})
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
        sound = Sound(request, audio_stream(container)) if request.audio else None
        for index, frame in enumerate(clip_frames(request, inputs, budget)):
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
    stream.pix_fmt = PIXEL_FORMAT
    context = stream.codec_context
    context.gop_size = request.fps * _GOP_SECONDS
    context.color_range = _LIMITED_RANGE
    context.color_primaries = context.color_trc = context.colorspace = _BT709
    if encoder.bits_per_pixel is not None:
        pixels = request.width * request.height * request.fps
        context.bit_rate = round(pixels * encoder.bits_per_pixel)
