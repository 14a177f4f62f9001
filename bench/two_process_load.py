"""The load test of ``shared_load.py``: two mock processes sharing one Redis, bounded.

``--submits`` tasks over the two, each polled on the other (lost tasks and 5xx counted);
200 concurrent submits on a key holding ten images' credits, spread over both (accepted,
final balance); 500 webhook tasks spread over both, each delivery counted at a receiver
served here on loopback (duplicates, missing, unsettled).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import time

import httpx
import servers
import uvicorn
from preparation import KEY, SUBMIT_PATH, VALID_BODY
from redis_bench import RedisMeter
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

LOAD_CONCURRENCY = 100
LOAD_TIMEOUT_SECONDS = 300.0
POLLS_PER_TASK = 50
CREDIT_RACE_SUBMITS = 200
CREDIT_RACE_IMAGES = 10
WEBHOOK_TASKS = 500
WEBHOOK_WAIT_SECONDS = 120.0


def json_headers(key: str) -> dict[str, str]:
    return {"x-key": key, "content-type": "application/json"}


@dataclasses.dataclass
class LoadTest:
    submits: int = 0
    lost: int = 0
    server_errors: int = 0
    credit_race_accepted: int = 0
    credit_race_refused: dict[int, int] = dataclasses.field(default_factory=dict)
    credit_race_final_balance: float = math.nan
    webhooks_received: int = 0
    webhook_duplicates: int = 0
    webhook_missing: int = 0
    webhooks_unsettled: int = 0
    redis_bytes_per_task: float = math.nan
    seconds: float = 0.0


async def submit_and_poll_elsewhere(
    submitter: httpx.AsyncClient, poller: httpx.AsyncClient, gate: asyncio.Semaphore,
    result: LoadTest,
) -> None:  # fmt: skip
    async with gate:
        answer = await submitter.post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(KEY))
        result.submits += 1
        if answer.status_code >= 500:
            result.server_errors += 1
            return
        task_id = answer.json()["id"]
        for _ in range(POLLS_PER_TASK):
            poll = await poller.get("/v1/get_result", params={"id": task_id})
            if poll.status_code >= 500:
                result.server_errors += 1
                continue
            status = poll.json()["status"]
            if status == "Ready":
                return
            if status == "Task not found":
                break
            await asyncio.sleep(0.05)  # the client's polling interval, as an SDK's
        result.lost += 1


async def credit_race(pair: list[httpx.AsyncClient], result: LoadTest) -> None:
    key = "bench-ten-images"
    admin = pair[0]
    await admin.put("/_mock/credits", json={"api_key": "bench-price-probe", "credits": 1e6})
    probe = await admin.post(
        SUBMIT_PATH, content=VALID_BODY, headers=json_headers("bench-price-probe")
    )
    await admin.get("/v1/get_result", params={"id": probe.json()["id"]})
    left = (await admin.get("/v1/credits", headers={"x-key": "bench-price-probe"})).json()
    price = 1e6 - float(left["credits"])
    await admin.put("/_mock/credits", json={"api_key": key, "credits": price * CREDIT_RACE_IMAGES})
    answers = await asyncio.gather(
        *(
            pair[index % 2].post(SUBMIT_PATH, content=VALID_BODY, headers=json_headers(key))
            for index in range(CREDIT_RACE_SUBMITS)
        )
    )
    refused = collections.Counter(a.status_code for a in answers if a.status_code != 200)
    accepted = [a.json()["id"] for a in answers if a.status_code == 200]
    for task_id in accepted:  # settle them, so the balance is final
        await pair[1].get("/v1/get_result", params={"id": task_id})
    balance = (await admin.get("/v1/credits", headers={"x-key": key})).json()["credits"]
    result.credit_race_accepted = len(accepted)
    result.credit_race_refused = dict(refused)
    result.credit_race_final_balance = float(balance)


async def webhooks(pair: list[httpx.AsyncClient], result: LoadTest) -> None:
    received: collections.Counter[str] = collections.Counter()
    all_in = asyncio.Event()

    async def receive(request: HttpRequest) -> Response:
        payload = json.loads(await request.body())
        received[payload.get("task_id") or payload.get("id")] += 1
        if len(received) >= WEBHOOK_TASKS:
            all_in.set()
        return Response(status_code=200)

    port = servers.free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", receive, methods=["POST"])]),
        host=servers.HOST, port=port, log_level="warning", lifespan="off",
    )  # fmt: skip
    receiver = uvicorn.Server(config)
    serving = asyncio.create_task(receiver.serve())
    while not receiver.started:
        await asyncio.sleep(0.01)
    body = json.loads(VALID_BODY) | {"webhook_url": f"http://{servers.HOST}:{port}/hook"}
    submitted = await asyncio.gather(
        *(
            pair[index % 2].post(SUBMIT_PATH, json=body, headers={"x-key": KEY})
            for index in range(WEBHOOK_TASKS)
        )
    )
    ids = {answer.json()["id"] for answer in submitted if answer.status_code == 200}
    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
        await asyncio.wait_for(all_in.wait(), WEBHOOK_WAIT_SECONDS)
    # Every delivery settled in the store's record: nothing more is on its way.
    deliveries = (await pair[0].get("/_mock/webhooks")).json()
    settled = sum(1 for d in deliveries if d["delivered"] or d["skipped"])
    receiver.should_exit = True
    await serving
    result.webhooks_received = sum(received[task_id] for task_id in ids)
    result.webhook_duplicates = sum(count - 1 for count in received.values() if count > 1)
    result.webhook_missing = len(ids - set(received))
    result.webhooks_unsettled = len(ids) - settled


async def load_test(urls: list[str], submits: int, redis_url: str) -> LoadTest:
    result = LoadTest()
    limits = httpx.Limits(max_connections=LOAD_CONCURRENCY)
    timeout = httpx.Timeout(30.0)
    async with contextlib.AsyncExitStack() as stack:
        pair = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout)
            )
            for url in urls
        ]
        meter = stack.enter_context(RedisMeter(redis_url))
        started = time.monotonic()
        gate = asyncio.Semaphore(LOAD_CONCURRENCY)
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    submit_and_poll_elsewhere(pair[i % 2], pair[(i + 1) % 2], gate, result)
                    for i in range(submits)
                )
            ),
            LOAD_TIMEOUT_SECONDS,
        )
        result.seconds = time.monotonic() - started
        result.redis_bytes_per_task = meter.used().memory_bytes / submits
        await credit_race(pair, result)
        await webhooks(pair, result)
    return result
