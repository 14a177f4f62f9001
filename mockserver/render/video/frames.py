"""The clip's frames: a backdrop per frame (generated, or from the inputs), marks on top."""

from __future__ import annotations

import collections
import io
from collections.abc import Iterator, Sequence

import av
from PIL import Image, ImageDraw, ImageOps

from mockserver.render.video.overlays import Overlays
from mockserver.render.video.planes import Planes, paste_columns, to_yuv, yuv_of
from mockserver.render.video.reading import last_frame, open_input, timed_frames, video_stream_of
from mockserver.render.video.request import (
    MAX_FRAME_PIXELS,
    Budget,
    Inputs,
    SourceUse,
    UndecodableImage,
    UndecodableVideo,
    VideoRequest,
)

TINT_STRENGTH = 0.3
"""How far source frames are pulled toward the request's tint colour (0 none, 1 all)."""

_STILL_SHARE = 0.8  # a keyframe fills at most this share of the frame's width and height


def clip_frames(request: VideoRequest, inputs: Inputs, budget: Budget) -> Iterator[av.VideoFrame]:
    """Every frame of the clip in order: its backdrop, with the marks drawn on it."""
    overlays = Overlays(request)
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
    current = Planes.of_image(background)
    upcoming = collections.deque(stills)
    for index in range(request.frame_count):
        second = index / request.fps
        if upcoming and upcoming[0][0] <= second:
            while len(upcoming) > 1 and upcoming[1][0] <= second:
                upcoming.popleft()  # shown for less than a frame: never seen
            budget.check()
            current = Planes.of_image(_with_still(background, upcoming.popleft()[1]))
        yield current.frame()


def _continued(request: VideoRequest, source: bytes, budget: Budget) -> Iterator[av.VideoFrame]:
    """The source's last frame, tinted, wiped left to right into the hash's backdrop."""
    size = (request.width, request.height)
    last = Planes.of_image(_tinted(ImageOps.fit(last_frame(source), size), request))
    budget.check()
    new = Planes.of_image(_background(request))
    count = request.frame_count
    for index in range(count):
        frame = last.frame()
        paste_columns(frame, new, (request.width * index // max(count - 1, 1)) & ~1)
        yield frame


def _transformed(request: VideoRequest, source: bytes, budget: Budget) -> Iterator[av.VideoFrame]:
    """The source's frame at each output second, resized and tinted."""
    luts = _tint_luts(request)
    with open_input(source) as container:
        stream = video_stream_of(container)
        stream.thread_type = "AUTO"
        decoded = timed_frames(container, stream)
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
                planes = _tinted_planes(to_yuv(current, request.width, request.height), luts)
                planes_of = current
            yield planes.frame()


def _tint_luts(request: VideoRequest) -> tuple[list[int], ...]:
    target = yuv_of(request.tint)
    return tuple(
        [round(value * (1 - TINT_STRENGTH) + goal * TINT_STRENGTH) for value in range(256)]
        for goal in target
    )


def _tinted_planes(frame: av.VideoFrame, luts: Sequence[list[int]]) -> Planes:
    data = []
    for plane, lut in zip(frame.planes, luts, strict=True):
        rows = len(memoryview(plane)) // plane.line_size
        image = Image.frombuffer("L", (plane.line_size, rows), bytes(plane), "raw", "L", 0, 1)
        data.append(image.point(lut).tobytes())
    return Planes(
        frame.width, frame.height, tuple(data), tuple(plane.line_size for plane in frame.planes)
    )


def _tinted(image: Image.Image, request: VideoRequest) -> Image.Image:
    return Image.blend(image, Image.new("RGB", image.size, request.tint), TINT_STRENGTH)


def _background(request: VideoRequest) -> Image.Image:
    """A two-colour gradient and four discs, all chosen by the palette's hash."""
    palette = request.palette
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
