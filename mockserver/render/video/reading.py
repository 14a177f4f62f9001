"""Reading input videos with bounds on what a hostile file can cost.

The bounds are packets demuxed, frames decoded and pixels per frame; only a short list
of demuxers may read, and every nested open is refused. Whatever FFmpeg rejects comes
out as :class:`UndecodableVideo`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from mockserver.render.video.request import (
    FPS,
    MAX_DECODED_FRAMES,
    MAX_FRAME_PIXELS,
    MAX_PACKETS,
    UndecodableVideo,
    VideoInfo,
)

_INPUT_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
"""Demuxers allowed to read an input: MP4/QuickTime and Matroska/WebM, none that opens URLs."""

_FFMPEG_ERRORS = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)


def _refuse_nested(url: str, flags: int, options: dict[str, str]) -> Any:
    raise PermissionError(f"an input video may not open another resource ({url!r})")


@contextlib.contextmanager
def open_input(data: bytes) -> Iterator[InputContainer]:
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


def video_stream_of(container: InputContainer) -> VideoStream:
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


def timed_frames(
    container: InputContainer, stream: VideoStream
) -> Iterator[tuple[float, av.VideoFrame]]:
    """The stream's frames with the second each starts at (by count where pts are missing)."""
    rate = float(stream.average_rate or stream.guessed_rate or FPS)
    for count, frame in enumerate(_decoded(container, stream)):
        if frame.pts is not None and stream.time_base is not None:
            yield float(frame.pts * stream.time_base), frame
        else:
            yield count / rate, frame


def _image_of(frame: av.VideoFrame) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return image


def probe_video(data: bytes, *, max_packets: int = MAX_PACKETS) -> VideoInfo:
    """What ``data`` holds, from its packets (all demuxed) and its first frame (decoded).

    Raises :class:`UndecodableVideo` for anything that is not a complete, decodable video
    in MP4/QuickTime or Matroska/WebM, or that has more than ``max_packets`` packets.
    """
    with open_input(data) as container:
        stream = video_stream_of(container)
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
    with open_input(data) as container:
        frame = next(_decoded(container, video_stream_of(container)), None)
        if frame is None:
            raise UndecodableVideo("no frame of the video decodes")
        return _image_of(frame)


def last_frame(data: bytes, *, max_frames: int = MAX_DECODED_FRAMES) -> Image.Image:
    """The video's last frame, as an RGB image, decoded from the last keyframe on.

    Raises :class:`UndecodableVideo` when reaching it takes more than ``max_frames``.
    """
    with open_input(data) as container:
        stream = video_stream_of(container)
        with contextlib.suppress(*_FFMPEG_ERRORS):
            # Past every timestamp, backward: lands on the last keyframe.
            container.seek(2**62, stream=stream, backward=True)
        last = _last_of(_decoded(container, stream), max_frames)
    if last is None:
        # The seek went nowhere useful (an index-less file): read from the start.
        with open_input(data) as container:
            stream = video_stream_of(container)
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
