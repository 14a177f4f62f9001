"""The memory flood of issue 13, re-run: large bodies, refused bodies, many downloads.

Each phase starts its own ``bfl-mock serve`` on loopback, floods it from a few threads,
and reports the server's RSS (``VmRSS`` of /proc/<pid>/status) before and after; the
first also times ``GET /_mock/journal`` and the longest poll answered meanwhile. Bounded
in count and time (``--deadline``); stops the servers it started, by pid.

    python bench/flood.py [--bodies 1000] [--refused 400] [--downloads 2400] [--heads 200]

The last phase holds connections that never finish their request head (slowloris),
and counts those the server closes within ``header_timeout_seconds`` and a margin.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preparation import SUBMIT_PATH
from servers import Server, mock_argv, running

MB = 1024 * 1024
THREADS = 8
OLD = {
    "bodies": "57 -> 1,059 MB",
    "refused": "+805 MB",
    "downloads": "56 -> 435 MB and rising",
    "journal": "397 MB of JSON, loop stalled 2.4 s",
    "heads": "200 of 200 still open after 60 s",
    "too_large": "(no body limit then)",
    "hostile": "500s, tasks created and counted, NaN stored, RecursionError and "
    "ClientDisconnect tracebacks",
}
SMALL_BODIES = ("--max-body-bytes", str(MB // 2))
"""The refused phase again, with the body limit under the bodies: each is a 413."""
HEAD_TIMEOUT_SECONDS = 2.0
HEAD_MARGIN_SECONDS = 10.0
"""The figures of issue 13 (main at 5f7d94a)."""


def rss_mb(server: Server) -> float:
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (Linux only)")


def flood(count: int, deadline: float, one: Callable[[httpx.Client, int], int]) -> dict[str, int]:
    """``one(client, i)`` for i in range(count) from a few threads; statuses counted."""
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def run(number: int) -> None:
        if time.monotonic() > deadline:
            return
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        try:
            status = str(one(local.client, number))
        except httpx.HTTPError as error:
            status = type(error).__name__
        with lock:
            statuses[status] = statuses.get(status, 0) + 1

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, range(count)))
    return statuses


def journal_fetch(server: Server) -> dict[str, float]:
    """Fetch the whole journal while polling; its size, its time, the longest poll."""
    done = threading.Event()
    longest = 0.0

    def poll() -> None:
        nonlocal longest
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                started = time.monotonic()
                client.get(server.url + "/v1/get_result", params={"id": "none"})
                longest = max(longest, time.monotonic() - started)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.monotonic()
    response = httpx.get(server.url + "/_mock/journal", timeout=120)
    took = time.monotonic() - started
    done.set()
    poller.join()
    return {
        "status": response.status_code,
        "mb": round(len(response.content) / MB, 1),
        "seconds": round(took, 2),
        "longest_poll_seconds": round(longest, 3),
    }


def phase(name: str, count: int, deadline: float, *flags: str, **work: Any) -> dict[str, Any]:
    with running(name, mock_argv(*flags), probe="/openapi.json", pin=[]) as server:
        before = rss_mb(server)
        statuses = flood(count, deadline, lambda client, i: work["one"](server, client, i))
        result: dict[str, Any] = {
            "requests": count,
            "statuses": statuses,
            "rss_mb": f"{before:.0f} -> {rss_mb(server):.0f}",
        }
        if work.get("journal"):
            result["journal"] = journal_fetch(server)
            result["rss_after_journal_mb"] = round(rss_mb(server))
        return result


def unfinished_heads(count: int) -> dict[str, Any]:
    """Connections sending half a head: how many the server closes, and how soon."""
    flags = ("--header-timeout-seconds", str(HEAD_TIMEOUT_SECONDS))
    with running("heads", mock_argv(*flags), probe="/openapi.json", pin=[]) as server:
        held = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\nx-slow: ")
            held.append(sock)
        started = time.monotonic()
        answered = httpx.get(server.url + "/openapi.json").status_code
        open_ = set(held)
        last = 0.0
        end = started + HEAD_TIMEOUT_SECONDS + HEAD_MARGIN_SECONDS
        while open_ and time.monotonic() < end:
            readable, _, _ = select.select(list(open_), [], [], 0.5)
            for sock in readable:
                if sock.recv(1024) == b"":
                    open_.discard(sock)
                    last = time.monotonic() - started
        for sock in held:
            sock.close()
        return {
            "connections": count,
            "closed_by_server": count - len(open_),
            "last_closed_after_seconds": round(last, 2),
            "header_timeout_seconds": HEAD_TIMEOUT_SECONDS,
            "request_meanwhile": answered,
        }


DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE: list[tuple[str, str, dict[str, str], str]] = [
    ("POST", SUBMIT_PATH, {"x-bfl-mock": "latency=lognormal:1000:1"}, "{}"),
    ("POST", SUBMIT_PATH, {"x-bfl-mock": "latency=lognormal:0:nan"}, "{}"),
    ("POST", SUBMIT_PATH, {"x-bfl-mock": "latency=inf"}, "{}"),
    ("POST", SUBMIT_PATH, {"x-bfl-mock": "slow=1e400"}, "{}"),
    ("POST", SUBMIT_PATH, {}, '{"prompt": "[mock:latency=nan]"}'),
    ("GET", "/v1/get_result?id=x", {"x-bfl-mock": "poll-latency=-inf"}, ""),
    ("PUT", "/_mock/credits", {}, '{"api_key": "k", "credits": NaN}'),
    ("PUT", "/_mock/credits", {}, '{"api_key": "k", "credits": 1e400}'),
    ("PUT", "/_mock/credits", {}, '{"api_key": "k", "credits": "-inf"}'),
    ("PUT", "/_mock/credits", {}, '{"api_key": "k", "credits": ' + DEEP + "}"),
    ("PUT", "/_mock/scenario", {}, '{"directives": ' + DEEP + "}"),
    ("PUT", "/_mock/scenario", {}, "latency=-inf, slow=nan"),
    ("POST", SUBMIT_PATH, {}, '{"prompt": ' + DEEP + "}"),
    ("GET", "/v1/credits", {}, ""),
]
"""The hostile values of issue 13, point 4 (each with ``x-key: k``)."""


def hostile() -> dict[str, Any]:
    """Each hostile request once, a client leaving mid-upload, then the server's log."""
    with running("hostile", mock_argv(), probe="/openapi.json", pin=[]) as server:
        statuses: dict[str, int] = {}
        with httpx.Client(timeout=30) as client:
            for method, path, headers, body in HOSTILE:
                answer = client.request(
                    method,
                    server.url + path,
                    headers={"x-key": "k", "content-type": "application/json", **headers},
                    content=body,
                )
                statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
            tasks = client.get(server.url + "/_mock/tasks").json()
            credits = client.get(server.url + "/v1/credits", headers={"x-key": "k"}).json()
        for _ in range(20):  # clients leaving half-way through their bodies
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(
                    b"POST /v1/flux-pro-1.1 HTTP/1.1\r\nhost: x\r\nx-key: k\r\n"
                    b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"
                )
        httpx.get(server.url + "/openapi.json")  # answered after those have gone
        log = server.errors()
    return {
        "statuses": statuses,
        "tasks_created": len(tasks),
        "credits_after": credits,
        "tracebacks_in_log": log.count("Traceback"),
    }


def big_submits(**extra: Any) -> Callable[[Server, httpx.Client, int], int]:
    """Submits of a 1 MB prompt and ``extra``, each from a key of its own."""

    def submit(server: Server, client: httpx.Client, number: int) -> int:
        body = {"prompt": f"{number} " + "x" * MB, **extra}
        answer = client.post(
            server.url + SUBMIT_PATH, json=body, headers={"x-key": f"flood-{number}"}
        )
        return answer.status_code

    return submit


big_submit = big_submits()
refused_submit = big_submits(width=1000)  # not a multiple of 32: 422


def download(server: Server, client: httpx.Client, number: int) -> int:
    body = {"prompt": f"picture {number}", "output_format": "png"}
    task = client.post(server.url + SUBMIT_PATH, json=body, headers={"x-key": f"flood-{number}"})
    if task.status_code != 200:
        return task.status_code
    polled = client.get(task.json()["polling_url"]).json()
    return client.get(polled["result"]["sample"]).status_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bodies", type=int, default=1000)
    parser.add_argument("--refused", type=int, default=400)
    parser.add_argument("--downloads", type=int, default=2400)
    parser.add_argument("--heads", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds for it all")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.deadline
    polls = ("--timing", "polls", "--polls-until-ready", "0")
    results = {
        "bodies": phase("bodies", args.bodies, deadline, *polls, one=big_submit, journal=True),
        "refused": phase("refused", args.refused, deadline, *polls, one=refused_submit),
        "too_large": phase(
            "too_large", args.refused, deadline, *polls, *SMALL_BODIES, one=big_submit
        ),
        "downloads": phase("downloads", args.downloads, deadline, *polls, one=download),
        "heads": unfinished_heads(args.heads),
        "hostile": hostile(),
    }
    # The journal's figures get a line of their own, against issue 13's.
    results["journal"] = results["bodies"].pop("journal")
    for name, result in results.items():
        print(f"{name}: {json.dumps(result)}  (issue 13: {OLD[name]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
