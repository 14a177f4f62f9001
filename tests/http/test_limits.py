"""Input limits: body size, journal bytes and bodies, downloaded media, prompts kept."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.testclient import TestClient

from support import (
    AUTH,
    OCT_SPEC,
    RESULT,
    SUBMIT,
    SUBMITTED_KEYS,
    ClientFactory,
    in_app,
    poll_to_end,
)

TOO_LARGE = {"detail": "Request body too large"}


def journal(client: TestClient) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = client.get("/_mock/journal").json()
    return entries


def test_a_body_past_the_limit_is_a_413_and_creates_nothing(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=1024)
    body = {"prompt": "x" * 2000}
    response = client.post(SUBMIT, json=body, headers=AUTH)
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    (entry,) = journal(client)
    assert (entry["status"], entry["body"], entry["problems"]) == (
        413,
        "",
        ["Request body too large: the limit is 1024 bytes (max_body_bytes)"],
    )
    assert client.get("/_mock/tasks").json() == []
    fits = client.post(SUBMIT, json={"prompt": "x" * 900}, headers=AUTH)
    assert (fits.status_code, sorted(fits.json())) == (200, SUBMITTED_KEYS)


def test_a_chunked_body_past_the_limit_is_a_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=1024)

    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = client.post(
        SUBMIT, content=chunks(), headers={**AUTH, "content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert client.get("/_mock/tasks").json() == []


def test_admin_bodies_have_the_same_limit(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=64)
    response = client.put("/_mock/scenario", content="latency=0.1," * 10)
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert client.get("/_mock/scenario").json()["faults"] == {}
    assert journal(client) == []  # admin calls are not API traffic


def test_journal_bodies_are_cut_and_marked(make_client: ClientFactory) -> None:
    client = make_client(journal_body_bytes=300)
    client.post(SUBMIT, json={"prompt": "y" * 500}, headers=AUTH)
    client.post(SUBMIT, json={"prompt": "short"}, headers=AUTH)
    long, short = journal(client)
    assert (long["body"], long["truncated"]) == ('{"prompt":"' + "y" * 289, ["body"])
    assert (short["body"], short["truncated"]) == ('{"prompt":"short"}', [])


def test_downloaded_media_are_never_kept_in_the_journal(client: TestClient) -> None:
    task = client.post(SUBMIT, json={}, headers=AUTH).json()
    polled = poll_to_end(client, task["polling_url"])
    download = client.get(polled["result"]["sample"])
    assert download.headers["content-type"] == "image/jpeg" and len(download.content) > 1000
    calls = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    assert [(c.status, c.response_body[:1], c.truncated) for c in calls[-2:]] == [
        (200, b"{", ()),
        (200, b"", ("response_body",)),
    ]


def test_the_journal_keeps_within_its_bytes(make_client: ClientFactory) -> None:
    client = make_client(journal_bytes=6000)
    for number in range(20):
        client.post(SUBMIT, json={"prompt": f"{number:02d}" + "z" * 1000}, headers=AUTH)
    calls = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    kept = [call.body[11:13].decode() for call in calls]
    assert kept == [f"{number:02d}" for number in range(20 - len(kept), 20)]
    weights = [call.weight for call in calls]
    assert sum(weights) <= 6000 < sum(weights) + weights[0]


def test_journal_limit_gives_the_newest(client: TestClient) -> None:
    for number in range(5):
        client.get(RESULT, params={"id": str(number)})
    newest = client.get("/_mock/journal", params={"limit": 2}).json()
    assert [entry["query"] for entry in newest] == ["id=3", "id=4"]
    assert client.get("/_mock/journal", params={"limit": 0}).json() == []
    negative = client.get("/_mock/journal", params={"limit": -1})
    assert (negative.status_code, negative.json()) == (
        400,
        {"detail": "limit must not be negative"},
    )
    words = client.get("/_mock/journal", params={"limit": "all"})
    assert (words.status_code, words.json()) == (
        400,
        {"detail": "status and limit must be integers"},
    )


def test_a_task_keeps_the_first_characters_of_a_long_prompt(make_client: ClientFactory) -> None:
    client = make_client(prompt_chars_kept=10)
    task = client.post(SUBMIT, json={"prompt": "abcdefghijklmnop"}, headers=AUTH).json()
    polled = poll_to_end(client, task["polling_url"])
    assert polled["result"]["prompt"] == "abcdefghij"


def test_a_draft_keeps_the_same_first_characters(make_client: ClientFactory) -> None:
    client = make_client(spec=OCT_SPEC, prompt_chars_kept=10, credits=100_000.0)
    body = {"mode": "t2v", "prompt": "abcdefghijklmnop", "draft": True, "duration": 5}
    submitted = client.post("/v1/flux-3-video", json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    (task,) = in_app(client, client.app.control.tasks())  # type: ignore[attr-defined]
    assert task.generation.draft_fields["prompt"] == "abcdefghij"
