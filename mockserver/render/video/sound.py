"""The AAC track: a two-chord loop chosen by the seed, encoded in step with the frames."""

from __future__ import annotations

import array
import functools
import hashlib
import math
from fractions import Fraction
from typing import Any

import av
from av.audio.stream import AudioStream
from av.packet import Packet

from mockserver.render.video.request import VideoRequest

SAMPLE_RATE = 48_000
_AUDIO_CODEC = "aac"
_AUDIO_BIT_RATE = 96_000
_AUDIO_LAYOUT = "stereo"
_AUDIO_FRAME = 1024  # samples per AAC frame


def audio_stream(container: Any) -> AudioStream:
    stream = container.add_stream(_AUDIO_CODEC, rate=SAMPLE_RATE)
    assert isinstance(stream, AudioStream)
    stream.layout = _AUDIO_LAYOUT
    stream.bit_rate = _AUDIO_BIT_RATE
    return stream


class Sound:
    """A two-chord loop chosen by the seed, encoded in step with the frames."""

    def __init__(self, request: VideoRequest, stream: AudioStream) -> None:
        self._stream = stream
        loop = _chords(request.seed)
        self._loop_samples = len(loop) // 4
        # One frame's worth repeated past the end, so any frame is one slice.
        self._loop = loop + loop[: _AUDIO_FRAME * 4]
        self.total = round(request.frame_count * SAMPLE_RATE / request.fps)
        self._done = 0

    def encode_until(self, sample: int) -> list[Packet[AudioStream]]:
        """Packets for the whole AAC frames before ``sample`` (all that is left at the end)."""
        until = min(self.total, sample)
        packets: list[Packet[AudioStream]] = []
        while self._done + _AUDIO_FRAME <= until or (
            until == self.total and self._done < self.total
        ):
            packets.extend(self._stream.encode(self._next()))
        return packets

    def flush(self) -> list[Packet[AudioStream]]:
        return [*self.encode_until(self.total), *self._stream.encode(None)]

    def _next(self) -> av.AudioFrame:
        count = min(_AUDIO_FRAME, self.total - self._done)
        start = self._done % self._loop_samples
        samples = self._loop[start * 4 : (start + count) * 4]
        frame = av.AudioFrame(format="fltp", layout=_AUDIO_LAYOUT, samples=count)
        for plane in frame.planes:
            plane.update(samples)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._done
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._done += count
        return frame


def _chords(seed: int) -> bytes:
    """Two seconds of float samples: a triad, then one a fourth or fifth up.

    Both pulse twice a second on whole-hertz pitches, so the two seconds loop without a click.
    """
    digest = hashlib.sha256(b"chord\0%d" % seed).digest()
    return _chord_samples(45 + digest[0] % 12, 4 if digest[1] % 2 else 3, 5 if digest[2] % 2 else 7)


@functools.lru_cache(maxsize=48)
def _chord_samples(root: int, third: int, step: int) -> bytes:
    """The samples of one of the 48 progressions seeds pick from, computed once each.

    A pure-Python loop over 96,000 samples costs about a third of a second: done per
    progression, not per seed, it is paid at most 48 times a process.
    """
    samples = array.array("f")
    for chord in (
        (root, root + third, root + 7),
        (root + step, root + step + third, root + step + 7),
    ):
        pitches = [round(440 * 2 ** ((note - 69) / 12)) for note in chord]
        for index in range(SAMPLE_RATE):
            t = index / SAMPLE_RATE
            envelope = 0.5 - 0.5 * math.cos(4 * math.pi * t)
            tone = sum(math.sin(2 * math.pi * pitch * t) for pitch in pitches)
            samples.append(0.1 * envelope * tone)
    return samples.tobytes()
