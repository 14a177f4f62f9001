"""What the benchmark runs: the rows and their requests, the servers, the media, the machine.

Nothing here is timed, except the image row's first download, which its preparation
makes anyway (it renders the sample the row then downloads over and over).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime
import importlib.metadata
import io
import json
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import loadgen
import prism
import servers
import spy
from loadgen import Generator, Request
from PIL import Image, ImageChops

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SUBMIT_PATH = "/v1/flux-pro-1.1"
KEY = "bench-key"
PROMPT = "a red fox in fresh snow, golden hour"
VALID_BODY = json.dumps({"prompt": PROMPT, "width": 1024, "height": 768})
# Breaks one constraint, as a careless client would: 1000 is not a multiple of 32.
INVALID_BODY = json.dumps({"prompt": PROMPT, "width": 1000, "height": 768})
IMAGE_BODY = json.dumps({"prompt": PROMPT, "width": 1024, "height": 768, "seed": 42})
# Unlimited credits and active tasks: a load test submits far past what one key may.
UNLIMITED = ("--credits", "1e15", "--max-active-tasks", "1000000000")
READY_NOW = ("--generation-seconds", "0", *UNLIMITED)
NEVER_READY = ("--generation-seconds", "86400", *UNLIMITED)
WARM_UP_SECONDS = 1.0
STARTUP_SAMPLES = 5
SOLO_RUNS = 3
PROTOCOL_BATCHES = 5
"""``bench/protocol.py`` keeps the best of this many batches of requests."""

MOCK, CEILING, PRISM = "bfl-mock", "ceiling", "prism"


@dataclasses.dataclass(frozen=True)
class Target:
    """What a figure must reach: ``at_least`` or ``at_most``."""

    value: float
    at_least: bool = True

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.at_least else figure <= self.value

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<'} {self.value:g}"


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    mock_flags: tuple[str, ...]
    prepare: Callable[[str], tuple[Request, int]]
    """Given the mock's URL: the request to repeat, and the status the mock must answer."""
    target: Target
    prism_row: str | None = None
    """The Prism row measuring the same request, if Prism can answer it."""


def submit(base: str, body: str | bytes, path: str = SUBMIT_PATH) -> dict[str, Any]:
    answer = httpx.post(
        base + path,
        content=body,
        headers={"x-key": KEY, "content-type": "application/json"},
        timeout=60,
    )
    answer.raise_for_status()
    submitted: dict[str, Any] = answer.json()
    return submitted


def poll(polling_url: str, expected: str) -> dict[str, Any]:
    task: dict[str, Any] = httpx.get(polling_url).json()
    if task["status"] != expected:
        raise RuntimeError(f"expected a {expected} task, got {task}")
    return task


def path_of(url: str) -> str:
    parsed = httpx.URL(url)
    return parsed.raw_path.decode()


def prepare_submit(base: str) -> tuple[Request, int]:
    return Request("POST", SUBMIT_PATH, VALID_BODY, KEY), 200


def prepare_invalid(base: str) -> tuple[Request, int]:
    return Request("POST", SUBMIT_PATH, INVALID_BODY, KEY), 422


def prepare_ready(base: str) -> tuple[Request, int]:
    polling_url = submit(base, VALID_BODY)["polling_url"]
    poll(polling_url, "Ready")
    return Request("GET", path_of(polling_url), key=KEY), 200


def prepare_pending(base: str) -> tuple[Request, int]:
    polling_url = submit(base, VALID_BODY)["polling_url"]
    poll(polling_url, "Pending")
    return Request("GET", path_of(polling_url), key=KEY), 200


class ImagePreparation:
    """The image row: a Ready task's sample, downloaded once (rendered and cached)."""

    def __init__(self) -> None:
        self.first_download_ms: list[float] = []

    def __call__(self, base: str) -> tuple[Request, int]:
        task = poll(submit(base, IMAGE_BODY)["polling_url"], "Ready")
        sample = task["result"]["sample"]
        # The client first: making one (its TLS context) takes longer than the render.
        with httpx.Client() as client:
            started = time.perf_counter()
            image = client.get(sample)
            self.first_download_ms.append((time.perf_counter() - started) * 1000)
        image.raise_for_status()
        if image.headers["content-type"] != "image/jpeg":
            raise RuntimeError(f"the sample is {image.headers['content-type']}")
        return Request("GET", path_of(sample), key=KEY), 200


def mock_answer(base: str, request: Request, expected: int) -> httpx.Response:
    """The mock's answer to the row's request, which the ceiling will send back as is."""
    headers = {"x-key": request.key} if request.key else {}
    if request.body:
        headers["content-type"] = "application/json"
    answer = httpx.request(
        request.method, base + request.path, content=request.body, headers=headers
    )
    if answer.status_code != expected:
        raise RuntimeError(f"{request.method} {request.path}: {answer.status_code} {answer.text}")
    return answer


class Plan:
    """Everything a run needs before it measures: cores, load generator, servers, rows."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server_pin, self.load_pin = servers.pinning()
        load_cores = len(servers.cores()) - 1 if self.load_pin else 1
        wrk = None if args.python_load else loadgen.ensure_wrk(print)
        self.generator = Generator(wrk, self.load_pin, load_cores)
        self.prism = prism.ensure() if _wants_prism(args.prism) else None
        if args.prism == "on" and self.prism is None:
            raise SystemExit("--prism on: Prism could not be installed (node and npm needed)")
        self.image = ImagePreparation()
        self.profiler = spy.py_spy() if args.profile else None
        if args.profile and self.profiler is None:
            raise SystemExit("--profile needs py-spy (pip install py-spy; tox -e bench has it)")
        self.rows = [
            Row("valid submit", READY_NOW, prepare_submit, Target(0.7), "submit"),
            Row("invalid submit (422)", READY_NOW, prepare_invalid, Target(0.6), "invalid"),
            Row("poll, Ready task", READY_NOW, prepare_ready, Target(0.8), "poll"),
            Row("poll, Pending task", NEVER_READY, prepare_pending, Target(0.8), "poll"),
            Row("download 1024x768 jpeg", READY_NOW, self.image, Target(0.5)),
        ]
        self.media = media_cases() if args.media else []


def _wants_prism(choice: str) -> bool:
    return choice == "on" or (choice == "auto" and prism.available())


# --- Media: renders through a live mock serving today's spec ------------------------

MEDIA_SPEC = "latest"
MEDIA_FLAGS = (
    *("--spec", MEDIA_SPEC, "--timing", "polls", "--polls-until-ready", "2", "--seed", "0"),
    *UNLIMITED,
)
"""Today's spec; tasks final after two polls, so the media wait on renders, not on a clock;
seeded, so every run renders the same bytes."""
EDIT_SIDE = 2048
"""The 4 MP input of the image edit, its side in pixels."""
EDIT_GRAIN = 16
"""Grain over the gradients (plus or minus this much), so that the PNG weighs what a
photo's does (about 6 MB), not a flat picture's: decoding it is part of the submit."""
VIDEO_SECONDS = 5


@dataclasses.dataclass(frozen=True)
class MediaCase:
    """One render measured through a live mock: submitted, polled to Ready, downloaded."""

    name: str
    path: str
    body: Callable[[], bytes]
    """The submit's body, built when the case runs (the 4 MP input takes a second)."""
    media_type: str


def edit_input_png(side: int = EDIT_SIDE) -> bytes:
    """A deterministic side x side photo-like PNG: three gradients under a fixed grain."""
    gradients = (
        Image.linear_gradient("L").resize((side, side)),
        Image.radial_gradient("L").resize((side, side)),
        Image.linear_gradient("L").rotate(90).resize((side, side)),
    )
    # Seeded here (Pillow's effect_noise draws from C's rand()): the same bytes every run.
    grain = Image.frombytes("L", (side, side), _grain(side * side)).convert("RGB")
    picture = ImageChops.add(Image.merge("RGB", gradients), grain, offset=-EDIT_GRAIN)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _grain(count: int) -> bytes:
    """``count`` bytes from 0 to 2 * EDIT_GRAIN, the same on every run."""
    spread = bytes(value % (2 * EDIT_GRAIN + 1) for value in range(256))
    return random.Random(0).randbytes(count).translate(spread)


def _edit_body() -> bytes:
    encoded = base64.b64encode(edit_input_png()).decode()
    return json.dumps({"prompt": PROMPT, "input_image": encoded, "seed": 7}).encode()


def _video_body(resolution: str) -> Callable[[], bytes]:
    def body() -> bytes:
        fields = {
            "prompt": PROMPT,
            "mode": "t2v",
            "resolution": resolution,
            "duration": VIDEO_SECONDS,
        }
        return json.dumps(fields).encode()

    return body


def media_cases() -> list[MediaCase]:
    return [
        MediaCase(
            f"4 MP image edit (flux-2-pro, {EDIT_SIDE}x{EDIT_SIDE} png input)",
            "/v1/flux-2-pro",
            _edit_body,
            "image/jpeg",
        ),
        MediaCase(
            f"video hd, {VIDEO_SECONDS} s (flux-3-video t2v)",
            "/v1/flux-3-video",
            _video_body("hd"),
            "video/mp4",
        ),
        MediaCase(
            f"video fhd, {VIDEO_SECONDS} s (flux-3-video t2v)",
            "/v1/flux-3-video",
            _video_body("fhd"),
            "video/mp4",
        ),
    ]


# --- The machine ------------------------------------------------------------------


def machine(plan: Plan) -> dict[str, str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("uvicorn", "uvloop", "httptools", "starlette", "pydantic", "pillow", "av")
        if _installed(name)
    )
    pinned = (
        f"server on core {plan.server_pin[-1]}, load generator on core(s) {plan.load_pin[-1]}"
        if plan.server_pin
        else "none (one core, or no taskset)"
    )
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{model}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
        "load generator": plan.generator.name,
        "pinning": pinned,
        "load average at start": load_average(),
    }
    if plan.prism is not None:
        info["prism"] = f"@stoplight/prism-cli {prism.version()}, node {_node_version()}"
    return info


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
