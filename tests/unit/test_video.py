from __future__ import annotations

import asyncio
import io
import os
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import av
import pytest
from PIL import Image, ImageStat

from mockserver.render.video import (
    FPS,
    H264_ENCODERS,
    MEDIA_TYPE,
    SAMPLE_RATE,
    TINT_STRENGTH,
    Budget,
    Keyframe,
    MissingSource,
    NoH264Encoder,
    RenderCancelled,
    RenderedVideo,
    RenderTimeout,
    SourceUse,
    SourceVideo,
    UndecodableImage,
    UndecodableVideo,
    VideoCache,
    VideoInfo,
    VideoRequest,
    first_frame,
    h264_encoder,
    last_frame,
    pick_h264_encoder,
    probe_video,
    render_video,
    source_key,
)

Colour = tuple[int, int, int]
RED: Colour = (200, 40, 40)
BLUE: Colour = (40, 60, 200)
GREEN: Colour = (40, 180, 60)


def small(**overrides: object) -> VideoRequest:
    fields: dict[str, object] = {"width": 96, "height": 64, "duration": 0.5, "seed": 7}
    fields.update(overrides)
    return VideoRequest(**fields)  # type: ignore[arg-type]


def decoded(data: bytes) -> tuple[av.video.stream.VideoStream, list[Image.Image]]:
    """The video stream (closed, its fields still readable) and every frame, by PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        images = [frame.to_image() for frame in container.decode(stream)]
    return stream, images


def boxes(data: bytes) -> list[str]:
    """The MP4's top-level box types, in file order."""
    types, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        types.append(kind.decode("latin-1"))
        offset += size if size else len(data)
    return types


def encoded(colours: Sequence[Colour], frames_each: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """An H.264 MP4 of solid colours, ``frames_each`` frames of each, at 24 fps."""
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "10"})
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(len(colours) * frames_each):
            image = Image.new("RGB", size, colours[index // frames_each])
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return output.getvalue()


def still(colour: Colour, size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def median(image: Image.Image, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> Colour:
    """Per-channel median over the share ``box`` of the image.

    The marks drawn on top (square, playhead, caption) cover well under half of it, so
    they do not move it.
    """
    left, top, right, bottom = box
    w, h = image.size
    crop = image.crop((int(left * w), int(top * h), int(right * w), int(bottom * h)))
    r, g, b = ImageStat.Stat(crop).median
    return r, g, b


def tinted(colour: Colour, tint: Colour) -> Colour:
    r, g, b = (
        round(c * (1 - TINT_STRENGTH) + t * TINT_STRENGTH)
        for c, t in zip(colour, tint, strict=True)
    )
    return r, g, b


def close_to(actual: Colour, expected: Colour, tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# -- what a render is ---------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height", "duration"), [(96, 64, 0.5), (250, 142, 1.0)])
def test_render_is_h264_yuv420p_at_the_exact_size_24_fps_and_length(
    width: int, height: int, duration: float
) -> None:
    rendered = render_video(small(width=width, height=height, duration=duration))
    stream, images = decoded(rendered.data)
    assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
    assert (stream.width, stream.height, stream.average_rate) == (width, height, Fraction(24))
    assert len(images) == duration * 24
    assert {image.size for image in images} == {(width, height)}
    assert rendered.media_type == MEDIA_TYPE == "video/mp4"


def test_an_hd_clip_with_audio_is_what_the_endpoint_promises() -> None:
    request = VideoRequest(
        1280, 704, 5.0, seed=42, audio=True, caption=("a fox in the snow", "seed 42", "t2v")
    )
    rendered = render_video(request)
    assert probe_video(rendered.data) == VideoInfo(
        width=1280,
        height=704,
        duration=5.0,
        fps=24.0,
        frame_count=120,
        has_audio=True,
        codec="h264",
    )
    with av.open(io.BytesIO(rendered.data)) as container:
        (audio,) = container.streams.audio
        samples = sum(frame.samples for frame in container.decode(audio))
        assert (audio.codec_context.name, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
        # The track lasts as long as the video; the encoder's priming samples (decoded,
        # then dropped by players through the edit list) come on top.
        assert audio.duration is not None and audio.duration * audio.time_base == 5
    assert 5 * SAMPLE_RATE <= samples <= 5 * SAMPLE_RATE + 2 * 1024


def test_audio_is_there_only_when_asked() -> None:
    for audio in (True, False):
        with av.open(io.BytesIO(render_video(small(audio=audio)).data)) as container:
            assert [s.codec_context.name for s in container.streams.audio] == (
                ["aac"] if audio else []
            )


def test_mp4_is_faststart() -> None:
    data = render_video(small(audio=True)).data
    kinds = boxes(data)
    assert kinds[0] == "ftyp"
    assert kinds.index("moov") < kinds.index("mdat")


def test_same_request_same_bytes_and_seed_or_caption_change_them() -> None:
    base = small(caption=("a fox",), audio=True)
    first = render_video(base)
    assert render_video(base) == first
    assert render_video(small(caption=("a fox",), audio=True, seed=8)).data != first.data
    assert render_video(small(caption=("a cat",), audio=True)).data != first.data
    assert first.md5 and first.etag.startswith('"0x8DE')


def test_something_moves_from_frame_to_frame() -> None:
    _, images = decoded(render_video(small(duration=0.25)).data)
    assert all(a.tobytes() != b.tobytes() for a, b in zip(images, images[1:], strict=False))


@pytest.mark.parametrize(
    ("width", "height", "duration", "audio"),
    [(96, 64, 1.0, False), (160, 96, 2.5, True), (64, 64, 1 / 24, False)],
)
def test_probe_reads_back_what_was_rendered(
    width: int, height: int, duration: float, audio: bool
) -> None:
    info = probe_video(
        render_video(small(width=width, height=height, duration=duration, audio=audio)).data
    )
    assert info == VideoInfo(
        width=width,
        height=height,
        duration=pytest.approx(duration),  # type: ignore[arg-type]
        fps=24.0,
        frame_count=round(duration * 24),
        has_audio=audio,
        codec="h264",
    )


@pytest.mark.parametrize(
    ("width", "height", "duration", "fps"),
    [
        (95, 64, 1, 24),
        (96, 63, 1, 24),
        (14, 64, 1, 24),
        (96, 64, 0, 24),
        (96, 64, 0.01, 24),
        (96, 64, float("nan"), 24),
        (96, 64, 1, 0),
        (8192, 8192, 1, 24),
    ],
)
def test_requests_that_no_h264_clip_can_be_are_refused(
    width: int, height: int, duration: float, fps: int
) -> None:
    with pytest.raises(ValueError):
        VideoRequest(width, height, duration, seed=1, fps=fps)


def test_encoder_choice_prefers_x264_then_openh264_and_says_when_there_is_none() -> None:
    assert pick_h264_encoder({"libopenh264", "libx264"}).name == "libx264"
    assert pick_h264_encoder({"libopenh264"}).name == "libopenh264"
    with pytest.raises(NoH264Encoder, match="libx264, libopenh264"):
        pick_h264_encoder({"h264_nvenc"})
    assert h264_encoder() in H264_ENCODERS


# -- deriving from source material ----------------------------------------------------------


def test_keyframes_show_in_sequence_at_their_seconds() -> None:
    stills = [still(RED), still(GREEN, (30, 40)), still(BLUE, (60, 30), "JPEG")]
    request = small(
        width=192,
        height=128,
        duration=1.5,
        keyframes=tuple(Keyframe(source_key(data)) for data in stills),
    )
    _, images = decoded(render_video(request, {source_key(d): d for d in stills}).data)
    middle = (0.4, 0.4, 0.6, 0.6)
    # Untimed keyframes share the clip evenly: 0.5 s (12 frames) each.
    assert [close_to(median(images[i], middle), c) for i, c in [(0, RED), (11, RED)]] == [True] * 2
    assert close_to(median(images[12], middle), GREEN)
    assert close_to(median(images[35], middle), BLUE)

    timed = small(
        width=192,
        height=128,
        duration=1.0,
        keyframes=(Keyframe(source_key(stills[2]), 0.5), Keyframe(source_key(stills[0]), 0.0)),
    )
    _, images = decoded(render_video(timed, {source_key(d): d for d in stills}).data)
    assert close_to(median(images[11], middle), RED)
    assert close_to(median(images[12], middle), BLUE)


def test_transformed_video_follows_the_source_resized_and_tinted() -> None:
    source = encoded([RED, BLUE], frames_each=12)  # 0.5 s red, then 0.5 s blue
    request = small(
        width=192,
        height=144,
        duration=1.5,
        video=SourceVideo(source_key(source), SourceUse.TRANSFORM),
    )
    _, images = decoded(render_video(request, {source_key(source): source}).data)
    assert {image.size for image in images} == {(192, 144)}
    assert close_to(median(images[0]), tinted(RED, request.tint))
    assert close_to(median(images[11]), tinted(RED, request.tint))
    assert close_to(median(images[12]), tinted(BLUE, request.tint))
    # Past the source's end, its last frame holds.
    assert close_to(median(images[-1]), tinted(BLUE, request.tint))
    assert not close_to(median(images[0]), RED, 30)  # the tint shows


def test_continued_video_starts_on_the_source_last_frame() -> None:
    source = encoded([RED, BLUE], frames_each=12)
    request = small(
        width=192,
        height=144,
        duration=1.0,
        video=SourceVideo(source_key(source), SourceUse.CONTINUE),
    )
    _, images = decoded(render_video(request, {source_key(source): source}).data)
    assert close_to(median(images[0]), tinted(BLUE, request.tint))
    # ...and wipes, left to right, to new material.
    assert not close_to(median(images[-1]), tinted(BLUE, request.tint), 30)


def test_sources_must_be_handed_over_under_their_digest() -> None:
    source = encoded([RED], frames_each=4)
    request = small(video=SourceVideo(source_key(source), SourceUse.TRANSFORM))
    with pytest.raises(MissingSource, match="no bytes"):
        render_video(request)
    with pytest.raises(MissingSource, match="another digest"):
        render_video(request, {source_key(source): source + b"x"})


def test_unreadable_sources_are_named_for_what_they_are() -> None:
    junk = b"not an image"
    with pytest.raises(UndecodableImage):
        render_video(small(keyframes=(Keyframe(source_key(junk)),)), {source_key(junk): junk})
    for use in SourceUse:
        with pytest.raises(UndecodableVideo):
            render_video(small(video=SourceVideo(source_key(junk), use)), {source_key(junk): junk})


# -- reading hostile input -------------------------------------------------------------------


def _audio_only() -> bytes:
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE)
        assert isinstance(stream, av.audio.stream.AudioStream)
        for index in range(4):
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in frame.planes:
                plane.update(bytes(4096))
            frame.sample_rate, frame.pts = SAMPLE_RATE, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return output.getvalue()


def _bad_inputs() -> dict[str, bytes]:
    clip = render_video(small(duration=1.0)).data
    header_end = clip.index(b"mdat") + 4
    slow = encoded([RED], frames_each=24)  # moov at the end
    return {
        "empty": b"",
        "random": os.urandom(4096),
        "png": still(RED),
        "jpeg": still(RED, fmt="JPEG"),
        "cut inside the media": clip[: (header_end + len(clip)) // 2],
        "cut inside the header": clip[:200],
        "cut before its index": slow[: len(slow) // 2],
        "no video stream": _audio_only(),
        "garbage media": clip[:header_end] + os.urandom(len(clip) - header_end),
        "playlist naming a local file": b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        "concat list": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
    }


@pytest.mark.parametrize("name", list(_bad_inputs()))
@pytest.mark.parametrize("read", [probe_video, last_frame])
def test_bad_input_is_undecodable(name: str, read: Callable[[bytes], object]) -> None:
    with pytest.raises(UndecodableVideo):
        read(_bad_inputs()[name])


@pytest.mark.parametrize("name", ["empty", "random", "png", "no video stream", "garbage media"])
def test_bad_input_has_no_first_frame(name: str) -> None:
    with pytest.raises(UndecodableVideo):
        first_frame(_bad_inputs()[name])


def test_reading_stops_at_its_bounds() -> None:
    clip = render_video(small(duration=1.0)).data  # 24 frames, one keyframe
    with pytest.raises(UndecodableVideo, match="more than 10 packets"):
        probe_video(clip, max_packets=10)
    with pytest.raises(UndecodableVideo, match="more than 5 frames away"):
        last_frame(clip, max_frames=5)
    assert last_frame(clip, max_frames=24).size == (96, 64)


def test_first_and_last_frames_are_the_clips() -> None:
    source = encoded([RED, GREEN, BLUE], frames_each=30)  # a keyframe lands mid-clip
    assert close_to(median(first_frame(source)), RED, 4)
    assert close_to(median(last_frame(source)), BLUE, 4)
    matroska = io.BytesIO()
    with av.open(io.BytesIO(source)) as inside, av.open(matroska, "w", format="matroska") as out:
        stream = out.add_stream_from_template(inside.streams.video[0])
        for packet in inside.demux(inside.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert probe_video(matroska.getvalue()).frame_count == 90
    assert close_to(median(last_frame(matroska.getvalue())), BLUE, 4)


# -- budget ------------------------------------------------------------------------------------


class SteppingClock:
    """A clock that jumps ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def test_a_render_gives_up_between_frames_once_past_its_deadline() -> None:
    clock = SteppingClock(1.0)
    with pytest.raises(RenderTimeout, match="more than 10 s"):
        render_video(small(duration=2.0), budget=Budget(10, clock=clock))
    # Read once to set the deadline, then once per frame until past it: ~10 frames of 48.
    assert 10 <= clock.reads <= 12


def test_a_stopped_budget_cancels_the_render() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(RenderCancelled):
        render_video(small(), budget=Budget(stop=stop))


# -- the cache ---------------------------------------------------------------------------------


UNBOUNDED = Budget()


class CountingRenderer:
    """Renders for real, or fakes ``size`` bytes; counts renders and can hold them."""

    def __init__(self, size: int | None = None, hold: bool = False) -> None:
        self.size = size
        self.calls: list[VideoRequest] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.started = threading.Semaphore(0)
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def __call__(
        self,
        request: VideoRequest,
        sources: Mapping[str, bytes] | None = None,
        *,
        budget: Budget = UNBOUNDED,
    ) -> RenderedVideo:
        with self.lock:
            self.calls.append(request)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.started.release()
        try:
            self.release.wait()
            budget.check()
            if self.size is None:
                return render_video(request, sources, budget=budget)
            data = (request.seed.to_bytes(8, "big") * self.size)[: self.size]
            return RenderedVideo(data, MEDIA_TYPE, "")
        finally:
            with self.lock:
                self.active -= 1


async def started(renderer: CountingRenderer, count: int) -> None:
    for _ in range(count):
        await asyncio.to_thread(renderer.started.acquire)


def test_concurrent_gets_share_one_render_and_keep_it() -> None:
    async def scenario() -> None:
        renderer = CountingRenderer()
        cache = VideoCache(10_000_000, render=renderer)
        request = small()
        first, second = await asyncio.gather(cache.get(request), cache.get(request))
        assert first is second and len(renderer.calls) == 1
        assert await cache.get(request) is first and len(renderer.calls) == 1
        assert (len(cache), cache.size_bytes) == (1, len(first.data))
        cache.close()

    asyncio.run(scenario())


def test_a_prepared_render_is_the_one_a_later_get_receives() -> None:
    async def scenario() -> None:
        renderer = CountingRenderer(size=64, hold=True)
        cache = VideoCache(1000, render=renderer)
        cache.prepare(small())
        await started(renderer, 1)
        cache.prepare(small())  # already underway: not started twice
        renderer.release.set()
        video = await cache.get(small())
        assert len(video.data) == 64 and len(renderer.calls) == 1
        cache.prepare(small())  # already kept: nothing to do
        assert len(renderer.calls) == 1 and cache.cached(small()) is video
        cache.close()

    asyncio.run(scenario())


def test_a_requester_going_away_does_not_cancel_the_shared_render() -> None:
    async def scenario() -> None:
        renderer = CountingRenderer(size=64, hold=True)
        cache = VideoCache(1000, render=renderer)
        leaving = asyncio.create_task(cache.get(small()))
        staying = asyncio.create_task(cache.get(small()))
        await started(renderer, 1)
        leaving.cancel()
        renderer.release.set()
        assert len((await staying).data) == 64
        assert leaving.cancelled() and len(renderer.calls) == 1
        assert cache.cached(small()) is not None
        cache.close()

    asyncio.run(scenario())


def test_sources_are_used_on_a_miss_only() -> None:
    async def scenario() -> None:
        source = encoded([RED], frames_each=6)
        request = small(video=SourceVideo(source_key(source), SourceUse.TRANSFORM))
        cache = VideoCache(10_000_000)
        with pytest.raises(MissingSource):
            await cache.get(request)
        rendered = await cache.get(request, {source_key(source): source})
        assert await cache.get(request) is rendered  # kept: no bytes needed any more
        cache.close()

    asyncio.run(scenario())


def test_cache_drops_the_least_recently_used_past_its_bytes() -> None:
    async def scenario() -> None:
        renderer = CountingRenderer(size=100)
        cache = VideoCache(250, render=renderer)
        one, two, three = (small(seed=seed) for seed in (1, 2, 3))
        await cache.get(one)
        await cache.get(two)
        await cache.get(one)  # one is now the most recently used
        await cache.get(three)
        assert cache.cached(two) is None
        assert cache.cached(one) is not None and cache.cached(three) is not None
        assert (len(cache), cache.size_bytes) == (2, 200)
        huge = VideoCache(99, render=renderer)
        assert len((await huge.get(one)).data) == 100 and len(huge) == 0
        cache.close()
        huge.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("max_renders", [1, 2])
def test_cache_bounds_the_renders_running_at_once(max_renders: int) -> None:
    async def scenario() -> None:
        renderer = CountingRenderer(size=8, hold=True)
        cache = VideoCache(1000, max_renders=max_renders, render=renderer)
        gets = [asyncio.create_task(cache.get(small(seed=seed))) for seed in range(4)]
        await started(renderer, max_renders)
        assert renderer.active == max_renders
        renderer.release.set()
        await asyncio.gather(*gets)
        assert (renderer.most_active, len(renderer.calls)) == (max_renders, 4)
        cache.close()

    asyncio.run(scenario())


def test_cache_gives_up_a_render_past_its_time_and_keeps_nothing() -> None:
    async def scenario() -> None:
        cache = VideoCache(10_000_000, timeout=0)
        with pytest.raises(RenderTimeout):
            await cache.get(small())
        assert len(cache) == 0
        cache.close()
        patient = VideoCache(10_000_000, timeout=None)
        assert probe_video((await patient.get(small())).data).frame_count == 12
        patient.close()

    asyncio.run(scenario())


def test_closing_the_cache_stops_a_running_render() -> None:
    async def scenario() -> None:
        renderer = CountingRenderer(hold=True)
        cache = VideoCache(10_000_000, render=renderer)
        get = asyncio.create_task(cache.get(small()))
        await started(renderer, 1)
        cache.close()
        renderer.release.set()
        with pytest.raises(RenderCancelled):
            await get
        with pytest.raises(RenderCancelled, match="closed"):
            await cache.get(small(seed=8))

    asyncio.run(scenario())
