from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from mockserver.render.images import ImageCache, ImageRequest, render


@pytest.mark.parametrize(
    ("fmt", "pillow", "media_type"),
    [("jpeg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp")],
)
def test_render_gives_the_requested_size_and_format(fmt: str, pillow: str, media_type: str) -> None:
    rendered = render(ImageRequest("a fox", 1, 320, 224, fmt))
    image = Image.open(io.BytesIO(rendered.data))
    assert (image.format, image.size, rendered.media_type) == (pillow, (320, 224), media_type)


def test_jpeg_starts_like_the_real_ones() -> None:
    assert render(ImageRequest("x", 1, 64, 64, "jpeg")).data.startswith(
        b"\xff\xd8\xff\xe0\x00\x10JFIF"
    )


def test_render_is_deterministic_and_depends_on_prompt_and_seed() -> None:
    base = ImageRequest("a fox", 1, 128, 128, "png")
    assert render(base).data == render(base).data
    assert render(base).data != render(ImageRequest("a cat", 1, 128, 128, "png")).data
    assert render(base).data != render(ImageRequest("a fox", 2, 128, 128, "png")).data


def test_unknown_format_falls_back_to_jpeg() -> None:
    assert render(ImageRequest("x", 1, 32, 32, "tiffany")).media_type == "image/jpeg"


def test_cache_renders_once_for_concurrent_requests_and_stays_bounded() -> None:
    async def scenario() -> None:
        cache = ImageCache(max_bytes=60_000)
        request = ImageRequest("a", 1, 256, 256, "png")
        first, second = await asyncio.gather(cache.get(request), cache.get(request))
        assert first is second and len(cache) == 1
        for seed in range(2, 30):
            await cache.get(ImageRequest("a", seed, 256, 256, "png"))
        assert cache.size_bytes <= 60_000
        assert len(cache) < 29
        huge = await ImageCache(max_bytes=10).get(request)
        assert huge.data == first.data

    asyncio.run(scenario())
