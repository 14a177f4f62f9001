"""``check_server``: does a server keep the contract? The BFL checks, then schemathesis.

1. The BFL checks (``checks``) run on exchanges the kit drives itself: valid submits
   followed to their final status and their image, and invalid requests that break
   one labelled constraint each.
2. schemathesis runs every phase (examples, coverage, fuzzing, stateful) in positive
   and negative mode with every check it has, two of them through the kit's stance on
   what the spec leaves out (``stance``).

One seed drives both, so a run is reproduced by its seed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import engine
from schemathesis.engine import events

from contracts import keys, stance
from contracts.checks import BFL_CHECKS, ContractViolation
from contracts.exchanges import Exchange, Request, Response
from contracts.keys import KeyCheck
from contracts.report import ServerReport, Violation
from contracts.schema import (
    ID,
    POLLING_URL,
    RESULT,
    SAMPLE,
    STATUS,
    Contract,
    load_contract,
)
from contracts.strategies import DEFAULT_API_KEY, breakable, from_invalid_request, from_request
from contracts.targets import REQUEST_TIMEOUT_SECONDS, Target
from mockserver.spec.openapi import OperationKind, TaskStatus

DEFAULT_MAX_EXAMPLES = 100
DEFAULT_LIFECYCLES = 10
DEFAULT_MAX_POLLS = 30
LIVE_PARALLEL_TASKS = 8
"""Tasks followed at once on a live server: well under BFL's 24 active tasks per key."""
LIVE_POLL_INTERVAL = 0.5
"""Seconds between polls of a live server (BFL's docs poll every 0.5 s)."""
TOO_MANY_TASKS = 429
TOO_MANY_TASKS_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 5.0
SCHEMATHESIS_PHASES = ("examples", "coverage", "fuzzing", "stateful")
BFL_STANCE = "BFL stance"
ANY_KEY_STANCE = "any key accepted"

T = TypeVar("T")


def check_server(
    server: Any,
    *,
    api_key: str = DEFAULT_API_KEY,
    contract: Contract | None = None,
    seed: int | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    lifecycles: int = DEFAULT_LIFECYCLES,
    max_polls: int = DEFAULT_MAX_POLLS,
    poll_interval: float | None = None,
    wait: float = 0.0,
    any_key: bool | None = None,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ServerReport:
    """Check that ``server`` (a base URL, or an ASGI app) keeps the contract.

    ``api_key`` is sent as the spec's API-key header. ``any_key`` says whether the
    server takes any non-empty key (a test server may; the real API does not): None
    finds out by sending one made-up key first (``contracts.keys``), and the report
    says what it found and how ``ignored_auth`` was run.
    ``max_examples`` bounds the examples per operation of each generator,
    ``lifecycles`` the submits followed to their end, ``max_polls`` the polls per
    task (``poll_interval`` seconds apart: 0 in process, 0.5 s over the network).
    ``seed`` makes the run reproducible; a fresh one is picked and reported if None.
    ``wait`` gives a server that is still starting that many seconds to listen.
    ``progress`` is called with a short line on what the run is doing (for a status
    line). The report's reproductions show the key for a server in this process or on
    loopback (a test key), and hide it for any other server.
    """
    contract = contract or load_contract()
    target = Target.of(server)
    target.ensure_reachable(wait)
    if seed is None:
        seed = random.randrange(2**32)
    if poll_interval is None:
        poll_interval = 0.0 if target.in_process else LIVE_POLL_INTERVAL
    started = time.monotonic()
    run = _Run(progress)
    with target.serving() as base_url:
        with target.client(base_url) as client:
            # A live server is followed several tasks at a time: most of a lifecycle is waiting.
            parallel = 1 if target.in_process else LIVE_PARALLEL_TASKS
            driver = _Driver(client, contract, api_key, max_polls, poll_interval, parallel)
            keys = _key_check(run, driver, contract, api_key, seed, any_key)
            # A key is shown where it is a test key (see ``Target.local``).
            hidden = () if target.local else tuple(_key_headers(contract))
            reproduce = (
                (lambda request: request.describe())
                if target.in_process
                else (lambda request: request.curl(base_url, hide=hidden))
            )
            _run_bfl_checks(
                run, driver, contract, api_key, seed, max_examples, lifecycles, reproduce
            )
        # schemathesis last: its burst of submits must not hold the concurrency limit
        # while the kit's own tasks need it.
        _run_schemathesis(
            run,
            base_url,
            contract,
            api_key=api_key,
            seed=seed,
            max_examples=max_examples,
            any_key=keys is not None and keys.any_key,
            show_secrets=target.local,
            # An app's port is gone after the run: its reproductions name the path alone.
            shown_origin="" if target.in_process else base_url,
        )
    return ServerReport(
        target=target.describe(),
        seed=seed,
        max_examples=max_examples,
        cases=dict(run.cases),
        checks=dict(run.checks),
        violations=tuple(run.violations.values()),
        errors=tuple(run.errors),
        elapsed=time.monotonic() - started,
        command=command,
        keys=keys,
    )


class _Run:
    """What a check run has seen so far."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress or _quiet
        self.cases: collections.Counter[str] = collections.Counter(
            dict.fromkeys(SCHEMATHESIS_PHASES, 0)
        )
        self.checks: collections.Counter[str] = collections.Counter()
        self.violations: dict[tuple[str, str | None], Violation] = {}
        self.errors: list[str] = []

    def violated(self, violation: Violation) -> None:
        """Keep the first violation of each check and operation, and count the others."""
        key = (violation.check, violation.operation)
        known = self.violations.get(key)
        if known is None:
            self.violations[key] = violation
        else:
            self.violations[key] = dataclasses.replace(known, occurrences=known.occurrences + 1)

    def error(self, text: str) -> None:
        if text not in self.errors:
            self.errors.append(text)


def _run_schemathesis(
    run: _Run,
    base_url: str,
    contract: Contract,
    *,
    api_key: str,
    seed: int,
    max_examples: int,
    any_key: bool,
    show_secrets: bool,
    shown_origin: str,
) -> None:
    key_header = contract.spec.api_key_header
    swapped = {**stance.CHECK_NAMES, **(stance.ANY_KEY_CHECK_NAMES if any_key else {})}
    # Every wrapper is registered with schemathesis; those of another kind of run stay off.
    idle = {wrapper for wrapper in stance.ANY_KEY_CHECK_NAMES.values() if not any_key}
    config: dict[str, Any] = {
        "seed": seed,
        "base-url": base_url,
        "headers": {key_header: api_key} if key_header else {},
        "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
        "checks": {name: {"enabled": False} for name in [*swapped, *idle]},
        "continue-on-failure": True,
        "request-timeout": REQUEST_TIMEOUT_SECONDS,
        "suppress-health-check": ["all"],
        # A test server's key is a test key: its curl reproductions are to be pasted.
        "output": {"sanitization": {"enabled": not show_secrets}},
    }
    schema = schemathesis.openapi.from_dict(
        contract.plain_document(), config=schemathesis.Config.from_dict(config)
    )
    stance.bind(schema, contract)
    run.progress("schemathesis: starting")
    try:
        for event in engine.from_schema(schema).execute():
            _record(run, event, swapped, lambda sample: sample.replace(base_url, shown_origin))
    finally:
        stance.unbind(schema)


def _record(
    run: _Run,
    event: events.EngineEvent,
    swapped: dict[str, str],
    shown: Callable[[str], str],
) -> None:
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        run.cases[event.phase.value] += len(recorder.cases)
        run.progress(
            f"schemathesis: {event.phase.value} phase, {sum(run.cases.values())} cases so far"
        )
        for nodes in recorder.checks.values():
            for node in nodes:
                name = _public_name(node.name, swapped)
                run.checks[name] += 1
                if node.failure_info is not None:
                    failure = node.failure_info.failure
                    run.violated(
                        Violation(
                            check=name,
                            operation=recorder.label,
                            message=f"{failure.title}\n{failure.message}",
                            reproduce=shown(node.failure_info.code_sample),
                        )
                    )
    elif isinstance(event, events.NonFatalError):
        run.error(f"{event.label}: {event.info.title}: {event.value}")
    elif isinstance(event, events.FatalError):
        raise event.exception


def _public_name(name: str, swapped: dict[str, str]) -> str:
    """Report a wrapped check under its schemathesis name, marked with the kit's stance."""
    for builtin, wrapper in swapped.items():
        if name == wrapper:
            stance_name = ANY_KEY_STANCE if builtin in stance.ANY_KEY_CHECK_NAMES else BFL_STANCE
            return f"{builtin} ({stance_name})"
    return name


def _key_headers(contract: Contract) -> set[str]:
    return {op.api_key_header for op in contract.operations if op.api_key_header is not None}


def _quiet(text: str) -> None:
    """Progress nobody asked to see."""


def _key_check(
    run: _Run, driver: _Driver, contract: Contract, api_key: str, seed: int, any_key: bool | None
) -> KeyCheck | None:
    """How the server treats keys: as told, or by sending one made-up key (``keys``)."""
    operation = keys.probe_operation(contract)
    if operation is None:
        return None
    if any_key is not None:
        return KeyCheck.told(any_key)
    run.progress(f"API keys: sending a made-up key to {operation.method} {operation.path}")
    made_up = keys.made_up_key(seed, api_key)
    requests = _draw(
        from_request(operation.operation_id, contract=contract, api_key=made_up), 1, seed
    )
    if not requests:
        return KeyCheck.told(False)
    try:
        answer = requests[0].send(driver.client)
    except (httpx.HTTPError, ValueError) as error:
        return KeyCheck.probed(operation, None, f"{type(error).__name__}: {error}")
    return KeyCheck.probed(operation, answer.status)


class _Driver:
    """Sends the kit's own requests and follows a submit to its end."""

    def __init__(
        self,
        client: httpx.Client,
        contract: Contract,
        api_key: str,
        max_polls: int,
        poll_interval: float,
        parallel: int,
    ) -> None:
        self.client = client
        self.parallel = parallel
        self.contract = contract
        self.max_polls = max_polls
        self.poll_interval = poll_interval
        key_header = contract.result_operation.api_key_header or contract.spec.api_key_header
        # Polls carry the key too, as BFL's docs do: the spec does not require it.
        self.poll_headers = {key_header: api_key} if key_header else {}

    def map(self, send: Callable[[T], Exchange], items: list[T]) -> Iterator[Exchange | Exception]:
        """``send`` each item, in order; over the network, several at a time."""

        def attempt(item: T) -> Exchange | Exception:
            try:
                return send(item)
            except (httpx.HTTPError, ValueError) as error:
                return error

        if self.parallel <= 1:
            yield from map(attempt, items)
            return
        with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
            yield from pool.map(attempt, items)

    def send(self, request: Request, *, follow: bool = False) -> Exchange:
        response = request.send(self.client)
        for _ in range(TOO_MANY_TASKS_RETRIES if follow else 0):
            if response.status != TOO_MANY_TASKS:
                break
            # A task the kit means to follow waits for a slot, as a polite client does.
            time.sleep(_retry_after(response))
            response = request.send(self.client)
        exchange = Exchange(request=request, response=response)
        if not follow or response.status != 200:
            return exchange
        expected = self.contract.expected(
            self.contract.operation(request.operation_id), request.body
        )
        if expected is not None:
            exchange = dataclasses.replace(
                exchange,
                requested_size=expected.size,
                requested_format=expected.format,
                requested_video=expected.video,
                requested_duration=expected.duration,
                requested_audio=expected.audio,
            )
        return self._follow(exchange)

    def _follow(self, exchange: Exchange) -> Exchange:
        try:
            submitted = exchange.response.json()
            url = submitted.get(POLLING_URL)
            task_id = submitted.get(ID)
        except (ValueError, AttributeError):
            return exchange
        if not isinstance(url, str) and isinstance(task_id, str):
            # A webhook submit (AsyncWebhookResponse) has no polling_url: poll by id.
            url = self.contract.poll_path(task_id)
        if not isinstance(url, str):
            return exchange
        polls: list[Response] = []
        finals = self.contract.final_statuses
        poll_error = None
        for number in range(self.max_polls):
            if number and self.poll_interval:
                time.sleep(self.poll_interval)
            try:
                poll = Response.of(self.client.get(url, headers=self.poll_headers))
            except (httpx.HTTPError, ValueError) as error:
                poll_error = f"{type(error).__name__}: {error}"
                break
            polls.append(poll)
            if poll.status != 200 or poll.field(STATUS) in finals:
                break
        sample, sample_error = self._download(polls)
        return dataclasses.replace(
            exchange,
            followed=True,
            polls=tuple(polls),
            poll_error=poll_error,
            sample=sample,
            sample_error=sample_error,
        )

    def _download(self, polls: list[Response]) -> tuple[Response | None, str | None]:
        ready = self.contract.status(TaskStatus.READY)
        if not polls or polls[-1].field(STATUS) != ready:
            return None, None
        result = polls[-1].field(RESULT)
        url = result.get(SAMPLE) if isinstance(result, dict) else None
        if not isinstance(url, str):
            return None, None
        try:
            return Response.of(self.client.get(url)), None
        except (httpx.HTTPError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"


def _run_bfl_checks(
    run: _Run,
    driver: _Driver,
    contract: Contract,
    api_key: str,
    seed: int,
    max_examples: int,
    lifecycles: int,
    reproduce: Callable[[Request], str],
) -> None:
    for operation in contract.operations_of(OperationKind.GENERATION):
        label = f"{operation.method} {operation.path}"
        requests = _draw(
            from_request(operation.operation_id, contract=contract, api_key=api_key),
            lifecycles,
            seed,
        )
        sent = driver.map(lambda request: driver.send(request, follow=True), requests)
        for number, outcome in enumerate(sent, 1):
            run.progress(f"BFL checks: {label}: {number}/{len(requests)} submits followed")
            _judge(run, contract, label, outcome, reproduce)
    for operation in contract.operations:
        if not breakable(contract, operation):
            continue
        label = f"{operation.method} {operation.path}"
        invalid = _draw(
            from_invalid_request(operation.operation_id, contract=contract, api_key=api_key),
            max_examples,
            seed,
        )
        sent = driver.map(lambda item: driver.send(item.request), invalid)
        for number, (item, outcome) in enumerate(zip(invalid, sent, strict=True), 1):
            run.progress(f"BFL checks: {label}: {number}/{len(invalid)} invalid requests")
            if isinstance(outcome, Exchange):
                outcome = dataclasses.replace(outcome, broken=item.broken)
            _judge(run, contract, label, outcome, reproduce)


def _judge(
    run: _Run,
    contract: Contract,
    label: str,
    outcome: Exchange | Exception,
    reproduce: Callable[[Request], str],
) -> None:
    if isinstance(outcome, Exception):
        run.error(f"{label}: {type(outcome).__name__}: {outcome}")
        return
    for check in BFL_CHECKS:
        try:
            applied = check(contract, outcome)
        except ContractViolation as violation:
            run.checks[check.__name__] += 1
            run.violated(
                Violation(
                    check=check.__name__,
                    operation=label,
                    message=str(violation),
                    reproduce=reproduce(outcome.request),
                )
            )
            continue
        if applied:
            run.checks[check.__name__] += 1


def _draw(strategy: st.SearchStrategy[T], count: int, seed: int) -> list[T]:
    """Up to ``count`` values of ``strategy``, the same ones for the same ``seed``.

    Drawn first and used afterwards: nothing a server does can make hypothesis shrink
    or stop, so every example runs and a report lists each broken rule once.
    """
    drawn: list[T] = []
    if count <= 0:
        return drawn

    @settings(
        settings.get_profile("default"),
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        drawn.append(value)

    hypothesis_seed(seed)(collect)()
    return drawn


def _retry_after(response: Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", "1")), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return 1.0
