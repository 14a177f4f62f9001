"""Real, deterministic MP4 videos: H.264 and AAC through PyAV, off the event loop, cached.

A clip is a backdrop (a gradient and shapes chosen by a hash, the caller's keyframes
placed on it, or a source video's frames resized and tinted), marks that move on every
frame (a bouncing square, a playhead, a running timecode) and the caption. Frames are
built in YUV 4:2:0 directly: each backdrop is converted once, and a frame copies its
planes and writes the marks as rectangles, so a frame costs a few memory copies plus the
encoder's time rather than a Pillow drawing and a colour conversion of the whole picture.

The same request gives the same bytes (with the same PyAV build): the encoder's thread
count is fixed, so the machine's core count does not leak into the stream.

Input videos are read with bounds on what a hostile file can cost (packets demuxed,
frames decoded, pixels per frame), by a short list of demuxers, with every nested open
refused; whatever FFmpeg rejects comes out as :class:`UndecodableVideo`.

The modules, in the order data flows through them: ``palette`` (what the hash picks),
``request`` (the request, its inputs, results and errors), ``planes`` (YUV pictures),
``reading`` (input videos), ``overlays`` (marks on every frame), ``frames`` (backdrops
and the clip's frames), ``sound`` (the AAC track), ``encoding`` (H.264 and the MP4),
``cache`` (rendered videos kept).
"""

from mockserver.render.video.cache import VideoCache
from mockserver.render.video.encoding import (
    H264_ENCODERS,
    h264_encoder,
    pick_h264_encoder,
    render_video,
)
from mockserver.render.video.frames import TINT_STRENGTH
from mockserver.render.video.reading import first_frame, last_frame, probe_video
from mockserver.render.video.request import (
    FPS,
    MEDIA_TYPE,
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
    VideoInfo,
    VideoRequest,
    source_key,
)
from mockserver.render.video.sound import SAMPLE_RATE

__all__ = [
    "FPS",
    "H264_ENCODERS",
    "MEDIA_TYPE",
    "SAMPLE_RATE",
    "TINT_STRENGTH",
    "Budget",
    "Keyframe",
    "MissingSource",
    "NoH264Encoder",
    "RenderCancelled",
    "RenderTimeout",
    "RenderedVideo",
    "SourceUse",
    "SourceVideo",
    "UndecodableImage",
    "UndecodableVideo",
    "VideoCache",
    "VideoInfo",
    "VideoRequest",
    "first_frame",
    "h264_encoder",
    "last_frame",
    "pick_h264_encoder",
    "probe_video",
    "render_video",
    "source_key",
]
