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
import threading

from PIL import Image, ImageDraw, ImageFont

FALLBACK_FORMAT = "JPEG"
_SAVE_OPTIONS = {
    "JPEG": {"quality": 85},
    "PNG": {"compress_level": 1},
    "WEBP": {"quality": 80, "method": 0},
}
_LABEL_MARGIN = 16
_LABEL_CHARS = 80
MARK = "bfl-mock"


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
    if request.sources:
        _place_sources(image, request.sources, tint=tuple(digest[0:3]))
    label = request.prompt[:_LABEL_CHARS] or f"seed {request.seed}"
    draw.text((_LABEL_MARGIN, _LABEL_MARGIN), label, fill=(255, 255, 255), font=_font())
    buffer = io.BytesIO()
    pillow_format = request.pillow_format
    image.save(buffer, format=pillow_format, **_SAVE_OPTIONS.get(pillow_format, {}))
    data = buffer.getvalue()
    return RenderedImage(
        data=data,
        media_type=request.media_type,
        md5=base64.b64encode(hashlib.md5(data).digest()).decode(),
    )


def _place_sources(image: Image.Image, sources: tuple[bytes, ...], tint: tuple[int, ...]) -> None:
    """The first input fills the frame (tinted: the edit), the others sit in a strip below."""
    width, height = image.size
    first = _open(sources[0]).resize((width, height))
    tinted = Image.blend(first, Image.new("RGB", (width, height), tint), 0.25)
    image.paste(tinted, (0, 0))
    side = max(1, min(width, height) // 5)
    for index, source in enumerate(sources[1:5]):
        thumb = _open(source)
        thumb.thumbnail((side, side))
        image.paste(thumb, (_LABEL_MARGIN + index * (side + 8), height - side - _LABEL_MARGIN))


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as source:
        converted: Image.Image = source.convert("RGB")
    return converted


_FONT: list[ImageFont.ImageFont | ImageFont.FreeTypeFont] = []
_FONT_LOCK = threading.Lock()


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    with _FONT_LOCK:
        if not _FONT:
            _FONT.append(ImageFont.load_default(size=20))
        return _FONT[0]


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
