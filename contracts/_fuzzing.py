"""Response fuzzing: serve a client schema-valid but awkward answers, and shrink what breaks it.

``FuzzApp`` answers each operation of the spec with a body drawn by hypothesis: a
submit from the AsyncResponse branch (``cost`` null, absent or a number, extra keys),
a lifecycle of polls (Pending, then any final status, with odd progress values and
details), credits at their boundaries. ``fuzz_client`` runs a client function against
it once per drawn script; when the client raises, hypothesis shrinks the script to the
smallest set of answers that still breaks it, and the report shows those answers.

Like the real API, the submit hands out a ``polling_url`` on a second, "regional"
origin, and polls of the first origin answer 404 "Task not found".
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisException
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts._contract import (
    ID,
    POLLING_URL,
    RESULT,
    SAMPLE,
    STATUS,
    WEBHOOK_URL,
    Contract,
    load_contract,
)
from contracts._exchanges import Lifecycle
from contracts._live_app import LiveApp
from contracts._strategies import DEFAULT_API_KEY, from_lifecycle, from_response, run_settings
from contracts.checks import ContractViolation
from mockserver.render.images import formats_of
from mockserver.render.video import VideoRequest, render_video
from mockserver.spec.openapi import Operation, OperationKind, TaskStatus

SAMPLES_ROUTE = "/_fuzz/samples/{task_id}.{extension}"
DEFAULT_FUZZ_EXAMPLES = 100
NO_SCRIPT = "no script loaded: call FuzzApp.load(script) first"
FALLBACK_SIZE, FALLBACK_FORMAT, FALLBACK_SECONDS = (1024, 768), "jpeg", 5.0
"""For a request the endpoint table cannot predict an output for (a body that is not valid)."""


@dataclasses.dataclass(frozen=True, slots=True)
class FuzzScript:
    """Everything the fuzz server will answer during one run of the client."""

    submitted: Mapping[str, Any]
    lifecycle: Lifecycle
    others: Mapping[str, Any]
    """A 200 body for each operation that is neither a submit nor a poll, by operationId."""


def from_script(
    *, contract: Contract | None = None, max_pending: int = 3
) -> st.SearchStrategy[FuzzScript]:
    """Scripts for ``FuzzApp``: a submit answer, a lifecycle, and a body per other operation."""
    contract = contract or load_contract()
    generation = contract.operations_of(OperationKind.GENERATION)
    submits: st.SearchStrategy[Any] = st.just({})
    if generation:
        submits = from_response(generation[0].operation_id, contract=contract).filter(
            lambda body: isinstance(body, dict) and WEBHOOK_URL not in body
        )
    others = {
        op.operation_id: from_response(op.operation_id, contract=contract)
        for op in contract.operations
        if op.kind not in (OperationKind.GENERATION, OperationKind.RESULT)
        and op.responses.get(200) is not None
    }
    return st.builds(
        FuzzScript,
        submitted=submits,
        lifecycle=from_lifecycle(contract=contract, max_pending=max_pending),
        others=st.fixed_dictionaries(others),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Served:
    """One answer the fuzz server gave."""

    method: str
    url: str
    status: int
    body: bytes

    def describe(self) -> str:
        text = self.body.decode("utf-8", errors="replace")
        if len(text) > 600:
            text = text[:600] + "..."
        return f"{self.method} {self.url} -> {self.status} {text}"


@dataclasses.dataclass
class _Task:
    width: int
    height: int
    extension: str
    video: bool = False
    duration: float = 0.0
    audio: bool = False
    polls: int = 0


class FuzzApp:
    """An ASGI app answering the spec's operations from the loaded ``FuzzScript``."""

    def __init__(self, contract: Contract | None = None) -> None:
        self.contract = contract or load_contract()
        self.polling_origin = ""
        """Origin of polling and sample URLs; requests elsewhere are "global"."""
        self._lock = threading.Lock()
        self._script: FuzzScript | None = None
        self._tasks: dict[str, _Task] = {}
        self._served: list[Served] = []
        routes = [
            Route(op.path, self._endpoint(op), methods=[op.method])
            for op in self.contract.operations
        ]
        routes.append(Route(SAMPLES_ROUTE, self._sample, methods=["GET"]))
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def load(self, script: FuzzScript) -> None:
        """Answer from ``script`` from now on, forgetting earlier tasks and answers."""
        with self._lock:
            self._script = script
            self._tasks.clear()
            self._served.clear()

    @property
    def served(self) -> tuple[Served, ...]:
        with self._lock:
            return tuple(self._served)

    def _endpoint(self, operation: Operation) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            script = self._script
            if script is None:
                answer: tuple[int, Any] = (503, {"detail": NO_SCRIPT})
            elif operation.kind is OperationKind.GENERATION:
                answer = self._submit(script, operation, body)
            elif operation.kind is OperationKind.RESULT:
                answer = self._poll(script, request)
            else:
                answer = (200, script.others.get(operation.operation_id))
            return self._send(request, *answer)

        return endpoint

    def _submit(self, script: FuzzScript, operation: Operation, raw: bytes) -> tuple[int, Any]:
        asked = _json_object(raw)
        # What the endpoint table predicts for the request, the defaults where it says nothing.
        expected = self.contract.expected(operation, asked)
        width, height = (expected.size if expected else None) or FALLBACK_SIZE
        extension = (expected.format if expected else None) or FALLBACK_FORMAT
        task = _Task(width, height, extension)
        if expected is not None and expected.video:
            duration = expected.duration or FALLBACK_SECONDS
            task = dataclasses.replace(
                task, video=True, duration=duration, audio=bool(expected.audio)
            )
        with self._lock:
            task_id = f"00000000-0000-4000-8000-{len(self._tasks) + 1:012d}"
            self._tasks[task_id] = task
        body = {
            **script.submitted,
            ID: task_id,
            POLLING_URL: f"{self.polling_origin}{self.contract.poll_path(task_id)}",
        }
        return 200, body

    def _poll(self, script: FuzzScript, request: Request) -> tuple[int, Any]:
        task_id = request.query_params.get(self.contract.task_id_parameter, "")
        with self._lock:
            task = self._tasks.get(task_id) if self._regional(request) else None
            if task is not None:
                task.polls += 1
        if task is None:
            return 404, {ID: task_id, STATUS: self.contract.status(TaskStatus.TASK_NOT_FOUND)}
        stage = dict(script.lifecycle.at_poll(task.polls))
        stage[ID] = task_id
        result = stage.get(RESULT)
        if isinstance(result, dict) and SAMPLE in result:
            stage[RESULT] = {
                **result,
                SAMPLE: self.polling_origin
                + SAMPLES_ROUTE.format(task_id=task_id, extension=task.extension),
            }
        return 200, stage

    async def _sample(self, request: Request) -> Response:
        with self._lock:
            task = self._tasks.get(request.path_params["task_id"])
        if task is None:
            return self._send(request, 404, {"detail": "Not Found"})
        if task.video:
            clip = VideoRequest(task.width, task.height, task.duration, seed=0, audio=task.audio)
            video = await asyncio.to_thread(render_video, clip)
            return Response(video.data, 200, media_type=video.media_type)
        fmt, media = formats_of(request.path_params["extension"])
        buffer = io.BytesIO()
        Image.new("RGB", (task.width, task.height), (120, 90, 200)).save(buffer, fmt)
        return Response(buffer.getvalue(), 200, media_type=media)

    def _regional(self, request: Request) -> bool:
        return str(request.base_url).rstrip("/") == self.polling_origin

    def _send(self, request: Request, status: int, body: Any) -> Response:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        with self._lock:
            self._served.append(Served(request.method, str(request.url), status, content))
        return Response(content, status, media_type="application/json")


class ClientBroke(ContractViolation):
    """A client raised on answers the spec allows; the message shows the smallest such answers."""

    def __init__(self, message: str, served: tuple[Served, ...], error: BaseException) -> None:
        super().__init__(message)
        self.served = served
        self.error = error


def fuzz_client(
    client: Callable[[str, str], object],
    *,
    contract: Contract | None = None,
    api_key: str = DEFAULT_API_KEY,
    max_examples: int = DEFAULT_FUZZ_EXAMPLES,
    seed: int | None = None,
    expected: tuple[type[BaseException], ...] = (),
) -> int:
    """Run ``client(base_url, api_key)`` against drawn answers; raise ``ClientBroke`` if it breaks.

    ``client`` is called once per example with the fuzz server's base URL. It breaks
    when it raises anything but the ``expected`` exceptions (say, your client's own
    "generation failed" error for an Error status). hypothesis then shrinks the
    answers, and ``ClientBroke`` shows the smallest ones, the exception, and the seed.
    Returns the number of examples run.
    """
    contract = contract or load_contract()
    if seed is None:
        seed = random.randrange(2**32)
    fuzz = FuzzApp(contract)
    runs = 0
    with LiveApp(fuzz, origins=2) as live:
        base_url, fuzz.polling_origin = live.origins

        @settings(
            run_settings(max_examples, Phase.explicit, Phase.generate, Phase.shrink),
            report_multiple_bugs=False,
        )
        @given(from_script(contract=contract))
        def run(script: FuzzScript) -> None:
            nonlocal runs
            runs += 1
            fuzz.load(script)
            try:
                client(base_url, api_key)
            except expected:
                pass

        try:
            hypothesis_seed(seed)(run)()
        except Flaky as error:
            raise ClientBroke(
                f"the client failed, but not every time on the same answers: {error}",
                fuzz.served,
                error,
            ) from error
        except HypothesisException:
            raise  # a problem of the search itself, not of the client
        except Exception as error:
            served = fuzz.served
            raise ClientBroke(_broke_message(error, served, seed), served, error) from error
    return runs


def _broke_message(error: BaseException, served: tuple[Served, ...], seed: int) -> str:
    lines = [
        f"the client raised {type(error).__name__}: {error}",
        "on these answers (the smallest hypothesis found):",
    ]
    lines += [f"  {number}. {answer.describe()}" for number, answer in enumerate(served, 1)]
    lines.append(f"reproduce with fuzz_client(..., seed={seed})")
    return "\n".join(lines)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
