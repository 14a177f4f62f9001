"""Measurements of the mock alone: first renders, and in-process cycles per second.

Each runs in a fresh process (``bench/run.py`` starts it), so "first" means first:

    python bench/solo.py render           first and steady renders, after the app's warm-up
    python bench/solo.py cycles --seconds 3 [--strict]
        submit, poll until Ready (poll-count clock), download, through httpx.ASGITransport

Both print one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
from preparation import PROMPT

from mockserver.http.app import create_app
from mockserver.render.images import ImageRequest, render
from mockserver.settings import MockSettings, Timing

SUBMIT_PATH = "/v1/flux-pro-1.1"
RENDERS = {"jpeg_1024x768": (1024, 768, "jpeg"), "png_1440x1440": (1440, 1440, "png")}
STEADY_RENDERS = 5


async def _start(app: Any) -> None:
    """Run the app's start-up and shut-down as uvicorn would (the warm-up included)."""
    async with app.router.lifespan_context(app):
        pass


def measure_renders() -> dict[str, float]:
    asyncio.run(_start(create_app(MockSettings())))
    figures: dict[str, float] = {}
    for name, (width, height, fmt) in RENDERS.items():
        times = []
        for seed in range(1 + STEADY_RENDERS):
            started = time.perf_counter()
            render(ImageRequest(PROMPT, seed, width, height, fmt))
            times.append((time.perf_counter() - started) * 1000)
        figures[f"first_{name}_ms"] = times[0]
        figures[f"steady_{name}_ms"] = statistics.median(times[1:])
    return figures


async def measure_cycles(seconds: float, strict: bool) -> dict[str, float]:
    # The pytest plugin's defaults: tasks final after 2 polls, seeded, strict checking.
    settings = MockSettings(
        timing=Timing.POLLS, polls_until_ready=2, seed=0, strict=strict, credits=1e15
    )
    app = create_app(settings)
    body = {"prompt": PROMPT, "width": 1024, "height": 768, "seed": 42}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bfl-mock") as client:

        async def cycle() -> int:
            submitted = await client.post(SUBMIT_PATH, json=body, headers={"x-key": "bench"})
            polling_url = submitted.json()["polling_url"]
            polls = 0
            while True:
                polls += 1
                task = (await client.get(polling_url)).json()
                if task["status"] != "Pending":
                    break
            if task["status"] != "Ready":
                raise RuntimeError(f"task ended {task['status']}")
            image = await client.get(task["result"]["sample"])
            if image.status_code != 200 or not image.content:
                raise RuntimeError(f"download answered {image.status_code}")
            return polls

        for _ in range(20):  # the first renders the image; the rest is warm-up
            polls = await cycle()
        count = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds:
            await cycle()
            count += 1
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    journal = await app.control.calls()
    problems = [problem for call in journal for problem in call.response_problems]
    if problems:
        raise RuntimeError(f"the mock answered off-spec: {problems[:3]}")
    return {
        "cycles_per_second": count / elapsed,
        # Per second of this process's CPU time: what the figure would be on a core of
        # its own, when other work on the machine takes some of the wall-clock time.
        "cycles_per_cpu_second": count / cpu,
        "polls_per_cycle": polls,
        "strict": strict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["render", "cycles"])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.what == "render":
        print(json.dumps(measure_renders()))
    else:
        print(json.dumps(asyncio.run(measure_cycles(args.seconds, args.strict))))


if __name__ == "__main__":
    main()
