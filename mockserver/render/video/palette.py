"""The colours and motion a request's hash picks: backdrop, discs, square, tint."""

from __future__ import annotations

import dataclasses
import functools
import hashlib


@dataclasses.dataclass(frozen=True, slots=True)
class Palette:
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
def palette_for(caption: tuple[str, ...], seed: int, size_label: str) -> Palette:
    """The palette of a request with this caption, seed and size (nothing else counts)."""
    # surrogatepass: a prompt may hold lone surrogates (JSON allows "\ud800").
    text = "\0".join((*caption, str(seed), size_label))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    shapes = tuple(
        (x, y, radius % 96 + 16, (shade, 255 - shade, digest[7]))
        for x, y, radius, shade in (digest[8 + 4 * i : 12 + 4 * i] for i in range(4))
    )
    return Palette(
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
