"""Running the loads and timing things: the rows under wrk, start-up, the solo figures.

Every load is bounded in time, on loopback, against servers this process started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

import httpx
import prism
import servers
import spy
from loadgen import Load, Request
from preparation import (
    BENCH_DIR,
    CEILING,
    KEY,
    MOCK,
    PRISM,
    PROMPT,
    READY_NOW,
    RESULTS_DIR,
    SOLO_RUNS,
    STARTUP_SAMPLES,
    SUBMIT_PATH,
    VALID_BODY,
    WARM_UP_SECONDS,
    Plan,
    Row,
    mock_answer,
    poll,
    submit,
)

from mockserver.progress import Progress

T = TypeVar("T")


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


class CpuWatch:
    """The CPU a server used over a stretch, and the share other processes took meanwhile."""

    def __init__(self, server: servers.Server) -> None:
        self.server = server
        self.started = time.monotonic()
        self.before = (
            server.cpu_seconds(),
            servers.machine_busy_seconds(),
            servers.children_cpu_seconds(),
            time.process_time(),
        )

    def stop(self) -> tuple[float, float]:
        """Server CPU seconds, and others' share of the machine's capacity (0 to 1)."""
        server_cpu, busy, loads_cpu, own_cpu = (
            self.server.cpu_seconds() - self.before[0],
            servers.machine_busy_seconds() - self.before[1],
            servers.children_cpu_seconds() - self.before[2],
            time.process_time() - self.before[3],
        )
        capacity = (time.monotonic() - self.started) * (os.cpu_count() or 1)
        elsewhere = max(0.0, busy - server_cpu - loads_cpu - own_cpu) / capacity
        return server_cpu, elsewhere


class Loads:
    """The rows: each server under wrk (or pyload), round after round; py-spy if asked."""

    def __init__(self, plan: Plan, progress: Progress) -> None:
        self.plan = plan
        self.args = plan.args
        self.progress = progress
        self.results = {row.name: Measured() for row in plan.rows}
        self.profiles: dict[str, list[str]] = {}
        self.loads_done = 0

    def _servers_of(self, row: Row) -> int:
        return 2 + (self.plan.prism is not None and row.prism_row is not None)

    @property
    def loads_planned(self) -> int:
        """Loads of the whole run: a warm-up and every round, per server of each row."""
        return sum(self._servers_of(row) * (self.args.rounds + 1) for row in self.plan.rows)

    def tell(self, row: Row, what: str, server: str) -> None:
        """On a terminal, which load of how many runs now (quiet in CI)."""
        self.loads_done += 1
        self.progress(
            f"{row.name}: {what}, {server}  (load {self.loads_done} of {self.loads_planned})"
        )

    def load(self, server: servers.Server, request: Request, expected: int) -> Sample:
        """One measured load, with the server's CPU time and what others used meanwhile."""
        watch = CpuWatch(server)
        load = self.plan.generator.run(
            server.url, request, seconds=self.args.seconds, connections=self.args.connections
        )
        server_cpu, elsewhere = watch.stop()
        refused = load.requests if expected != 200 else 0
        if load.non2xx != refused or (load.socket_errors and server.name != PRISM):
            raise RuntimeError(
                f"{server.name}: {load.non2xx} of {load.requests} answers were not "
                f"{expected}, {load.socket_errors} socket errors"
            )
        return Sample(
            load=load, cpu_us=server_cpu / max(1, load.requests) * 1e6, elsewhere=elsewhere
        )

    def measure_row(self, row: Row, prism_server: servers.Server | None) -> None:
        """Every round of one row, with the servers started once for it."""
        probe = "/openapi.json"
        pin = self.plan.server_pin
        with servers.running(
            MOCK, servers.mock_argv(*row.mock_flags), probe=probe, pin=pin
        ) as mock:
            request, expected = row.prepare(mock.url)
            answer = mock_answer(mock.url, request, expected)
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
                    self.plan.generator.run(
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
                if self.plan.profiler:
                    for server in (mock, ceiling):
                        self.profile(row, server, request)

    def profile(self, row: Row, server: servers.Server, request: Request) -> None:
        """One more load of ``server``, not counted, sampled by py-spy."""
        assert self.plan.profiler is not None
        RESULTS_DIR.mkdir(exist_ok=True)
        output = RESULTS_DIR / f"profile-{_slug(row.name)}-{server.name}.txt"
        seconds = self.args.seconds
        recording = spy.record(self.plan.profiler, server.pid, seconds, output, self.plan.load_pin)
        self.plan.generator.run(
            server.url, request, seconds=seconds, connections=self.args.connections
        )
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
            if self.plan.prism is not None:
                prism_server = stack.enter_context(
                    servers.running(
                        PRISM,
                        prism.argv(self.plan.prism),
                        probe="/v1/credits",
                        pin=self.plan.server_pin,
                    )
                )
            for row in self.plan.rows:
                self.measure_row(row, prism_server)


def _written(file: IO[bytes], content: bytes) -> str:
    file.write(content)
    file.flush()
    return str(file.name)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


# --- Figures of the mock alone --------------------------------------------------------


def solo_figures(plan: Plan) -> dict[str, Any]:
    """Start-up, renders, the event loop during a render, in-process cycles, protocol CPU."""
    pin = plan.server_pin
    return {
        "startup_mock_s": startup_seconds(servers.mock_argv(), pin, STARTUP_SAMPLES),
        "startup_ceiling_s": startup_seconds(servers.ceiling_argv(), pin, STARTUP_SAMPLES),
        "render": median_run("render", pin),
        "loop": loop_while_rendering(pin),
        "cycles_strict": median_run("cycles", pin, "--strict"),
        "cycles_lenient": median_run("cycles", pin, "--no-strict"),
        "protocol": protocol_figures(pin),
    }


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
        sample = poll(submit(mock.url, big)["polling_url"], "Ready")["result"]["sample"]
        polling_url = submit(mock.url, VALID_BODY)["polling_url"]
        _, download_ms, polls = polled_while(
            polling_url, lambda: httpx.get(sample, timeout=30).raise_for_status()
        )
    return {"download_ms": download_ms, "longest_poll_ms": polls.longest_ms}


@dataclasses.dataclass(frozen=True)
class Polls:
    """The polls of another task that were answered while something else ran."""

    answered: int
    longest_ms: float


def polled_while(
    polling_url: str, action: Callable[[], T], poller: httpx.Client | None = None
) -> tuple[T, float, Polls]:
    """``action``'s result and wall time (ms), run in a thread while another task is polled.

    The polls go back to back over a connection of their own (``poller``'s, else a new
    client's), opened before the action starts: if the server's event loop were busy
    with the action, one poll would wait for all of it.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    wall_ms: list[float] = []

    def act() -> None:
        started = time.perf_counter()
        try:
            outcome.append(action())
        except BaseException as error:  # re-raised below, in the caller's thread
            failure.append(error)
        wall_ms.append((time.perf_counter() - started) * 1000)

    answered, longest = 0, 0.0
    with contextlib.ExitStack() as stack:
        client = poller or stack.enter_context(httpx.Client())
        client.get(polling_url).raise_for_status()  # connected before the action starts
        worker = threading.Thread(target=act)
        worker.start()
        while worker.is_alive():
            started = time.perf_counter()
            client.get(polling_url).raise_for_status()
            longest = max(longest, (time.perf_counter() - started) * 1000)
            answered += 1
        worker.join()
    if failure:
        raise failure[0]
    return outcome[0], wall_ms[0], Polls(answered, longest)
