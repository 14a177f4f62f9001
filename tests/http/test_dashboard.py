"""The live dashboard at /_mock/: its page, its event stream, thumbnails and details.

The page itself, in a real browser, is tested in test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.http.app import create_app
from mockserver.http.dashboard import static_file
from mockserver.render.dashboard import ROWS, Lists, Query, call_key, find_call, snapshot
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Call

from support import AUTH, OCT_SPEC, RESULT, SUBMIT, in_app, poll_to_end

SERVED = {
    "/_mock/": "text/html; charset=utf-8",
    "/_mock/dashboard.js": "text/javascript; charset=utf-8",
    "/_mock/dashboard.css": "text/css; charset=utf-8",
    "/_mock/favicon.svg": "image/svg+xml",
}


def events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The snapshots of a server-sent event stream, as they come."""
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == "snapshot":
            yield json.loads(line.removeprefix("data: "))


def ready_task(client: TestClient, prompt: str = "a red fox") -> str:
    task = client.post(SUBMIT, json={"prompt": prompt}, headers=AUTH).json()
    poll_to_end(client, task["polling_url"])
    task_id: str = task["id"]
    return task_id


def test_the_page_and_its_files_come_from_the_package(client: TestClient) -> None:
    for path, media_type in SERVED.items():
        response = client.get(path)
        assert (response.status_code, response.headers["content-type"]) == (200, media_type)
        assert response.content == static_file(path.removeprefix("/_mock/") or "dashboard.html")
    page = client.get("/_mock/").text
    assert '<script src="dashboard.js" defer></script>' in page
    assert '<link rel="icon" href="favicon.svg" type="image/svg+xml">' in page
    # No CDN: nothing the page loads comes from elsewhere.
    for name in ("dashboard.html", "dashboard.js", "dashboard.css"):
        assert b"http://" not in static_file(name) and b"https://" not in static_file(name)


def test_the_dashboards_own_traffic_never_enters_the_journal(client: TestClient) -> None:
    task_id = ready_task(client)
    before = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    for path in SERVED:
        client.get(path)
    key = call_key(before, 0)
    assert client.get(f"/_mock/calls/{key}").status_code == 200
    assert client.get(f"/_mock/media/{task_id}").status_code == 200
    assert client.get("/_mock/no-such-page").status_code == 404
    assert client.get("/_mock/events", params={"verdict": "maybe"}).status_code == 400
    after = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    assert after == before
    assert [(c.method, c.path) for c in after][:2] == [("POST", SUBMIT), ("GET", RESULT)]
    assert {(c.method, c.path) for c in after[1:]} == {("GET", RESULT)}


def test_thumbnails_never_expire(client: TestClient, clock: ManualClock) -> None:
    task_id = ready_task(client)
    poll = client.get(RESULT, params={"id": task_id}).json()
    signed = client.get(poll["result"]["sample"])
    assert (signed.status_code, signed.headers["content-type"]) == (200, "image/jpeg")
    clock.advance(24 * 3600)
    assert client.get(poll["result"]["sample"]).status_code == 403
    thumbnail = client.get(f"/_mock/media/{task_id}")
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert thumbnail.content == signed.content
    etag = {"if-none-match": thumbnail.headers["etag"]}
    again = client.get(f"/_mock/media/{task_id}", headers=etag)
    assert (again.status_code, again.content) == (304, b"")


def test_thumbnails_of_unknown_or_unfinished_tasks(client: TestClient) -> None:
    unknown = client.get("/_mock/media/nope")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no such task"})
    task_id = client.post(SUBMIT, json={"prompt": "x"}, headers=AUTH).json()["id"]
    pending = client.get(f"/_mock/media/{task_id}")
    assert (pending.status_code, pending.json()) == (
        404,
        {"detail": "the task has no image or video: it is not Ready"},
    )


def test_a_requests_detail_says_why_it_was_refused(client: TestClient) -> None:
    client.post(SUBMIT, json={"width": 1000}, headers=AUTH)
    (call,) = in_app(client, client.app.control.calls())  # type: ignore[attr-defined]
    key = call_key((call,), 0)
    detail = client.get(f"/_mock/calls/{key}").json()
    assert detail["problems"] == ["body.width: Input should be a multiple of 32 (multiple_of)"]
    assert (detail["method"], detail["path"], detail["status"], detail["verdict"]) == (
        "POST",
        SUBMIT,
        422,
        "rejected",
    )
    assert json.loads(detail["body"]) == {"width": 1000}
    assert json.loads(detail["response_body"])["detail"][0]["loc"] == ["body", "width"]
    assert ["x-key", "***"] in detail["headers"]  # unless ?reveal=1
    revealed = client.get(f"/_mock/calls/{key}", params={"reveal": "1"}).json()
    assert ["x-key", "test-key"] in revealed["headers"]
    for key in ("1.5~0", "nonsense", f"{call.at!r}~1"):
        missing = client.get(f"/_mock/calls/{key}")
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "no such request in the journal (only journal_limit are kept)"},
        )


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"status": "READY"}, "status must be one of the spec's task statuses, not 'READY'"),
        ({"verdict": "maybe"}, "verdict must be accepted or rejected, not 'maybe'"),
    ],
)
def test_a_bad_filter_is_refused(client: TestClient, query: dict[str, str], problem: str) -> None:
    response = client.get("/_mock/events", params=query)
    assert (response.status_code, response.json()) == (400, {"detail": problem})


def test_snapshots_spell_statuses_as_the_spec_and_count_what_they_cap(
    client: TestClient,
) -> None:
    control = client.app.control  # type: ignore[attr-defined]
    client.put("/_mock/scenario", content="content-moderated=Violence")
    task_id = ready_task(client, prompt="a storm")
    spelling = control.statuses
    lists = Lists(
        tasks=in_app(client, control.tasks()),
        calls=in_app(client, control.calls()),
        deliveries=(),
        balances=in_app(client, control.balances()),
        directives=in_app(client, control.directives()),
    )
    state = snapshot(lists, spelling, Query())
    (task,) = state["tasks"]["rows"]
    assert (task["id"], task["status"], task["reason"], task["prompt"], task["media"]) == (
        task_id,
        "Content Moderated",
        "Violence",
        "a storm",
        None,
    )
    assert state["scenario"] == "content-moderated=Violence"
    assert "Content Moderated" in state["statuses"] and "CONTENT_MODERATED" not in state["statuses"]
    many = [dataclass_call(at=float(n)) for n in range(ROWS + 7)]
    capped = snapshot(
        Lists(tasks=(), calls=many, deliveries=(), balances={}, directives=""), spelling, Query()
    )
    assert (len(capped["calls"]["rows"]), capped["calls"]["matched"]) == (ROWS, ROWS + 7)
    assert capped["calls"]["rows"][0]["at"] == float(ROWS + 6)  # the newest first
    refused = [dataclass_call(at=1.0), dataclass_call(at=1.0, problems=("body.width: bad",))]
    only = snapshot(
        Lists(tasks=(), calls=refused, deliveries=(), balances={}, directives=""),
        spelling,
        Query.of({"verdict": "rejected"}, spelling.values()),
    )
    assert [(r["key"], r["problems"]) for r in only["calls"]["rows"]] == [
        ("1.0~1", ["body.width: bad"])
    ]
    assert [find_call(refused, key) for key in ("1.0~0", "1.0~1", "1.0~2")] == [*refused, None]
    assert spelling[TaskStatus.READY] == "Ready"


def dataclass_call(at: float, problems: tuple[str, ...] = ()) -> Call:
    return Call(
        at=at,
        method="GET",
        path=RESULT,
        query="id=x",
        headers=(),
        body=b"",
        status=422 if problems else 200,
        response_body=b"{}",
        problems=problems,
    )


def test_a_live_stream_follows_a_task_from_pending_to_ready() -> None:
    settings = MockSettings(port=0, timing=Timing.POLLS, polls_until_ready=2, seed=0)
    with MockServer(settings) as server, httpx.Client(base_url=server.url) as client:
        key = {"x-key": server.api_key}
        task_id = client.post(SUBMIT, json={"prompt": "a red fox"}, headers=key).json()["id"]
        with client.stream("GET", "/_mock/events", timeout=None) as stream:
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            seen = []
            for state in events(stream.iter_lines()):
                (task,) = state["tasks"]["rows"]
                seen.append(task["status"])
                if task["status"] == "Pending":
                    client.get(RESULT, params={"id": task_id})
                if task["status"] == "Ready":
                    break
        assert seen[0] == "Pending" and seen[-1] == "Ready"
        assert task["media"] == f"/_mock/media/{task_id}"
        assert (task["prompt"], task["endpoint"], task["width"]) == ("a red fox", SUBMIT, 1024)
        assert [call.path for call in server.calls] == [SUBMIT] + [RESULT] * (len(seen) - 1)


async def first_events(app: Any, then: Any) -> list[dict[str, Any]]:
    """The messages /_mock/events sends through ASGI, ``then`` called after its first snapshot.

    Runs until the stream ends.
    """
    sent: list[dict[str, Any]] = []
    snapshot_seen = anyio.Event()
    stop = anyio.Event()

    async def receive() -> dict[str, Any]:
        await stop.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if b"event: snapshot" in message.get("body", b""):
            snapshot_seen.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/_mock/events",
        "raw_path": b"/_mock/events",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    async with anyio.create_task_group() as group:
        group.start_soon(app, scope, receive, send)
        await snapshot_seen.wait()
        then(stop)
    return sent


@pytest.mark.parametrize("ending", ["client leaves", "server shuts down"])
def test_a_stream_ends_when_its_client_leaves_or_the_server_shuts_down(ending: str) -> None:
    app = create_app(MockSettings(seed=0), clock=ManualClock())

    def end(stop: anyio.Event) -> None:
        if ending == "client leaves":
            stop.set()
        else:
            app.control.close_streams()

    sent = anyio.run(first_events, app, end)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [message["body"] for message in sent[1:]]
    assert bodies[0] == b"retry: 500\n\n" and bodies[1].startswith(b"event: snapshot\n")
    if ending == "server shuts down":
        assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_video_tasks_thumbnail_is_its_clip(make_client: Any) -> None:
    client: TestClient = make_client(spec=OCT_SPEC, polls_until_ready=2, credits=100_000.0)
    body = {"mode": "t2v", "prompt": "a fox", "draft": True, "duration": 5}
    task = client.post("/v1/flux-3-video", json=body, headers=AUTH).json()
    task_id = task["id"]
    poll = poll_to_end(client, task["polling_url"])
    signed = client.get(poll["result"]["sample"])
    thumbnail = client.get(f"/_mock/media/{task_id}")
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "video/mp4")
    assert thumbnail.content == signed.content
    tasks = in_app(client, client.app.control.tasks())  # type: ignore[attr-defined]
    spelling = client.app.control.statuses  # type: ignore[attr-defined]
    lists = Lists(tasks=tasks, calls=(), deliveries=(), balances={}, directives="")
    (row,) = snapshot(lists, spelling, Query())["tasks"]["rows"]
    assert (row["video"], row["format"], row["duration"], row["status"]) == (
        True,
        "mp4",
        5.0,
        "Ready",
    )


def test_stopping_the_server_ends_an_open_stream() -> None:
    server = MockServer(MockSettings(port=0, seed=0)).start()
    try:
        with (
            httpx.Client(base_url=server.url) as client,
            client.stream("GET", "/_mock/events", timeout=None) as stream,
        ):
            lines = stream.iter_lines()
            assert next(events(lines))["tasks"] == {"rows": [], "matched": 0}
            stopping = threading.Thread(target=server.stop)
            stopping.start()
            rest = list(lines)  # ends only when the server ends the stream
            stopping.join()
    finally:
        server.stop()
    assert server.app.control.closing.is_set()
    assert all(not line.startswith("event: ") for line in rest)
    # Served again, the same app streams again.
    with server, httpx.Client(base_url=server.url) as client:
        with client.stream("GET", "/_mock/events", timeout=None) as stream:
            assert next(events(stream.iter_lines()))["calls"] == {"rows": [], "matched": 0}
