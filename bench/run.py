"""bfl-mock's benchmark: the mock side by side with a bare Starlette app, in one run.

    tox -e bench                      (from a clean checkout: installs what it needs)
    python bench/run.py [--rounds 5] [--seconds 3] [--connections 50] [--prism auto|on|off]

For each row (valid submit, invalid submit, poll of a Ready task, poll of a Pending
task, download of a rendered 1024x768 jpeg) it starts ``bfl-mock serve`` with its
defaults and ``bench/ceiling.py`` (the same uvicorn settings, an app that does only
the unavoidable), pinned to one core, and drives each in turn with wrk pinned to the
other. Rounds alternate which server goes first; the table gives medians over rounds,
and the ratio mock/ceiling is the median of each round's ratio, the two loads of a
round being seconds apart. Then the start-up time, the first renders, the event loop
during a render and the in-process cycles per second. Targets end the output, PASS
or MISS.

Only loopback is used, every load is bounded in time, and only the processes this
script started are stopped (by pid). Results also go to bench/results/ (not in git).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import http.client
import importlib.metadata
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mockserver.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import prism
import servers
import spy
from loadgen import Generator, Load, Request

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


def _submit(base: str, body: str) -> dict[str, Any]:
    answer = httpx.post(
        base + SUBMIT_PATH,
        content=body,
        headers={"x-key": KEY, "content-type": "application/json"},
    )
    answer.raise_for_status()
    submitted: dict[str, Any] = answer.json()
    return submitted


def _poll(polling_url: str, expected: str) -> dict[str, Any]:
    task: dict[str, Any] = httpx.get(polling_url).json()
    if task["status"] != expected:
        raise RuntimeError(f"expected a {expected} task, got {task}")
    return task


def _path(url: str) -> str:
    parsed = httpx.URL(url)
    return parsed.raw_path.decode()


def prepare_submit(base: str) -> tuple[Request, int]:
    return Request("POST", SUBMIT_PATH, VALID_BODY, KEY), 200


def prepare_invalid(base: str) -> tuple[Request, int]:
    return Request("POST", SUBMIT_PATH, INVALID_BODY, KEY), 422


def prepare_ready(base: str) -> tuple[Request, int]:
    polling_url = _submit(base, VALID_BODY)["polling_url"]
    _poll(polling_url, "Ready")
    return Request("GET", _path(polling_url), key=KEY), 200


def prepare_pending(base: str) -> tuple[Request, int]:
    polling_url = _submit(base, VALID_BODY)["polling_url"]
    _poll(polling_url, "Pending")
    return Request("GET", _path(polling_url), key=KEY), 200


class ImagePreparation:
    """The image row: a Ready task's sample, downloaded once (rendered and cached)."""

    def __init__(self) -> None:
        self.first_download_ms: list[float] = []

    def __call__(self, base: str) -> tuple[Request, int]:
        task = _poll(_submit(base, IMAGE_BODY)["polling_url"], "Ready")
        sample = task["result"]["sample"]
        started = time.perf_counter()
        image = httpx.get(sample)
        self.first_download_ms.append((time.perf_counter() - started) * 1000)
        image.raise_for_status()
        if image.headers["content-type"] != "image/jpeg":
            raise RuntimeError(f"the sample is {image.headers['content-type']}")
        return Request("GET", _path(sample), key=KEY), 200


def _answer(base: str, request: Request, expected: int) -> httpx.Response:
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


def _written(file: Any, content: bytes) -> str:
    file.write(content)
    file.flush()
    return str(file.name)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One measured load on one server."""

    load: Load
    cpu_us: float
    """The server's CPU time per request, microseconds."""
    elsewhere: float
    """Share of the machine's CPU time that other processes used meanwhile (0 to 1)."""


@dataclasses.dataclass
class Measured:
    """One row's samples on each server, round by round."""

    samples: dict[str, list[Sample]] = dataclasses.field(default_factory=dict)

    def add(self, server: str, sample: Sample) -> None:
        self.samples.setdefault(server, []).append(sample)

    def ratio(self, server: str) -> float | None:
        """Median over rounds of server/ceiling req/s, each round's pair measured together."""
        pairs = zip(self.samples.get(server, []), self.samples.get(CEILING, []), strict=False)
        ratios = [s.load.rate / c.load.rate for s, c in pairs if c.load.rate]
        return statistics.median(ratios) if ratios else None

    def medians(self, server: str) -> tuple[float, float, float, float] | None:
        """req/s, p50 ms, p99 ms and CPU µs per request: medians over rounds."""
        samples = self.samples.get(server)
        if not samples:
            return None
        return (
            statistics.median(s.load.rate for s in samples),
            statistics.median(s.load.p50_ms for s in samples),
            statistics.median(s.load.p99_ms for s in samples),
            statistics.median(s.cpu_us for s in samples),
        )

    def elsewhere(self) -> float:
        shares = [s.elsewhere for samples in self.samples.values() for s in samples]
        return statistics.median(shares) if shares else math.nan


MOCK, CEILING, PRISM = "bfl-mock", "ceiling", "prism"


class Bench:
    def __init__(self, args: argparse.Namespace, progress: Progress) -> None:
        self.args = args
        self.progress = progress
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
        self.profiles: dict[str, list[str]] = {}
        self.rows = [
            Row("valid submit", READY_NOW, prepare_submit, Target(0.7), "submit"),
            Row("invalid submit (422)", READY_NOW, prepare_invalid, Target(0.6), "invalid"),
            Row("poll, Ready task", READY_NOW, prepare_ready, Target(0.8), "poll"),
            Row("poll, Pending task", NEVER_READY, prepare_pending, Target(0.8), "poll"),
            Row("download 1024x768 jpeg", READY_NOW, self.image, Target(0.5)),
        ]
        self.results = {row.name: Measured() for row in self.rows}
        self.loads_done = 0

    def servers_of(self, row: Row) -> int:
        return 2 + (self.prism is not None and row.prism_row is not None)

    @property
    def loads_planned(self) -> int:
        """Loads of the whole run: a warm-up and every round, per server of each row."""
        return sum(self.servers_of(row) * (self.args.rounds + 1) for row in self.rows)

    def tell(self, row: Row, what: str, server: str) -> None:
        self.loads_done += 1
        self.progress(
            f"{row.name}: {what}, {server}  (load {self.loads_done} of {self.loads_planned})"
        )

    def load(self, server: servers.Server, request: Request, expected: int) -> Sample:
        """One measured load, with the server's CPU time and what others used meanwhile."""
        connections = self.args.connections
        started = time.monotonic()
        before = (
            server.cpu_seconds(),
            servers.machine_busy_seconds(),
            servers.children_cpu_seconds(),
            time.process_time(),
        )
        load = self.generator.run(
            server.url, request, seconds=self.args.seconds, connections=connections
        )
        server_cpu, busy, loads_cpu, own_cpu = (
            server.cpu_seconds() - before[0],
            servers.machine_busy_seconds() - before[1],
            servers.children_cpu_seconds() - before[2],
            time.process_time() - before[3],
        )
        capacity = (time.monotonic() - started) * (os.cpu_count() or 1)
        refused = load.requests if expected != 200 else 0
        if load.non2xx != refused or (load.socket_errors and server.name != PRISM):
            raise RuntimeError(
                f"{server.name}: {load.non2xx} of {load.requests} answers were not "
                f"{expected}, {load.socket_errors} socket errors"
            )
        return Sample(
            load=load,
            cpu_us=server_cpu / max(1, load.requests) * 1e6,
            elsewhere=max(0.0, busy - server_cpu - loads_cpu - own_cpu) / capacity,
        )

    def measure_row(self, row: Row, prism_server: servers.Server | None) -> None:
        """Every round of one row, with the servers started once for it."""
        probe = "/openapi.json"
        pin = self.server_pin
        with servers.running(
            MOCK, servers.mock_argv(*row.mock_flags), probe=probe, pin=pin
        ) as mock:
            request, expected = row.prepare(mock.url)
            answer = _answer(mock.url, request, expected)
            with (
                tempfile.NamedTemporaryFile(prefix="bfl-bench-") as answer_file,
                servers.running(
                    CEILING,
                    servers.ceiling_argv(
                        "--answer",
                        _written(answer_file, answer.content),
                        "--answer-type",
                        answer.headers["content-type"],
                    ),
                    probe=probe,
                    pin=pin,
                ) as ceiling,
            ):
                order = [(mock, expected), (ceiling, 200)]
                if prism_server is not None and row.prism_row is not None:
                    order.append((prism_server, 422 if row.prism_row == "invalid" else 200))
                for server, _ in order:  # warm-up, not counted
                    self.tell(row, "warm-up", server.name)
                    self.generator.run(
                        server.url,
                        request,
                        seconds=WARM_UP_SECONDS,
                        connections=self.args.connections,
                    )
                for round_index in range(self.args.rounds):
                    # Alternate who goes first, so that a drift in the machine's load
                    # does not always favour the same server.
                    for server, status in order[:: -1 if round_index % 2 else 1]:
                        rounds = self.args.rounds
                        self.tell(row, f"round {round_index + 1} of {rounds}", server.name)
                        sample = self.load(server, request, status)
                        self.results[row.name].add(server.name, sample)
                        load = sample.load
                        self.progress.print(
                            f"  {row.name:24s} round {round_index + 1}  {server.name:8s}"
                            f" {load.rate:8.0f} req/s  p50 {load.p50_ms:7.2f} ms"
                            f"  p99 {load.p99_ms:7.2f} ms  {sample.cpu_us:6.1f} CPU µs/req"
                            f"  others {sample.elsewhere:4.0%}"
                        )
                if self.profiler:
                    for server in (mock, ceiling):
                        self.profile(row, server, request)

    def profile(self, row: Row, server: servers.Server, request: Request) -> None:
        """One more load of ``server``, not counted, sampled by py-spy."""
        assert self.profiler is not None
        RESULTS_DIR.mkdir(exist_ok=True)
        output = RESULTS_DIR / f"profile-{_slug(row.name)}-{server.name}.txt"
        seconds = self.args.seconds
        recording = spy.record(self.profiler, server.pid, seconds, output, self.load_pin)
        self.generator.run(server.url, request, seconds=seconds, connections=self.args.connections)
        _, errors = recording.communicate(timeout=seconds + 30)
        name = f"{row.name}, {server.name}"
        if recording.returncode != 0 or not output.exists():
            self.profiles[name] = [f"py-spy failed: {errors.decode(errors='replace')[-300:]}"]
        else:
            self.profiles[name] = spy.summary(output)
        self.progress.print(f"  {name}: profile in {output.relative_to(BENCH_DIR.parent)}")

    def run(self) -> None:
        prism_server = None
        with contextlib.ExitStack() as stack:
            if self.prism is not None:
                prism_server = stack.enter_context(
                    servers.running(
                        PRISM, prism.argv(self.prism), probe="/v1/credits", pin=self.server_pin
                    )
                )
            for row in self.rows:
                self.measure_row(row, prism_server)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _wants_prism(choice: str) -> bool:
    return choice == "on" or (choice == "auto" and prism.available())


def startup_seconds(argv: list[str], pin: list[str], samples: int) -> list[float]:
    """Seconds from process start to the first 200 on a submit, ``samples`` times."""
    figures = []
    for _ in range(samples):
        port = servers.free_port()
        command = [*pin, *[arg.format(port=port) for arg in argv]]
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=BENCH_DIR.parent
        )
        try:
            deadline = started + servers.READY_TIMEOUT_SECONDS
            while not _submit_answers_200(port):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command} gave no 200")
                time.sleep(0.002)
            figures.append(time.monotonic() - started)
        finally:
            os.kill(process.pid, signal.SIGINT)
            process.wait(servers.STOP_TIMEOUT_SECONDS)
    return figures


def _submit_answers_200(port: int) -> bool:
    connection = http.client.HTTPConnection(servers.HOST, port, timeout=2)
    try:
        connection.request(
            "POST",
            SUBMIT_PATH,
            body=VALID_BODY,
            headers={"x-key": KEY, "content-type": "application/json"},
        )
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def json_run(pin: list[str], script: str, *args: str, timeout: float) -> Any:
    """Run ``bench/SCRIPT ARGS`` in a fresh process; what it printed last, as JSON."""
    done = subprocess.run(
        [*pin, sys.executable, str(BENCH_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def solo(what: str, pin: list[str], *flags: str) -> dict[str, float]:
    figures: dict[str, float] = json_run(pin, "solo.py", what, *flags, timeout=300)
    return figures


def median_run(what: str, pin: list[str], *flags: str) -> dict[str, float]:
    """Each figure of ``solo.py WHAT``: the median of SOLO_RUNS fresh processes."""
    runs = [solo(what, pin, *flags) for _ in range(SOLO_RUNS)]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def protocol_figures(pin: list[str]) -> dict[str, dict[str, float]]:
    """``bench/protocol.py``: each row's CPU µs per request, the median of SOLO_RUNS runs."""
    runs = [json_run(pin, "protocol.py", timeout=600) for _ in range(SOLO_RUNS)]
    return {
        row: {key: statistics.median(run[row][key] for run in runs) for key in runs[0][row]}
        for row in runs[0]
    }


def loop_while_rendering(pin: list[str]) -> dict[str, float]:
    """Poll latency while the server renders a large image, to show the loop stays free.

    A fresh 1440x1440 png is downloaded (rendered on demand) while another client
    polls as fast as it can; if the render ran on the event loop, one poll would wait
    for all of it.
    """
    with servers.running(
        MOCK, servers.mock_argv(*READY_NOW), probe="/openapi.json", pin=pin
    ) as mock:
        big = json.dumps({"prompt": PROMPT, "width": 1440, "height": 1440, "output_format": "png"})
        sample = _poll(_submit(mock.url, big)["polling_url"], "Ready")["result"]["sample"]
        polling_url = _submit(mock.url, VALID_BODY)["polling_url"]
        render_ms: list[float] = []

        def download() -> None:
            started = time.perf_counter()
            httpx.get(sample, timeout=30).raise_for_status()
            render_ms.append((time.perf_counter() - started) * 1000)

        with httpx.Client() as client:
            client.get(polling_url)  # connected before the render starts
            worker = threading.Thread(target=download)
            worker.start()
            longest = 0.0
            while worker.is_alive():
                started = time.perf_counter()
                client.get(polling_url).raise_for_status()
                longest = max(longest, (time.perf_counter() - started) * 1000)
            worker.join()
    return {"download_ms": render_ms[0], "longest_poll_ms": longest}


def machine(bench: Bench) -> dict[str, str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("uvicorn", "uvloop", "httptools", "starlette", "pydantic", "pillow")
        if _installed(name)
    )
    pinned = (
        f"server on core {bench.server_pin[-1]}, load generator on core(s) {bench.load_pin[-1]}"
        if bench.server_pin
        else "none (one core, or no taskset)"
    )
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{model}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
        "load generator": bench.generator.name,
        "pinning": pinned,
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }
    if bench.prism is not None:
        info["prism"] = f"@stoplight/prism-cli {prism.version()}, node {_node_version()}"
    return info


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _cell(figures: tuple[float, float, float, float] | None) -> str:
    if figures is None:
        return "—"
    rate, p50, p99, _ = figures
    return f"{rate:,.0f} ({p50:.1f} / {p99:.1f})"


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def report(bench: Bench, solo_figures: dict[str, Any]) -> tuple[str, list[str]]:
    """The results as markdown tables, and one PASS/MISS line per target."""
    verdicts: list[str] = []
    with_prism = bench.prism is not None
    head = (
        "| request | bfl-mock req/s (p50 / p99 ms) | ceiling req/s (p50 / p99 ms) "
        "| mock/ceiling | target | CPU µs per request, mock / ceiling | CPU used by others |"
    )
    rule = "| --- | --- | --- | --- | --- | --- | --- |"
    if with_prism:
        head += " Prism req/s (p50 / p99 ms) | Prism/ceiling |"
        rule += " --- | --- |"
    lines = [head, rule]
    for row in bench.rows:
        measured = bench.results[row.name]
        ratio = measured.ratio(MOCK)
        mock, ceiling = measured.medians(MOCK), measured.medians(CEILING)
        met = ratio is not None and row.target.met(ratio)
        verdicts.append(
            f"{_verdict(met)}  {row.name}: mock/ceiling {ratio or 0:.2f} (target {row.target})"
        )
        cpu = f"{mock[3]:.0f} / {ceiling[3]:.0f}" if mock and ceiling else "—"
        line = (
            f"| {row.name} | {_cell(mock)} | {_cell(ceiling)} | **{ratio or 0:.2f}** "
            f"| {row.target} {_verdict(met)} | {cpu} | {measured.elsewhere():.0%} |"
        )
        if with_prism:
            prism_ratio = measured.ratio(PRISM)
            line += f" {_cell(measured.medians(PRISM))} | "
            line += f"{prism_ratio:.2f} |" if prism_ratio is not None else "— |"
        lines.append(line)

    lines += [
        "",
        "The same requests without sockets (`bench/protocol.py`: uvicorn's HTTP protocol fed "
        f"in-process; CPU time, best of {PROTOCOL_BATCHES} batches, median of {SOLO_RUNS} runs; "
        "the kernel's share, equal for both, left out, so these ratios are lower bounds):",
        "",
        "| request | bfl-mock CPU µs | ceiling CPU µs | ceiling/mock |",
        "| --- | --- | --- | --- |",
    ]
    for row in bench.rows:
        figures = solo_figures["protocol"][row.name]
        mock_us, ceiling_us = figures["mock_us"], figures["ceiling_us"]
        lines.append(
            f"| {row.name} | {mock_us:.1f} | {ceiling_us:.1f} | {ceiling_us / mock_us:.2f} |"
        )

    startup = statistics.median(solo_figures["startup_mock_s"])
    others = [
        (
            "start-up to first 200, `bfl-mock serve`",
            f"{startup:.2f} s",
            Target(1.0, False),
            startup,
        ),
        (
            "start-up to first 200, ceiling",
            f"{statistics.median(solo_figures['startup_ceiling_s']):.2f} s",
            None,
            0.0,
        ),
    ]
    render = solo_figures["render"]
    jpeg = render["first_jpeg_1024x768_ms"]
    others += [
        ("first render, 1024x768 jpeg", f"{jpeg:.1f} ms", Target(30, False), jpeg),
        (
            "first render, 1440x1440 png",
            f"{render['first_png_1440x1440_ms']:.1f} ms",
            None,
            0.0,
        ),
        (
            "later renders, 1024x768 jpeg / 1440x1440 png",
            f"{render['steady_jpeg_1024x768_ms']:.1f} / {render['steady_png_1440x1440_ms']:.1f} ms",
            None,
            0.0,
        ),
        (
            "first download of a fresh 1024x768 jpeg over HTTP",
            f"{statistics.median(bench.image.first_download_ms):.1f} ms",
            None,
            0.0,
        ),
    ]
    loop = solo_figures["loop"]
    others.append(
        (
            "longest poll while a 1440x1440 png renders",
            f"{loop['longest_poll_ms']:.1f} ms (the download took {loop['download_ms']:.0f} ms)",
            None,
            0.0,
        )
    )
    strict, lenient = solo_figures["cycles_strict"], solo_figures["cycles_lenient"]
    cycles = strict["cycles_per_second"]
    others += [
        (
            "in-process cycles/s, strict (the pytest fixtures' settings)",
            f"{cycles:.0f} ({strict['cycles_per_cpu_second']:.0f} per CPU second)",
            Target(300),
            cycles,
        ),
        (
            "in-process cycles/s, strict off",
            f"{lenient['cycles_per_second']:.0f} "
            f"({lenient['cycles_per_cpu_second']:.0f} per CPU second)",
            None,
            0.0,
        ),
    ]
    lines += ["", "| figure | value | target |", "| --- | --- | --- |"]
    for name, value, target, figure in others:
        if target is None:
            lines.append(f"| {name} | {value} | |")
            continue
        met = target.met(figure)
        lines.append(f"| {name} | {value} | {target} {_verdict(met)} |")
        verdicts.append(f"{_verdict(met)}  {name}: {value} (target {target})")
    return "\n".join(lines), verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every row (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load")
    parser.add_argument("--connections", type=int, default=50, help="open connections per load")
    parser.add_argument(
        "--prism",
        choices=["auto", "on", "off"],
        default="auto",
        help="also measure Stoplight Prism (auto: when node and npm are present)",
    )
    parser.add_argument(
        "--python-load",
        action="store_true",
        help="use the Python load generator (bench/pyload.py) even where wrk is installed",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after each row, sample the mock under one more load with py-spy",
    )
    args = parser.parse_args()
    # On a terminal, a status line says where the run is; in a log, only results.
    with Progress("bench") as progress:
        bench = Bench(args, progress)
        info = machine(bench)
        for name, value in info.items():
            print(f"{name}: {value}")
        print(
            f"each load: {args.connections} connections for {args.seconds:g} s; {args.rounds} "
            f"rounds per row after a {WARM_UP_SECONDS:g} s warm-up of each server\n",
            flush=True,
        )
        bench.run()
        progress.print("start-up, renders, event loop, in-process cycles")
        pin = bench.server_pin
        solo: dict[str, tuple[str, Callable[[], Any]]] = {
            "startup_mock_s": (
                "start-up of bfl-mock",
                lambda: startup_seconds(servers.mock_argv(), pin, STARTUP_SAMPLES),
            ),
            "startup_ceiling_s": (
                "start-up of the ceiling",
                lambda: startup_seconds(servers.ceiling_argv(), pin, STARTUP_SAMPLES),
            ),
            "render": ("first renders", lambda: median_run("render", pin)),
            "loop": ("event loop during a render", lambda: loop_while_rendering(pin)),
            "cycles_strict": (
                "in-process cycles, strict",
                lambda: median_run("cycles", pin, "--strict"),
            ),
            "cycles_lenient": (
                "in-process cycles, strict off",
                lambda: median_run("cycles", pin, "--no-strict"),
            ),
            "protocol": ("requests without sockets", lambda: protocol_figures(pin)),
        }
        solo_figures: dict[str, Any] = {}
        for number, (key, (what, measure)) in enumerate(solo.items(), 1):
            progress(f"{what}  ({number} of {len(solo)})")
            solo_figures[key] = measure()
    info["load average at end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    tables, verdicts = report(bench, solo_figures)
    machine_note = "\n".join(f"- {name}: {value}" for name, value in info.items())
    settings_note = (
        f"- each load: {args.connections} connections for {args.seconds:g} s; median of "
        f"{args.rounds} rounds per row, after a {WARM_UP_SECONDS:g} s warm-up of each server"
    )
    text = f"{machine_note}\n{settings_note}\n\n{tables}\n"
    if bench.profiles:
        text += "\nWhere the time goes (py-spy, one more load per row and server):\n"
        for name, lines in bench.profiles.items():
            text += f"\n{name}:\n" + "\n".join(lines) + "\n"
    print("\n" + text)
    print("\n".join(verdicts))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"bench-{stamp}.md").write_text(text + "\n" + "\n".join(verdicts) + "\n")
    raw = {
        "machine": info,
        "rows": {
            name: {
                server: [dataclasses.asdict(sample) for sample in samples]
                for server, samples in measured.samples.items()
            }
            for name, measured in bench.results.items()
        },
        "solo": solo_figures,
    }
    (RESULTS_DIR / f"bench-{stamp}.json").write_text(json.dumps(raw, indent=1))
    print(f"\nsaved in {RESULTS_DIR.relative_to(BENCH_DIR.parent)}/bench-{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
