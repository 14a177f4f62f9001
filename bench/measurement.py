"""Running the loads: the rows under wrk (or the Python load generator), and their CPU.

Every load is bounded in time, on loopback, against servers this process started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import statistics
import tempfile
import time
from typing import IO

import prism
import servers
import spy
from loadgen import Load, Request
from preparation import (
    BENCH_DIR,
    CEILING,
    MOCK,
    PRISM,
    RESULTS_DIR,
    WARM_UP_SECONDS,
    Plan,
    Row,
    mock_answer,
)

from mockserver.progress import Progress


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
