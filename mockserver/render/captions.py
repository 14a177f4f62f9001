"""The caption a generated image carries: what was asked for, legible at any size.

The prompt, wrapped at word boundaries, then the seed, the size, the format and the
endpoint, and the ``bfl-mock`` mark, in Pillow's own scalable font (no font files).
"""

from __future__ import annotations

import dataclasses
import functools

from PIL import ImageFont

MARK = "bfl-mock"
SEPARATOR = " · "
ELLIPSIS = "…"
SMALLEST_FONT = 8
LARGEST_FONT = 64
LINE_SPACING = 1.25
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@functools.lru_cache(maxsize=32)
def font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def font_size(width: int, height: int) -> int:
    """A size readable on the image at its own scale: a twentieth of its shorter side."""
    return max(SMALLEST_FONT, min(LARGEST_FONT, min(width, height) // 20))


def printable(text: str) -> str:
    """``text`` as it can be drawn: lone surrogates replaced, control characters blanked."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(char if char.isprintable() else " " for char in text)


def wrap(text: str, face: Font, width: float) -> list[str]:
    """Greedy word wrap to ``width`` pixels; only a word longer than a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if face.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while face.getlength(word) > width and len(word) > 1:
            cut = max(1, int(len(word) * width // max(1, round(face.getlength(word)))))
            while cut > 1 and face.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


@dataclasses.dataclass(frozen=True, slots=True)
class Caption:
    prompt: tuple[str, ...]
    """The prompt's lines; when it is too long for the image, the last ends with an ellipsis."""
    details: tuple[str, ...]
    """Seed, size, format and endpoint, wrapped between their parts."""

    @property
    def mark(self) -> str:
        return MARK


def caption(
    *,
    prompt: str,
    seed: int,
    width: int,
    height: int,
    output_format: str,
    endpoint: str,
    face: Font,
    room: float,
    max_prompt_lines: int,
    detail_face: Font,
    detail_room: float,
) -> Caption:
    """The lines to draw.

    The prompt's in ``face``, ``room`` pixels wide, at most ``max_prompt_lines`` (1 or
    more) of them; the details' in ``detail_face``, ``detail_room`` pixels wide.
    """
    lines = wrap(printable(prompt), face, room) if prompt.strip() else ["(no prompt)"]
    if len(lines) > max_prompt_lines:
        lines = lines[:max_prompt_lines]
        lines[-1] = _ending(lines[-1], face, room)
    # "x", not "×": Pillow's built-in font has no multiplication sign.
    parts = [f"seed {seed}", f"{width} x {height}", output_format]
    if endpoint:
        parts.append(endpoint)
    details: list[str] = []
    for part in parts:
        candidate = details[-1] + SEPARATOR + part if details else part
        if details and detail_face.getlength(candidate) <= detail_room:
            details[-1] = candidate
        else:
            details.append(part)
    return Caption(tuple(lines), tuple(details))


def _ending(line: str, face: Font, room: float) -> str:
    """``line`` with an ellipsis, dropping whole words until it fits."""
    words = line.split(" ")
    while len(words) > 1 and face.getlength(" ".join(words) + ELLIPSIS) > room:
        words.pop()
    return " ".join(words) + ELLIPSIS


def line_height(size: int) -> int:
    return max(size + 1, round(size * LINE_SPACING))
