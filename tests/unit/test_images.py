from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from mockserver.render import captions
from mockserver.render.images import ImageCache, ImageRequest, caption_panel, render


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


PANEL = (17, 24, 39)
LONG_PROMPT = (
    "a red fox in the snow at golden hour, highly detailed, shot on a 35mm lens with a "
    "shallow depth of field, soft light over the pines and a frozen river far behind"
)


def colours(data: bytes, box: tuple[int, int, int, int]) -> set[tuple[int, int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        region = image.convert("RGB").crop(box)
        return {colour for _, colour in region.getcolors(region.width * region.height)}


@pytest.mark.parametrize(
    ("width", "height", "prompt"),
    [
        (1024, 768, "a fox"),
        (256, 1440, LONG_PROMPT),
        (2048, 512, LONG_PROMPT),
        (64, 64, "a tiny fox"),
    ],
)
def test_every_size_carries_a_caption_panel_with_text_and_the_mark(
    width: int, height: int, prompt: str
) -> None:
    request = ImageRequest(prompt, 7, width, height, "png", "/v1/flux-pro-1.1")
    rendered = render(request)
    with Image.open(io.BytesIO(rendered.data)) as image:
        assert image.size == (width, height)
    size, margin, _ = caption_panel(width, height)
    assert size >= captions.SMALLEST_FONT
    # The bottom rows are the panel's; above them, text in white and the mark in amber.
    assert colours(rendered.data, (0, height - margin + 1, width, height)) == {PANEL}
    panel = colours(rendered.data, (0, height * 3 // 4, width, height))
    assert PANEL in panel
    # Small letters are anti-aliased: near-white text, and near-amber for the mark.
    assert any(min(colour) > 140 for colour in panel)
    assert any(r > 160 and g > 100 and b < 80 for r, g, b in panel)
    assert render(request).data == rendered.data


def test_the_caption_panel_shows_the_prompt_and_the_seed() -> None:
    def panel(prompt: str, seed: int) -> bytes:
        data = render(ImageRequest(prompt, seed, 512, 512, "png", "/v1/flux-pro-1.1")).data
        with Image.open(io.BytesIO(data)) as image:
            return bytes(image.crop((0, 448, 512, 512)).tobytes())

    assert panel("a fox", 1) == panel("a fox", 1)
    assert panel("a fox", 1) != panel("a cat", 1)
    assert panel("a fox", 1) != panel("a fox", 2)


def test_the_prompt_is_wrapped_between_words() -> None:
    face = captions.font(20)
    lines = captions.wrap(LONG_PROMPT, face, 300)
    assert len(lines) > 2
    assert " ".join(lines) == LONG_PROMPT
    assert all(face.getlength(line) <= 300 for line in lines)
    assert captions.wrap("antidisestablishmentarianism", face, 60)[0] != ""
    assert "".join(captions.wrap("antidisestablishmentarianism", face, 60)) == (
        "antidisestablishmentarianism"
    )


def test_the_caption_names_seed_size_format_and_endpoint() -> None:
    face = captions.font(16)
    text = captions.caption(
        prompt=LONG_PROMPT,
        seed=7,
        width=1024,
        height=768,
        output_format="jpeg",
        endpoint="/v1/flux-pro-1.1",
        face=face,
        room=300,
        max_prompt_lines=2,
        detail_face=face,
        detail_room=1000,
    )
    assert text.details == ("seed 7 · 1024 x 768 · jpeg · /v1/flux-pro-1.1",)
    assert text.mark == "bfl-mock"
    assert len(text.prompt) == 2 and text.prompt[-1].endswith("…")
    shown = " ".join(text.prompt).removesuffix("…").split(" ")
    assert shown == LONG_PROMPT.split(" ")[: len(shown)]  # whole words only
