"""The admin HTTP API under /_mock: the whole-server control for clients in any language."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from support import (
    AUTH,
    CREDITS,
    RESULT,
    SUBMIT,
    ClientFactory,
    WebhookReceiver,
    wait_deliveries,
)


def test_scenario_set_read_and_cleared_over_http(client: TestClient) -> None:
    put = client.put("/_mock/scenario", content="content-moderated=Violence, poll-503=1")
    assert put.status_code == 200
    assert put.json() == {
        "outcome": "CONTENT_MODERATED",
        "detail": ["Violence"],
        "faults": {"poll": {"status": 503, "times": 1}},
        "expired": False,
        "webhook_lost": False,
    }
    assert client.get("/_mock/scenario").json() == put.json()
    task_id = client.post(SUBMIT, json={}, headers=AUTH).json()["id"]
    codes = [client.get(RESULT, params={"id": task_id}).status_code for _ in range(5)]
    assert codes == [503, 200, 200, 200, 200]
    assert client.get(RESULT, params={"id": task_id}).json()["status"] == "Content Moderated"
    cleared = client.delete("/_mock/scenario").json()
    assert cleared["outcome"] is None and cleared["faults"] == {}


def test_scenario_as_json_and_bad_directives(client: TestClient) -> None:
    ok = client.put("/_mock/scenario", json={"directives": "rate-limited"})
    assert ok.json()["faults"] == {"submit": {"status": 429}}
    assert client.post(SUBMIT, json={}, headers=AUTH).status_code == 429
    bad = client.put("/_mock/scenario", content="teleport")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("unknown directive 'teleport'")
    not_text = client.put("/_mock/scenario", json={"directives": 3})
    assert (not_text.status_code, not_text.json()) == (
        400,
        {
            "detail": "directives: Input should be a valid string "
            '(send directives as text, or {"directives": "<directives>"})'
        },
    )


def test_journal_filters_by_path_status_and_verdict(client: TestClient) -> None:
    client.post(SUBMIT, json={"prompt": "ok"}, headers=AUTH)
    client.post(SUBMIT, json={"width": 1000}, headers=AUTH)
    client.get(RESULT, params={"id": "nope"})
    everything = client.get("/_mock/journal").json()
    assert [(c["method"], c["path"], c["status"]) for c in everything] == [
        ("POST", SUBMIT, 200),
        ("POST", SUBMIT, 422),
        ("GET", RESULT, 404),
    ]
    rejected = client.get("/_mock/journal", params={"verdict": "rejected"}).json()
    assert [c["problems"] for c in rejected] == [
        ["body.width: Input should be a multiple of 32 (multiple_of)"]
    ]
    assert json.loads(rejected[0]["body"]) == {"width": 1000}
    assert rejected[0]["headers"]["x-key"] == "***"  # unless ?reveal=1
    by_path = client.get("/_mock/journal", params={"path": RESULT, "status": 404}).json()
    assert len(by_path) == 1 and by_path[0]["query"] == "id=nope"
    bad = client.get("/_mock/journal", params={"status": "many"})
    assert (bad.status_code, bad.json()) == (400, {"detail": "status and limit must be integers"})


def test_tasks_credits_and_reset(client: TestClient) -> None:
    task_id = client.post(SUBMIT, json={"width": 512}, headers=AUTH).json()["id"]
    (task,) = client.get("/_mock/tasks").json()
    assert (task["id"], task["status"], task["width"], task["polls"]) == (
        task_id,
        "PENDING",
        512,
        0,
    )
    put = client.put("/_mock/credits", json={"api_key": "test-key", "credits": 3})
    assert put.json() == {"api_key": "test-key", "credits": 3.0}
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 3.0}
    assert client.post(SUBMIT, json={}, headers=AUTH).status_code == 402
    bad = client.put("/_mock/credits", json={"credits": 3})
    assert (bad.status_code, bad.json()) == (
        400,
        {"detail": 'api_key: Field required (send {"api_key": "<key>", "credits": <number>})'},
    )
    assert client.post("/_mock/reset").status_code == 204
    assert client.get("/_mock/tasks").json() == []
    assert client.get("/_mock/journal").json() == []  # admin calls are not API traffic
    assert client.get(CREDITS, headers=AUTH).json() == {"credits": 1000.0}


def test_webhook_deliveries_are_listed(client: TestClient) -> None:
    assert client.get("/_mock/webhooks").json() == []
    with WebhookReceiver() as receiver:
        body = {"webhook_url": receiver.url, "webhook_secret": "s"}
        task_id = client.post(SUBMIT, json=body, headers=AUTH).json()["id"]
        receiver.wait(1)
        wait_deliveries(client, 1)
    (listed,) = client.get("/_mock/webhooks", params={"reveal": "1"}).json()
    assert (listed["task_id"], listed["url"], listed["skipped"]) == (task_id, receiver.url, False)
    assert listed["attempts"] == [{"at": listed["attempts"][0]["at"], "status": 200, "error": None}]
    assert listed["headers"] == {"content-type": "application/json", "x-webhook-secret": "s"}
    assert json.loads(listed["body"])["status"] == "SUCCESS"


def test_admin_api_can_be_switched_off(make_client: ClientFactory) -> None:
    client = make_client(admin=False)
    response = client.put("/_mock/scenario", content="error")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_admin_routes_refuse_other_methods(client: TestClient) -> None:
    response = client.post("/_mock/journal")
    assert (response.status_code, response.headers["allow"]) == (405, "GET")
