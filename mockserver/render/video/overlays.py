"""The marks every frame carries: square, playhead, timecode, mark and caption."""

from __future__ import annotations

from collections.abc import Sequence

import av
from PIL import Image, ImageDraw

from mockserver.render.captions import (
    LINE_SPACING,
    MARK,
    SEPARATOR,
    SMALLEST_FONT,
    font,
    printable,
    wrap,
)
from mockserver.render.video.planes import Planes, fill, paste, yuv_of
from mockserver.render.video.request import VideoRequest

_CAPTION_SHARE = 0.45  # the caption panel's largest share of the frame's height
_PANEL = (16, 16, 20)
_INK = (245, 245, 245)
_PLAYHEAD = (235, 235, 235)
_TIMECODE_CHARS = "0123456789:./ "


def _even(value: float) -> int:
    return int(value) & ~1


class Overlays:
    """The marks every frame carries: square, playhead, timecode, mark and caption."""

    def __init__(self, request: VideoRequest) -> None:
        self._request = request
        palette = self._palette = request.palette
        width, height = request.width, request.height
        self._size = max(SMALLEST_FONT, min(width, height) // 24)
        self._margin = _even(max(2, self._size // 2))
        self._font = font(self._size)
        self._square_side = max(2, _even(min(width, height) / 6))
        self._square_yuv = yuv_of(palette.square)
        self._playhead_width = max(2, _even(width / 160))
        self._playhead_yuv = yuv_of(_PLAYHEAD)
        self._line_height = _even(self._size * LINE_SPACING + 1)
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
        self._panel_yuv = yuv_of(_PANEL)

    def draw(self, frame: av.VideoFrame, index: int) -> None:
        request = self._request
        width, height = request.width, request.height
        side = self._square_side
        second = index / request.fps
        palette = self._palette
        x = _bounce(palette.start[0] + palette.velocity[0] * second) * (width - side)
        y = _bounce(palette.start[1] + palette.velocity[1] * second) * (height - side)
        fill(frame, (_even(x), _even(y), side, side), self._square_yuv)
        bar = self._playhead_width
        left = _even((width - bar) * index / max(request.frame_count - 1, 1))
        fill(frame, (left, 0, bar, height), self._playhead_yuv)
        margin = self._margin
        if self._mark is not None:
            paste(frame, self._mark, width - margin - self._mark.width, margin)
        self._draw_timecode(frame, index)
        if self._caption is not None:
            paste(frame, self._caption, margin, height - margin - self._caption.height)

    def _caption_lines(self) -> list[str]:
        request = self._request
        duration = f"{request.duration:g}"
        size = SEPARATOR.join((request.size_label, f"{duration} s", f"{request.fps} fps"))
        lines = [*request.caption, size]
        return [printable(line) for line in lines]

    def _draw_timecode(self, frame: av.VideoFrame, index: int) -> None:
        x, y, width, height = self._timecode_box
        fill(frame, self._timecode_box, self._panel_yuv)
        left, top = x + self._margin, y + self._margin
        if top + self._line_height > y + height:
            return
        for char in self._timecode(index):
            if left + self._cell > x + width:
                return
            paste(frame, self._glyphs[char], left, top)
            left += self._cell

    def _glyph(self, char: str) -> Planes:
        image = Image.new("RGB", (self._cell, self._line_height), _PANEL)
        offset = (self._cell - self._font.getlength(char)) / 2
        ImageDraw.Draw(image).text((offset, 0), char, fill=_INK, font=self._font)
        return Planes.of_image(image)

    def _timecode(self, index: int) -> str:
        second = index / self._request.fps
        minutes, rest = divmod(second, 60)
        return f"{int(minutes):02d}:{rest:05.2f}  {index + 1}/{self._request.frame_count}"

    def _text_tile(self, lines: Sequence[str], width: int) -> Planes | None:
        """Lines on a dark panel at most ``width`` wide, as YUV planes (None if no room)."""
        request = self._request
        pad = self._margin
        room = width - 2 * pad
        if room < self._size:
            return None
        wrapped = [part for line in lines for part in wrap(line, self._font, room)]
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
        return Planes.of_image(image)


def _bounce(position: float) -> float:
    """A triangle wave in [0, 1]: position along a path that reflects off both ends."""
    phase = position % 2
    return phase if phase <= 1 else 2 - phase
