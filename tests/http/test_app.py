"""The FLUX 1.1 [pro] workflow end to end, in process: submit, poll, download, credits."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.render.images import ImageRequest, render
from mockserver.settings import SubmitCost, Timing

from support import AUTH, CREDITS, RESULT, ROOT, SUBMIT, ClientFactory, in_app, poll_to_end

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def submit(client: TestClient, body: object = None, **headers: str) -> dict[str, Any]:
    response = client.post(SUBMIT, json=body if body is not None else {}, headers=AUTH | headers)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def test_submit_answers_id_and_absolute_polling_url_on_the_clients_origin(
    client: TestClient,
) -> None:
    response = client.post(SUBMIT, json={"prompt": "a fox"}, headers=AUTH | {"host": "mock:9"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert UUID4.match(body["id"])
    assert (
        response.content
        == (
            f'{{"id":"{body["id"]}","polling_url":"http://mock:9/v1/get_result?id={body["id"]}",'
            '"cost":null,"input_mp":null,"output_mp":null}'
        ).encode()
    )


def test_polling_url_uses_the_configured_public_url(make_client: ClientFactory) -> None:
    client = make_client(public_url="https://api.example.test/")
    body = submit(client)
    assert body["polling_url"] == f"https://api.example.test/v1/get_result?id={body['id']}"


@pytest.mark.parametrize(
    ("mode", "tail"),
    [
        (SubmitCost.ABSENT, "}"),
        # 1024x768 is 0.75 MP: BFL's megapixel is 2**20 pixels.
        (SubmitCost.PRICE, ',"cost":4.0,"input_mp":0.0,"output_mp":0.75}'),
    ],
)
def test_submit_cost_modes(make_client: ClientFactory, mode: SubmitCost, tail: str) -> None:
    client = make_client(submit_cost=mode)
    response = client.post(SUBMIT, json={}, headers=AUTH)
    task_id = response.json()["id"]
    assert response.text == (
        f'{{"id":"{task_id}","polling_url":"http://testserver/v1/get_result?id={task_id}"{tail}'
    )


def test_lifecycle_by_polls_pending_with_progress_then_ready(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=4)
    task = submit(client, {"prompt": "a red fox in snow", "seed": 42})
    url = str(task["polling_url"])
    seen = [client.get(url).json() for _ in range(5)]
    assert [(s["status"], s["progress"]) for s in seen] == [
        ("Pending", None),
        ("Pending", 0.5),
        ("Pending", 1.0),
        ("Pending", None),
        ("Ready", None),
    ]
    assert list(seen[0]) == ["id", "status", "result", "progress", "details", "preview"]
    ready = seen[-1]
    assert list(ready["result"]) == [
        "sample",
        "prompt",
        "seed",
        "start_time",
        "end_time",
        "duration",
    ]
    assert ready["result"]["prompt"] == "a red fox in snow"
    assert ready["result"]["seed"] == 42
    assert ready["details"] is None and ready["preview"] is None


def test_first_pending_body_is_byte_exact(client: TestClient) -> None:
    task = submit(client)
    response = client.get(RESULT, params={"id": task["id"]})
    assert (
        response.content
        == (
            f'{{"id":"{task["id"]}","status":"Pending","result":null,"progress":null,'
            '"details":null,"preview":null}'
        ).encode()
    )


def test_lifecycle_by_time_follows_the_clock(
    make_client: ClientFactory, clock: ManualClock
) -> None:
    client = make_client(timing=Timing.TIME, generation_seconds=12.0)
    task = submit(client)
    progress = []
    for _ in range(12):
        progress.append(client.get(RESULT, params={"id": task["id"]}).json()["progress"])
        clock.advance(1.0)
    assert progress == [None, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, None]
    ready = client.get(RESULT, params={"id": task["id"]}).json()
    assert ready["status"] == "Ready"
    result = ready["result"]
    assert result["end_time"] - result["start_time"] == pytest.approx(result["duration"])
    assert result["duration"] == pytest.approx(11.0)
    assert isinstance(result["start_time"], float)


def test_seed_is_random_below_2_to_32_when_not_sent(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=0)
    seeds = {
        client.get(str(submit(client)["polling_url"])).json()["result"]["seed"] for _ in range(20)
    }
    assert len(seeds) == 20
    assert all(isinstance(seed, int) and 0 <= seed < 2**32 for seed in seeds)


def test_huge_seed_is_echoed(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=0)
    task = submit(client, {"seed": 1752478609715})
    assert client.get(str(task["polling_url"])).json()["result"]["seed"] == 1752478609715


def test_prompt_upsampling_rewrites_the_prompt(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=0)
    task = submit(client, {"prompt": "a cat", "prompt_upsampling": True})
    prompt = client.get(str(task["polling_url"])).json()["result"]["prompt"]
    assert prompt == "a detailed photograph of a cat, natural light, sharp focus, rich colours"


def ready_result(client: TestClient, body: dict[str, object]) -> dict[str, Any]:
    result: dict[str, Any] = poll_to_end(client, str(submit(client, body)["polling_url"]))["result"]
    return result


@pytest.mark.parametrize(
    ("body", "size", "pillow_format", "media_type"),
    [
        ({}, (1024, 768), "JPEG", "image/jpeg"),
        ({"width": 256, "height": 1440, "output_format": "png"}, (256, 1440), "PNG", "image/png"),
        ({"width": 1440, "height": 256, "output_format": None}, (1440, 256), "JPEG", "image/jpeg"),
    ],
)
def test_sample_is_a_real_image_of_the_requested_size_and_format(
    client: TestClient,
    body: dict[str, object],
    size: tuple[int, int],
    pillow_format: str,
    media_type: str,
) -> None:
    sample = str(ready_result(client, body)["sample"])
    extension = media_type.split("/")[1]
    assert re.match(
        rf"^http://testserver/results/[0-9a-f]{{2}}/[0-9a-f]{{14}}/[0-9a-f]{{32}}/sample\.{extension}"
        rf"\?se=\d{{4}}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ&sp=r&sv=2024-11-04&sr=b"
        rf"&rsct={media_type}&sig=[A-Za-z0-9%]+$",
        sample,
    )
    download = client.get(sample)
    assert download.status_code == 200
    assert download.headers["content-type"] == media_type
    assert download.headers["cache-control"] == "max-age=1200"
    image = Image.open(io.BytesIO(download.content))
    assert (image.format, image.size) == (pillow_format, size)


def test_same_prompt_seed_size_format_give_the_same_bytes(make_client: ClientFactory) -> None:
    one, other = make_client(seed=1), make_client(seed=2)
    body = {"prompt": "lighthouse", "seed": 7, "width": 512, "height": 512}
    first = one.get(str(ready_result(one, body)["sample"])).content
    second = other.get(str(ready_result(other, body)["sample"])).content
    different = one.get(str(ready_result(one, body | {"seed": 8})["sample"])).content
    assert first == second
    assert first != different


def test_sample_expires_after_the_ttl_with_azures_403(
    make_client: ClientFactory, clock: ManualClock
) -> None:
    client = make_client(sample_ttl_seconds=600)
    sample = str(ready_result(client, {})["sample"])
    clock.advance(599)
    assert client.get(sample).status_code == 200
    clock.advance(1)
    expired = client.get(sample)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/xml"
    assert expired.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert expired.text.startswith(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
    )
    assert "Signature not valid in the specified time frame" in expired.text


def test_tampered_sample_url_is_refused(client: TestClient) -> None:
    sample = str(ready_result(client, {})["sample"])
    parts = urllib.parse.urlsplit(sample)
    query = urllib.parse.parse_qs(parts.query)
    forged = sample.replace(urllib.parse.quote(query["se"][0], safe=""), "2099-01-01T00%3A00%3A00Z")
    response = client.get(forged)
    assert response.status_code == 403
    assert "<AuthenticationErrorDetail>Signature did not match.</AuthenticationErrorDetail>" in (
        response.text
    )
    no_query = client.get(parts.path)
    assert no_query.status_code == 403


def test_sample_of_a_forgotten_task_is_blob_not_found(client: TestClient) -> None:
    sample = str(ready_result(client, {})["sample"])
    in_app(client, client.app.control.reset())  # type: ignore[attr-defined]
    response = client.get(sample)
    assert response.status_code == 404
    assert "<Code>BlobNotFound</Code>" in response.text


def test_sample_answers_head_without_body(client: TestClient) -> None:
    sample = str(ready_result(client, {})["sample"])
    response = client.head(sample)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "image/jpeg"


def test_sample_needs_no_key(client: TestClient) -> None:
    result = ready_result(client, {})
    download = client.get(str(result["sample"]), headers={})
    # The task's own image: its prompt and seed, at the default size and format.
    image = ImageRequest(result["prompt"], result["seed"], 1024, 768, "jpeg", SUBMIT)
    assert (download.status_code, download.content) == (200, render(image).data)


def test_credits_drop_by_four_per_ready_image_only(make_client: ClientFactory) -> None:
    client = make_client(polls_until_ready=1, credits=100.0)
    assert client.get(CREDITS, headers=AUTH).content == b'{"credits":100.0}'
    task = submit(client)
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 100.0}
    client.get(str(task["polling_url"]))
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 100.0}
    client.get(str(task["polling_url"]))
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 96.0}
    client.get(str(task["polling_url"]))
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 96.0}
    assert client.get(CREDITS, headers={"x-key": "someone-else"}).json() == {"credits": 100.0}


def test_credits_settle_by_time_without_polls(
    make_client: ClientFactory, clock: ManualClock
) -> None:
    client = make_client(timing=Timing.TIME, generation_seconds=2.0, credits=10.0)
    submit(client)
    clock.advance(2.0)
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 6.0}


def test_unknown_task_is_404_with_the_task_body(client: TestClient) -> None:
    response = client.get(RESULT, params={"id": "no-such-task"})
    assert response.status_code == 404
    assert response.content == (
        b'{"id":"no-such-task","status":"Task not found","result":null,"progress":null,'
        b'"details":null,"preview":null}'
    )


def test_unknown_task_can_answer_200_as_the_spec_says(make_client: ClientFactory) -> None:
    response = make_client(unknown_task_status_code=200).get(RESULT, params={"id": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "Task not found"


def test_polling_needs_no_key_unless_configured(make_client: ClientFactory) -> None:
    open_client = make_client()
    task = submit(open_client)
    assert open_client.get(RESULT, params={"id": task["id"]}).status_code == 200
    locked = make_client(require_key_on_poll=True)
    task = submit(locked)
    refused = locked.get(RESULT, params={"id": task["id"]})
    assert (refused.status_code, refused.json()) == (401, {"detail": "Not authenticated"})
    assert locked.get(RESULT, params={"id": task["id"]}, headers=AUTH).status_code == 200


def test_openapi_json_is_the_served_spec_byte_for_byte(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == (ROOT / "openapi.json").read_bytes()


def test_unknown_path_and_wrong_method_answer_as_fastapi(client: TestClient) -> None:
    missing = client.post("/v1/bad%20model", json={}, headers=AUTH)
    assert (missing.status_code, missing.content) == (404, b'{"detail":"Not Found"}')
    wrong = client.get(SUBMIT, headers=AUTH)
    assert (wrong.status_code, wrong.content) == (405, b'{"detail":"Method Not Allowed"}')
    assert wrong.headers["allow"] == "POST"
    head = client.head(RESULT, params={"id": "x"})
    assert (head.status_code, head.headers["allow"]) == (405, "GET")
    post_spec = client.post("/openapi.json")
    assert post_spec.status_code == 405


def test_trailing_slash_redirects_as_starlette_does(client: TestClient) -> None:
    response = client.post(SUBMIT + "/", json={}, headers=AUTH, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/v1/flux-pro-1.1"


def test_journal_records_every_request_with_its_verdict(client: TestClient) -> None:
    submit(client, {"prompt": "ok"})
    client.post(SUBMIT, json={"width": 1000}, headers=AUTH)
    client.get("/nowhere")
    calls = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    assert [(c.method, c.path, c.status, c.accepted) for c in calls] == [
        ("POST", SUBMIT, 200, True),
        ("POST", SUBMIT, 422, False),
        ("GET", "/nowhere", 404, False),
    ]
    assert json.loads(calls[0].body) == {"prompt": "ok"}
    assert calls[0].header("X-KEY") == "test-key"
    assert calls[1].problems == ("body.width: Input should be a multiple of 32 (multiple_of)",)
    assert calls[1].operation_id == "flux_pro_1_1_v1_flux_pro_1_1_post"
    assert calls[2].problems == ("Not Found",)
