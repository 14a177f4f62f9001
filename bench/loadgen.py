"""Drive a server with open keep-alive connections and report req/s, p50 and p99.

wrk (Debian's package) is the load generator. Without it, ``pyload.py`` is the
fallback: the same closed loop per connection, in Python, so it may saturate before
the server does; the output says which one ran.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "report.lua"
PYLOAD = BENCH_DIR / "pyload.py"


@dataclasses.dataclass(frozen=True)
class Request:
    """One benchmark request: what every connection sends, over and over."""

    method: str
    path: str
    body: str = ""
    key: str = ""


@dataclasses.dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk(log: Callable[[str], None]) -> str | None:
    """Wrk's path, installing Debian's package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    # Straight away, then once more after refreshing the package lists.
    for steps in ([install], [["apt-get", "update", "-qq"], install]):
        for step in steps:
            log(f"wrk is missing: {' '.join(step)}")
            subprocess.run(step, capture_output=True, check=False)
        found = shutil.which("wrk")
        if found:
            break
    return found


class Generator:
    """Runs one load on a base URL, pinned with ``pin`` (a command prefix)."""

    def __init__(self, wrk: str | None, pin: Sequence[str], threads: int) -> None:
        self.wrk = wrk
        self.pin = list(pin)
        self.threads = max(1, threads)

    @property
    def name(self) -> str:
        if self.wrk:
            version = subprocess.run(
                [self.wrk, "-v"], capture_output=True, text=True, check=False
            ).stdout.split("\n")[0]
            return version.split(" [")[0] or "wrk"
        return "bench/pyload.py (Python; slower than wrk, so its figures are lower bounds)"

    def run(self, base_url: str, request: Request, *, seconds: float, connections: int) -> Load:
        env = {
            **os.environ,
            "BENCH_METHOD": request.method,
            "BENCH_BODY": request.body,
            "BENCH_KEY": request.key,
        }
        if self.wrk:
            argv = [
                self.wrk,
                f"-t{self.threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                str(WRK_SCRIPT),
                base_url + request.path,
            ]
        else:
            argv = [
                sys.executable,
                str(PYLOAD),
                base_url + request.path,
                "--connections",
                str(connections),
                "--seconds",
                str(seconds),
            ]
        done = subprocess.run(
            [*self.pin, *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=seconds + 60,
            check=False,
        )
        return _parse(done.stdout, done.stderr)


def _parse(stdout: str, stderr: str) -> Load:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            summary: Mapping[str, int] = json.loads(line)
            return Load(
                requests=summary["requests"],
                seconds=summary["duration_us"] / 1e6,
                non2xx=summary["non2xx"],
                socket_errors=summary["socket_errors"],
                p50_ms=summary["p50_us"] / 1000,
                p99_ms=summary["p99_us"] / 1000,
            )
    raise RuntimeError(f"the load generator printed no summary:\n{stdout}\n{stderr}")
