"""Media through a live ``bfl-mock serve --spec latest``: renders, first and cached, and the loop.

For each case of ``preparation.media_cases`` (a 4 MP image edit, 5 s videos in hd and
fhd), a fresh mock, pinned to the server's core, takes the submit, answers a few
polls (``--timing polls``: no waiting on a clock) and delivers the sample twice: first
rendered, then from its cache. While the submit and the first download run, another
connection polls another task back to back: the longest of those polls is how long the
event loop was kept from answering. Then the same polls run as long again with nothing
rendering, the control: on a busy machine a poll waits for a core whatever the mock
does. The server's CPU time over each stretch (from /proc) and the share of the machine
other processes took meanwhile come with it. Each case runs SOLO_RUNS times, each in a
fresh process, so "first" means first.
"""

from __future__ import annotations

import dataclasses
import io
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import av
import httpx
import servers
from figures import Polls, polled_while
from measurement import CpuWatch
from PIL import Image
from preparation import (
    KEY,
    MEDIA_FLAGS,
    MOCK,
    SOLO_RUNS,
    SUBMIT_PATH,
    VALID_BODY,
    MediaCase,
    Plan,
)

CACHED_DOWNLOADS = 5
"""Downloads of the rendered sample after the first; their median is the cached time."""
MAX_POLLS = 20
"""A media task is final after ``--polls-until-ready`` polls; not Ready after this many, it
failed (the statuses it goes through, and fails with, are the spec's)."""
DOWNLOAD_TIMEOUT_SECONDS = 300.0
"""Longer than the mock gives a video render (``video_render_seconds``, 120 s by default)."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Stretch:
    """One timed request to the mock, with what happened meanwhile."""

    wall_ms: float
    server_cpu_ms: float
    """CPU the server process used, every thread (the render, the polls answered)."""
    elsewhere: float
    """Share of the machine's CPU time other processes used meanwhile (0 to 1)."""
    polls: Polls


@dataclasses.dataclass(frozen=True)
class MediaRun:
    """One case in one fresh server."""

    submit: Stretch
    first: Stretch
    idle_polls: Polls
    """The same polls for as long as the first download took, with nothing rendering."""
    cached_ms: float
    output: str
    """What was delivered, as read back: ``2048x2048 jpeg``, ``1280x720 mp4, 5.0 s``."""
    size_bytes: int


@dataclasses.dataclass(frozen=True)
class MediaFigures:
    """One case's runs, and the figures the report shows: medians over the runs.

    A render that held the event loop would do so in every run (the same request
    renders the same bytes), so the median of the longest polls shows it; one run's
    worst poll on a busy machine shows mostly the machine.
    """

    name: str
    runs: tuple[MediaRun, ...]

    def median(self, figure: Callable[[MediaRun], float]) -> float:
        return statistics.median(figure(run) for run in self.runs)

    @property
    def longest_poll_ms(self) -> float:
        """The longest poll during the first download: how long the loop was held."""
        return self.median(lambda run: run.first.polls.longest_ms)

    @property
    def longest_submit_poll_ms(self) -> float:
        return self.median(lambda run: run.submit.polls.longest_ms)

    @property
    def longest_idle_poll_ms(self) -> float:
        """The same with nothing rendering: what the machine's load alone does to a poll."""
        return self.median(lambda run: run.idle_polls.longest_ms)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "runs": [dataclasses.asdict(run) for run in self.runs]}


def measure_media(plan: Plan) -> list[MediaFigures]:
    figures = []
    for case in plan.media:
        body = case.body()
        runs = tuple(_measure_once(case, body, plan.server_pin) for _ in range(SOLO_RUNS))
        for run in runs:
            print(
                f"  {case.name:48s} submit {run.submit.wall_ms:7.1f} ms"
                f"  first {run.first.wall_ms:7.1f} ms ({run.first.server_cpu_ms:6.0f} CPU ms)"
                f"  cached {run.cached_ms:5.1f} ms  longest poll"
                f" {run.first.polls.longest_ms:5.1f} ms of {run.first.polls.answered}"
                f" (idle {run.idle_polls.longest_ms:5.1f} ms of {run.idle_polls.answered})"
                f"  others {run.first.elsewhere:4.0%}",
                flush=True,
            )
        figures.append(MediaFigures(case.name, runs))
    return figures


def _measure_once(case: MediaCase, body: bytes, pin: list[str]) -> MediaRun:
    with (
        servers.running(
            MOCK, servers.mock_argv(*MEDIA_FLAGS), probe="/openapi.json", pin=pin
        ) as mock,
        # Clients made before anything is timed: making one (its TLS context) costs more
        # than many of the requests measured here.
        httpx.Client(base_url=mock.url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as client,
        httpx.Client() as poller,
    ):
        watched = Watched(mock, _submitted(client, SUBMIT_PATH, VALID_BODY.encode()), poller)
        submitted, submit_stretch = watched.stretch(lambda: _submitted(client, case.path, body))
        sample = _final(client, submitted)["result"]["sample"]
        data, first = watched.stretch(lambda: _download(client, sample, case.media_type))
        cached = []
        for _ in range(CACHED_DOWNLOADS):
            started = time.perf_counter()
            again = _download(client, sample, case.media_type)
            cached.append((time.perf_counter() - started) * 1000)
            if again != data:
                raise RuntimeError(f"{case.name}: the cached sample differs from the first")
        # The same polls for as long again with nothing rendering: what this machine's
        # load alone does to them.
        _, idle = watched.stretch(lambda: time.sleep(first.wall_ms / 1000))
    return MediaRun(
        submit=submit_stretch,
        first=first,
        idle_polls=idle.polls,
        cached_ms=statistics.median(cached),
        output=describe(data, case.media_type),
        size_bytes=len(data),
    )


def _submitted(client: httpx.Client, path: str, body: bytes) -> str:
    """Submit ``body``; the task's polling URL."""
    answer = client.post(
        path, content=body, headers={"x-key": KEY, "content-type": "application/json"}
    )
    answer.raise_for_status()
    polling_url: str = answer.json()["polling_url"]
    return polling_url


@dataclasses.dataclass(frozen=True)
class Watched:
    """A server, and the task of its that is polled while something else runs."""

    server: servers.Server
    polling_url: str
    poller: httpx.Client

    def stretch(self, action: Callable[[], T]) -> tuple[T, Stretch]:
        watch = CpuWatch(self.server)
        outcome, wall_ms, polls = polled_while(self.polling_url, action, self.poller)
        server_cpu, elsewhere = watch.stop()
        return outcome, Stretch(wall_ms, server_cpu * 1000, elsewhere, polls)


def _final(client: httpx.Client, polling_url: str) -> dict[str, Any]:
    """The task once Ready, polled at most MAX_POLLS times (its working statuses vary)."""
    for _ in range(MAX_POLLS):
        task: dict[str, Any] = client.get(polling_url).json()
        if task["status"] == "Ready":
            return task
    raise RuntimeError(f"the media task was not Ready after {MAX_POLLS} polls: {task}")


def _download(client: httpx.Client, url: str, media_type: str) -> bytes:
    answer = client.get(url)
    answer.raise_for_status()
    if answer.headers["content-type"] != media_type:
        raise RuntimeError(f"the sample is {answer.headers['content-type']}, not {media_type}")
    return answer.content


def describe(data: bytes, media_type: str) -> str:
    """The delivered sample's size (and length), read back with Pillow or PyAV."""
    if media_type.startswith("image/"):
        with Image.open(io.BytesIO(data)) as image:
            return f"{image.width}x{image.height} {(image.format or '?').lower()}"
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        seconds = (container.duration or 0) / av.time_base
        return f"{stream.width}x{stream.height} mp4, {seconds:.1f} s"
