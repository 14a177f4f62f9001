"""Where a server spends its time under load: py-spy samples, summed by function.

``bench/run.py --profile`` samples the mock and the ceiling under one more load of
each row and prints, for each, the functions that take the most time (their own and
with what they call). The raw samples (collapsed stacks, for flamegraph.pl or
speedscope) stay in bench/results/.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
from pathlib import Path

SAMPLES_PER_SECOND = 250
_LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    return shutil.which("py-spy")


def record(
    executable: str, pid: int, seconds: float, output: Path, pin: list[str]
) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds``, without pausing it (``--nonblocking``)."""
    return subprocess.Popen(
        [
            *pin,
            executable,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(SAMPLES_PER_SECOND),
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summary(samples: Path, top: int = 12) -> list[str]:
    """The functions with the most samples: inclusive (with callees) and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    if not total:
        return ["no samples (py-spy may lack the permission to read the process)"]
    lines = [f"{total} samples; with callees:"]
    wanted = [
        (frame, count)
        for frame, count in inclusive.most_common()
        if any(part in frame for part in ("mockserver/", "starlette/", "uvicorn/", "ceiling.py"))
    ]
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in wanted[:top]]
    lines.append("own time:")
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in own.most_common(top)]
    return lines
