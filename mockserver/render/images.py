"""Real, deterministic images: rendered with Pillow off the event loop, and cached.

The same request (prompt, seed, size, format, endpoint, inputs) always gives the same
bytes, so a client's snapshot tests stay stable; a different prompt or seed gives a
visibly different image. An edit shows the input it was made from, placed and tinted,
so a developer sees at a glance that the right picture was sent.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import functools
import hashlib
import io

from PIL import Image, ImageDraw

from mockserver.render import captions

FALLBACK_FORMAT = "JPEG"
_SAVE_OPTIONS = {
    "JPEG": {"quality": 85},
    "PNG": {"compress_level": 1},
    "WEBP": {"quality": 80, "method": 0},
}
_PANEL = (17, 24, 39)
_INK = (255, 255, 255)
_QUIET_INK = (203, 213, 225)
_MARK_INK = (245, 158, 11)


@dataclasses.dataclass(frozen=True, slots=True)
class ImageRequest:
    prompt: str
    seed: int
    width: int
    height: int
    output_format: str
    """The API's name for the format: ``jpeg``, ``png``, ``webp``."""
    endpoint: str = ""
    sources: tuple[bytes, ...] = ()
    """Small images of the inputs (JPEG), shown in the output."""

    @property
    def pillow_format(self) -> str:
        return formats_of(self.output_format)[0]

    @property
    def media_type(self) -> str:
        return formats_of(self.output_format)[1]


NON_IMAGE_MEDIA_TYPES = {"mp4": "video/mp4", "bin": "application/octet-stream"}
"""Media types of delivered files that are not images (videos, draft bundles)."""


def media_type_of(extension: str) -> str:
    """The media type a delivery URL of this extension serves (``rsct`` of its signature)."""
    return NON_IMAGE_MEDIA_TYPES.get(extension) or formats_of(extension)[1]


@functools.lru_cache(maxsize=64)
def formats_of(output_format: str) -> tuple[str, str]:
    """Pillow's name and the media type of an output format (asked on every Ready poll)."""
    pillow_format = Image.registered_extensions().get("." + output_format, FALLBACK_FORMAT)
    return pillow_format, Image.MIME.get(pillow_format, "application/octet-stream")


@dataclasses.dataclass(frozen=True, slots=True)
class RenderedImage:
    data: bytes
    media_type: str
    md5: str
    """Base64 MD5 of the bytes, as Azure's Content-MD5 header carries it."""

    @property
    def etag(self) -> str:
        return '"0x8DE' + base64.b16encode(base64.b64decode(self.md5))[:11].decode() + '"'


def render(request: ImageRequest) -> RenderedImage:
    """Draw the image: a gradient and shapes chosen by a hash, the inputs, and a caption."""
    # surrogatepass: a prompt may hold lone surrogates (JSON allows "\ud800"; pydantic too).
    digest = hashlib.sha256(
        f"{request.prompt}\0{request.seed}\0{request.width}x{request.height}\0"
        f"{request.endpoint}".encode("utf-8", "surrogatepass")
        + b"".join(request.sources)
    ).digest()
    size = (request.width, request.height)
    mask = Image.linear_gradient("L").rotate(digest[6] * 360 / 256).resize(size)
    image = Image.composite(
        Image.new("RGB", size, tuple(digest[0:3])), Image.new("RGB", size, tuple(digest[3:6])), mask
    )
    draw = ImageDraw.Draw(image)
    for index in range(4):
        x, y, radius, shade = digest[8 + index * 4 : 12 + index * 4]
        cx, cy = x * request.width // 256, y * request.height // 256
        r = (radius % 96 + 16) * min(size) // 256
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(shade, 255 - shade, digest[7]))
    top = _draw_caption(image, request)
    if request.sources:
        _place_sources(image, request.sources, tint=tuple(digest[0:3]), bottom=top)
    buffer = io.BytesIO()
    pillow_format = request.pillow_format
    image.save(buffer, format=pillow_format, **_SAVE_OPTIONS.get(pillow_format, {}))
    data = buffer.getvalue()
    return RenderedImage(
        data=data,
        media_type=request.media_type,
        md5=base64.b64encode(hashlib.md5(data).digest()).decode(),
    )


def caption_panel(width: int, height: int) -> tuple[int, int, int]:
    """The font size, margin and most prompt lines of an image's caption panel.

    The panel takes at most about half the image: a small image shows fewer lines,
    never smaller letters than ``captions.SMALLEST_FONT``.
    """
    size = captions.font_size(width, height)
    margin = max(2, size // 2)
    rows = (height // 2 - 2 * margin) // captions.line_height(size)
    return size, margin, max(1, rows - 1)


def _draw_caption(image: Image.Image, request: ImageRequest) -> int:
    """Draw the caption panel along the bottom; where its top is."""
    width, height = image.size
    size, margin, prompt_lines = caption_panel(width, height)
    face = captions.font(size)
    small_size = max(captions.SMALLEST_FONT, size * 3 // 4)
    small = captions.font(small_size)
    room = width - 2 * margin
    # The mark sits at the end of the details' lines, or on its own line on a narrow image.
    mark_room = room - small.getlength(captions.MARK) - margin
    mark_inline = mark_room >= room / 2
    text = captions.caption(
        prompt=request.prompt,
        seed=request.seed,
        width=width,
        height=height,
        output_format=request.output_format,
        endpoint=request.endpoint,
        face=face,
        room=room,
        max_prompt_lines=prompt_lines,
        detail_face=small,
        detail_room=mark_room if mark_inline else room,
    )
    details = [*text.details] if mark_inline else [*text.details, ""]
    step, small_step = captions.line_height(size), captions.line_height(small_size)
    top = max(0, height - 2 * margin - step * len(text.prompt) - small_step * len(details))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, top, width, height), fill=_PANEL)
    y = top + margin
    for line in text.prompt:
        draw.text((margin, y), line, fill=_INK, font=face)
        y += step
    for line in details:
        draw.text((margin, y), line, fill=_QUIET_INK, font=small)
        y += small_step
    draw.text((width - margin, height - margin), text.mark, fill=_MARK_INK, font=small, anchor="rd")
    return top


def _place_sources(
    image: Image.Image, sources: tuple[bytes, ...], tint: tuple[int, ...], bottom: int
) -> None:
    """The first input fills the frame above the caption (tinted: the edit).

    The other inputs sit in a strip along the caption's top.
    """
    width = image.size[0]
    if bottom < 1:
        return
    first = _open(sources[0]).resize((width, bottom))
    image.paste(Image.blend(first, Image.new("RGB", (width, bottom), tint), 0.25), (0, 0))
    side = max(1, min(width, bottom) // 5)
    margin = max(2, side // 8)
    for index, source in enumerate(sources[1:5]):
        thumb = _open(source)
        thumb.thumbnail((side, side))
        image.paste(thumb, (margin + index * (side + margin), max(0, bottom - side - margin)))


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        converted: Image.Image = source.convert("RGB")
    return converted


class ImageCache:
    """Rendered images, least recently used dropped past ``max_bytes``.

    Rendering runs in a worker thread, and concurrent requests for one image share
    a single render.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._images: collections.OrderedDict[ImageRequest, RenderedImage] = (
            collections.OrderedDict()
        )
        self._pending: dict[ImageRequest, asyncio.Future[RenderedImage]] = {}

    def __len__(self) -> int:
        return len(self._images)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, request: ImageRequest) -> RenderedImage:
        cached = self._images.get(request)
        if cached is not None:
            self._images.move_to_end(request)
            return cached
        pending = self._pending.get(request)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(None, render, request)
            self._pending[request] = pending
            try:
                image = await pending
            finally:
                del self._pending[request]
            self._keep(request, image)
            return image
        return await asyncio.shield(pending)

    def _keep(self, request: ImageRequest, image: RenderedImage) -> None:
        size = len(image.data)
        if size > self._max_bytes:
            return
        self._images[request] = image
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= len(dropped.data)
