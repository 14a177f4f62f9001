"""Stoplight Prism, the usual OpenAPI mock server, as a point of comparison (optional).

Installed with npm into bench/.prism (ignored by git) the first time it is asked for.
Prism serves the same openapi.json: it validates a submit and answers the spec's
example, and answers any poll with the same static body, so it has a submit, a 422
and a poll row, and no image to download.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PREFIX = BENCH_DIR / ".prism"
# The newest release that runs on Node 18 and 20 (5.15 and later need Node 24).
PACKAGE = "@stoplight/prism-cli@5.14.2"
EXECUTABLE = PREFIX / "node_modules" / ".bin" / "prism"
INSTALL_TIMEOUT_SECONDS = 600


def available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure() -> Path | None:
    """Prism's executable, installed on first use; None when npm cannot install it."""
    if EXECUTABLE.exists():
        return EXECUTABLE
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    command = [npm, "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", PACKAGE]
    print(f"installing Prism: {' '.join(command[1:])}", flush=True)
    PREFIX.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        print("Prism: npm install timed out; left out", flush=True)
        return None
    if done.returncode != 0 or not EXECUTABLE.exists():
        print(f"Prism: npm install failed; left out\n{done.stderr[-1000:]}", flush=True)
        return None
    return EXECUTABLE


def version() -> str:
    return PACKAGE.rsplit("@", 1)[1]


def argv(executable: Path) -> list[str]:
    spec = BENCH_DIR.parent / "openapi.json"
    return [str(executable), "mock", "-h", "127.0.0.1", "-p", "{port}", str(spec)]
