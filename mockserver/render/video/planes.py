"""Pictures as YUV 4:2:0 planes: converted once, then copied and painted in place.

A frame costs a few memory copies this way, rather than a Pillow drawing and a colour
conversion of the whole picture.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import av
from PIL import Image

PIXEL_FORMAT = "yuv420p"
_COLORSPACE = "ITU709"


@dataclasses.dataclass(frozen=True, slots=True)
class Planes:
    """A picture's Y, U and V planes as PyAV lays them out (rows ``stride`` bytes apart)."""

    width: int
    height: int
    data: tuple[bytes, ...]
    strides: tuple[int, ...]

    @classmethod
    def of(cls, frame: av.VideoFrame) -> Planes:
        return cls(
            frame.width,
            frame.height,
            tuple(bytes(plane) for plane in frame.planes),
            tuple(plane.line_size for plane in frame.planes),
        )

    @classmethod
    def of_image(cls, image: Image.Image) -> Planes:
        return cls.of(to_yuv(_frame_of(image)))

    def frame(self) -> av.VideoFrame:
        """A new frame holding these planes."""
        frame = av.VideoFrame(self.width, self.height, PIXEL_FORMAT)
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


def to_yuv(
    frame: av.VideoFrame, width: int | None = None, height: int | None = None
) -> av.VideoFrame:
    return frame.reformat(
        width=width,
        height=height,
        format=PIXEL_FORMAT,
        dst_colorspace=_COLORSPACE,
        interpolation="BILINEAR",
    )


@functools.lru_cache(maxsize=256)
def yuv_of(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour's Y, U and V, by the conversion the frames go through."""
    frame = to_yuv(_frame_of(Image.new("RGB", (2, 2), rgb)))
    y, u, v = (bytes(plane)[0] for plane in frame.planes)
    return y, u, v


def _frame_of(image: Image.Image) -> av.VideoFrame:
    frame: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    return frame


def fill(frame: av.VideoFrame, box: tuple[int, int, int, int], yuv: Sequence[int]) -> None:
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


def paste(frame: av.VideoFrame, tile: Planes, x: int, y: int) -> None:
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


def paste_columns(frame: av.VideoFrame, planes: Planes, width: int) -> None:
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
