"""Fallback load generator, used only when wrk cannot be installed.

Like wrk: a fixed number of open keep-alive connections, each sending its next
request as soon as the previous response is complete (a closed loop), latency
measured per request. Python is slower than wrk, so past some rate this saturates
before the server does: its figures are a lower bound.

    python bench/pyload.py URL --connections 50 --seconds 5   (request from BENCH_*)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import urllib.parse


def build_request(url: str) -> tuple[str, int, bytes]:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    method = os.environ.get("BENCH_METHOD", "GET")
    body = os.environ.get("BENCH_BODY", "").encode()
    key = os.environ.get("BENCH_KEY", "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    if key:
        lines.append(f"x-key: {key}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, head + body


async def connection(
    host: str,
    port: int,
    request: bytes,
    until: float,
    latencies: list[float],
    stats: dict[str, int],
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats["socket_errors"] += 1
        return
    try:
        while time.monotonic() < until:
            sent = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if not status_line.split(b" ")[1].startswith(b"2"):
                stats["non2xx"] += 1
    except (OSError, asyncio.IncompleteReadError, IndexError):
        stats["socket_errors"] += 1
    finally:
        writer.close()


async def run(url: str, connections: int, seconds: float) -> dict[str, int]:
    host, port, request = build_request(url)
    latencies: list[float] = []
    stats = {"non2xx": 0, "socket_errors": 0}
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(connection(host, port, request, until, latencies, stats) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(fraction: float) -> int:
        if not latencies:
            return 0
        return round(latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1e6)

    return {
        "requests": len(latencies),
        "duration_us": round(elapsed * 1e6),
        **stats,
        "p50_us": percentile(0.50),
        "p99_us": percentile(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    main_task = run(args.url, args.connections, args.seconds)
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(main_task)))
    else:
        print(json.dumps(uvloop.run(main_task)))


if __name__ == "__main__":
    main()
