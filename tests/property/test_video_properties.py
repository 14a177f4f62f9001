"""Rendered videos, on whatever hypothesis draws: any small request renders to its exact shape."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mockserver.render.video import VideoRequest, probe_video, render_video


@given(
    width=st.integers(8, 48).map(lambda half: half * 2),
    height=st.integers(8, 48).map(lambda half: half * 2),
    frames=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    audio=st.booleans(),
    caption=st.lists(st.text(max_size=60), max_size=4),
)
def test_any_small_request_renders_to_its_exact_shape(
    width: int, height: int, frames: int, seed: int, audio: bool, caption: list[str]
) -> None:
    request = VideoRequest(width, height, frames / 24, seed, audio=audio, caption=tuple(caption))
    info = probe_video(render_video(request).data)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (
        width,
        height,
        frames,
        audio,
    )
