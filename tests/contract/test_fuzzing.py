"""Response fuzzing: a correct client survives awkward answers; a fragile one is shrunk."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import httpx
import pytest

from contracts import (
    ClientBroke,
    FuzzApp,
    FuzzScript,
    Lifecycle,
    LiveApp,
    fuzz_client,
    load_contract,
)
from mockserver.render.video import probe_video
from mockserver.spec.openapi import OperationKind

from broken_clients import FINAL, MAX_POLLS, GenerationFailed, generate
from support import profile_examples

CONTRACT = load_contract()
SEED = 7


def fuzz(client: Callable[[str, str], object]) -> int:
    return fuzz_client(
        client, expected=(GenerationFailed,), max_examples=profile_examples(), seed=SEED
    )


def test_a_correct_client_survives_every_awkward_answer() -> None:
    assert fuzz(generate) >= profile_examples()


def test_a_client_that_crashes_on_a_null_cost_is_shrunk_to_that_answer() -> None:
    flawed = functools.partial(generate, flaw="crashes_on_null_cost")
    with pytest.raises(ClientBroke) as caught:
        fuzz(flawed)
    broke = caught.value
    (submitted,) = broke.served  # it broke on the first answer
    body = json.loads(submitted.body)
    task_id = "00000000-0000-4000-8000-000000000001"
    assert body == {"id": task_id, "polling_url": body["polling_url"], "cost": None}
    assert body["polling_url"].endswith(f"/v1/get_result?id={task_id}")
    message = str(broke)
    assert message.startswith(
        "the client raised TypeError: unsupported format string passed to NoneType.__format__\n"
        "on these answers (the smallest hypothesis found):\n"
        "  1. POST http://127.0.0.1:"
    )
    assert '"cost":null}' in message
    assert message.endswith(f"reproduce with fuzz_client(..., seed={SEED})")
    assert isinstance(broke.error, TypeError)


def test_a_client_that_ignores_polling_url_meets_the_regional_404() -> None:
    flawed = functools.partial(generate, flaw="ignores_polling_url")
    with pytest.raises(ClientBroke, match="the client raised HTTPStatusError: Client error '404"):
        fuzz(flawed)


def test_every_answer_of_the_fuzz_server_keeps_the_spec() -> None:
    submit = CONTRACT.operations_of(OperationKind.GENERATION)[0]
    credits = CONTRACT.operations_of(OperationKind.CREDITS)[0]

    def strict_client(base_url: str, api_key: str) -> None:
        with httpx.Client(base_url=base_url, headers={"x-key": api_key}) as http:
            answers = [(submit, http.post(submit.path, json={"width": 512, "height": 256}))]
            url = answers[0][1].json()["polling_url"]
            answers += [(CONTRACT.result_operation, http.get(url)) for _ in range(5)]
            answers.append((credits, http.get(credits.path)))
            for operation, answer in answers:
                schema = operation.responses[200] or {}
                problems = CONTRACT.errors(answer.json(), schema)
                assert answer.status_code == 200 and not problems, (operation.path, problems)
            final = answers[-2][1].json()
            if final["status"] == "Ready":
                sample = http.get(final["result"]["sample"])
                assert sample.status_code == 200 and sample.headers["content-type"] == "image/jpeg"

    assert fuzz(strict_client) >= profile_examples()


def test_polls_of_the_global_origin_answer_task_not_found() -> None:
    app = FuzzApp(CONTRACT)
    with LiveApp(app, origins=2) as live:
        base_url, app.polling_origin = live.origins
        app.load(example_script())
        submitted = httpx.post(base_url + "/v1/flux-pro-1.1", json={}).json()
        task_id = submitted["id"]
        off_region = httpx.get(f"{base_url}/v1/get_result", params={"id": task_id})
        regional = httpx.get(submitted["polling_url"])
    assert off_region.status_code == 404
    assert off_region.json() == {"id": task_id, "status": "Task not found"}
    assert regional.status_code == 200 and regional.json()["id"] == task_id
    assert [answer.status for answer in app.served] == [200, 404, 200]


def test_the_fuzz_server_needs_a_script() -> None:
    with LiveApp(FuzzApp(CONTRACT)) as live:
        answer = httpx.get(live.url + "/v1/credits")
    assert answer.status_code == 503
    assert answer.json() == {"detail": "no script loaded: call FuzzApp.load(script) first"}


def example_script() -> FuzzScript:
    ready = {"id": "x", "status": "Ready", "result": {"sample": "https://x.invalid/a.jpeg"}}
    return FuzzScript(
        submitted={"id": "x", "polling_url": "https://x.invalid/"},
        lifecycle=Lifecycle((ready,)),
        others={},
    )


def test_a_client_that_fails_now_and_then_is_reported_as_flaky() -> None:
    calls = iter(range(10**6))

    def sometimes(base_url: str, api_key: str) -> None:
        if next(calls) == 0:
            raise RuntimeError("only the first time")

    with pytest.raises(ClientBroke, match="the client failed, but not every time on the same"):
        fuzz_client(sometimes, max_examples=20, seed=SEED)


OCTOBER = load_contract("2026-10")
VIDEO = "/v1/flux-3-video"
VIDEO_EXAMPLES = 5
"""Each example renders a real 5 s clip: a few are enough to cross the video answers."""


def make_clip(base_url: str, api_key: str, flaw: str | None = None) -> tuple[int, int]:
    """A small flux-3-video client: t2v at hd 16:9, followed to its clip; the clip's size."""
    body = {"mode": "t2v", "prompt": "a fox", "resolution": "hd", "aspect_ratio": "16:9"}
    with httpx.Client(base_url=base_url, headers={"x-key": api_key}, timeout=60) as http:
        submitted = http.post(VIDEO, json=body).raise_for_status().json()
        if flaw == "prices_on_submit":  # the flaw: video settles its cost at the end
            print(f"charged {submitted['cost']:.1f} credits")
        for _ in range(MAX_POLLS):
            polled = http.get(submitted["polling_url"]).json()
            if polled["status"] == "Ready":
                clip = http.get(polled["result"]["sample"]).raise_for_status().content
                info = probe_video(clip)
                return info.width, info.height
            if polled["status"] in FINAL:
                raise GenerationFailed(polled["status"])
    raise GenerationFailed("no final status")


def test_a_correct_video_client_survives_the_video_answers_and_gets_real_clips() -> None:
    sizes: list[tuple[int, int]] = []

    def client(base_url: str, api_key: str) -> None:
        sizes.append(make_clip(base_url, api_key))

    ran = fuzz_client(
        client,
        contract=OCTOBER,
        expected=(GenerationFailed,),
        max_examples=VIDEO_EXAMPLES,
        seed=SEED,
    )
    assert ran >= VIDEO_EXAMPLES
    assert sizes and set(sizes) == {(1280, 704)}, sizes  # hd at 16:9, the published table


def test_a_video_client_that_prices_on_submit_is_caught() -> None:
    flawed = functools.partial(make_clip, flaw="prices_on_submit")
    with pytest.raises(ClientBroke) as caught:
        fuzz_client(flawed, contract=OCTOBER, expected=(GenerationFailed,),
                    max_examples=VIDEO_EXAMPLES, seed=SEED)  # fmt: skip
    # Shrunk to the first answer, without a cost at all.
    assert str(caught.value).startswith(
        "the client raised KeyError: 'cost'\n"
        "on these answers (the smallest hypothesis found):\n"
        "  1. POST http://127.0.0.1:"
    )
    assert '{"id":"00000000-0000-4000-8000-000000000001","polling_url":' in str(caught.value)
