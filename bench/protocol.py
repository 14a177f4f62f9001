"""The Python work per request, without sockets: a figure a busy machine does not blur.

uvicorn's own HTTP protocol (httptools) is fed each benchmark request as raw bytes
through a stand-in transport, one request after another, for the mock and for the
ceiling answering the mock's bytes. What is timed is this process's CPU time, best
of several batches: parsing, the ASGI app, the response, everything but the kernel's
socket work, which costs both servers the same. So the ratio here is a lower bound
on the ratio over real sockets, and moves little when other processes share the
machine.

    python bench/protocol.py [--requests 20000] [--only ROW]     prints one JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceiling
from preparation import INVALID_BODY, KEY, PROTOCOL_BATCHES, VALID_BODY

from mockserver.http.app import create_app
from mockserver.serving.server import uvicorn_config
from mockserver.settings import MockSettings

ORIGIN = "http://127.0.0.1:8000"
VALID, INVALID = VALID_BODY.encode(), INVALID_BODY.encode()


class Transport(asyncio.Transport):
    """Takes what the protocol writes; says when a response is complete."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.set()

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def raw_request(method: str, target: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8000", f"x-key: {KEY}"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def cpu_us_per_request(app: Starlette, request: bytes, count: int) -> float:
    config: uvicorn.Config = uvicorn_config(app, MockSettings())
    config.load()
    protocol = HttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)

    async def one() -> None:
        protocol.data_received(request)
        while True:
            await transport.written.wait()
            transport.written.clear()
            if protocol.cycle is None or protocol.cycle.response_complete:
                return

    for _ in range(300):
        await one()
    best = float("inf")
    for _ in range(PROTOCOL_BATCHES):
        started = time.process_time()
        for _ in range(count // PROTOCOL_BATCHES):
            await one()
        best = min(best, (time.process_time() - started) / (count // PROTOCOL_BATCHES) * 1e6)
    return best


async def measure(count: int, only: str | None = None) -> dict[str, dict[str, float]]:
    # As bench/run.py serves it: no credit or active-task limit to run into.
    unlimited = MockSettings(credits=1e15, max_active_tasks=10**9)
    ready_app = create_app(unlimited.replace(generation_seconds=0))
    pending_app = create_app(unlimited.replace(generation_seconds=86400))
    headers = {"x-key": KEY, "content-type": "application/json"}
    rows: dict[str, tuple[Starlette, bytes, httpx.Response]] = {}
    for app, name in ((ready_app, "ready"), (pending_app, "pending")):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            submitted = await client.post("/v1/flux-pro-1.1", content=VALID, headers=headers)
            if name == "ready":
                rows["valid submit"] = (
                    app,
                    raw_request("POST", "/v1/flux-pro-1.1", VALID),
                    submitted,
                )
                refused = await client.post("/v1/flux-pro-1.1", content=INVALID, headers=headers)
                rows["invalid submit (422)"] = (
                    app,
                    raw_request("POST", "/v1/flux-pro-1.1", INVALID),
                    refused,
                )
            polling_url = submitted.json()["polling_url"]
            polled = await client.get(polling_url)
            target = polling_url.removeprefix(ORIGIN)
            rows[f"poll, {polled.json()['status']} task"] = (
                app,
                raw_request("GET", target),
                polled,
            )
            if name == "ready":
                sample = polled.json()["result"]["sample"]
                image = await client.get(sample)
                rows["download 1024x768 jpeg"] = (
                    app,
                    raw_request("GET", sample.removeprefix(ORIGIN)),
                    image,
                )
    figures = {}
    for name, (mock, request, answer) in rows.items():
        if only is not None and name != only:
            continue
        bare = ceiling.build(answer.content, answer.headers["content-type"])
        mock_us = await cpu_us_per_request(mock, request, count)
        ceiling_us = await cpu_us_per_request(bare, request, count)
        figures[name] = {"mock_us": mock_us, "ceiling_us": ceiling_us}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="per server and row")
    parser.add_argument("--only", metavar="ROW", help="measure this row only (for profiling)")
    args = parser.parse_args()
    work = measure(args.requests, args.only)
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(work)))
    else:
        print(json.dumps(uvloop.run(work)))


if __name__ == "__main__":
    main()
