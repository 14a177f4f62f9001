"""``check_server``: does a server keep the contract? The BFL checks, then schemathesis.

1. The selected BFL checks (``checks.CHECKS``) run on exchanges the kit drives itself:
   valid submits followed to their final status and their sample, and invalid requests
   that break one labelled constraint each.
2. schemathesis runs every phase in positive and negative mode with the selected checks
   of its own (``_schemathesis_run``).

Checks are selected by name from one vocabulary, the BFL checks' names and
schemathesis's; a part with no check selected is not run. One seed drives both parts,
so a run is reproduced by its seed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import httpx
from hypothesis import Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from contracts import _key_probe
from contracts._contract import Contract, load_contract
from contracts._exchanges import Exchange, Request, Response
from contracts._key_probe import KeyCheck
from contracts._schemathesis_checks import builtin_check_names
from contracts._schemathesis_run import run_schemathesis
from contracts._server_report import RunRecord, ServerReport, Violation
from contracts._strategies import (
    DEFAULT_API_KEY,
    breakable,
    from_invalid_request,
    from_request,
    run_settings,
)
from contracts._targets import Target
from contracts._task_follower import DEFAULT_MAX_POLLS, LIVE_POLL_INTERVAL, TaskFollower
from contracts.checks import CHECKS, ContractViolation, Needs, RegisteredCheck, select_names
from mockserver.spec.openapi import OperationKind

DEFAULT_MAX_EXAMPLES = 100
DEFAULT_LIFECYCLES = 10
LIVE_PARALLEL_TASKS = 8
"""Tasks followed at once on a live server: well under BFL's 24 active tasks per key."""
TOO_MANY_TASKS = 429
TOO_MANY_TASKS_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 5.0
IGNORED_AUTH = "ignored_auth"
"""The schemathesis check that needs to know how the server treats keys."""

T = TypeVar("T")


def check_names() -> tuple[str, ...]:
    """Every name ``check_server(checks=...)`` takes: the BFL checks, then schemathesis's."""
    return (*CHECKS.names(), *builtin_check_names())


def check_server(
    server: Any,
    *,
    checks: Iterable[str] | None = None,
    exclude_checks: Iterable[str] = (),
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

    ``checks`` names the checks to run (all if None; ``check_names()`` lists them),
    ``exclude_checks`` those to leave out; an unknown name raises ``UnknownCheck``.
    ``api_key`` is sent as the spec's API-key header. ``any_key`` says whether the
    server takes any non-empty key (a test server may; the real API does not): None
    finds out by sending one made-up key first, and the report says what it found and
    how ``ignored_auth`` was run.
    ``max_examples`` bounds the examples per operation of each generator,
    ``lifecycles`` the submits followed to their end, ``max_polls`` the polls per
    task (``poll_interval`` seconds apart: 0 in process, 0.5 s over the network).
    ``seed`` makes the run reproducible; a fresh one is picked and reported if None.
    ``wait`` gives a server that is still starting that many seconds to listen.
    ``progress`` is called with a short line on what the run is doing (for a status
    line). The report's reproductions show the key for a server in this process or on
    loopback (a test key), and hide it for any other server.
    """
    known = check_names()
    selected = select_names(known, checks, exclude_checks)
    bfl_names = set(CHECKS.names())
    bfl = tuple(CHECKS[name] for name in selected if name in bfl_names)
    builtin = tuple(name for name in selected if name not in bfl_names)
    contract = contract or load_contract()
    target = Target.of(server)
    target.ensure_reachable(wait)
    if seed is None:
        seed = random.randrange(2**32)
    if poll_interval is None:
        poll_interval = 0.0 if target.in_process else LIVE_POLL_INTERVAL
    started = time.monotonic()
    record = RunRecord(progress)
    keys = None
    with target.serving() as base_url:
        with target.client(base_url) as client:
            # A live server is followed several tasks at a time: most of a lifecycle is waiting.
            parallel = 1 if target.in_process else LIVE_PARALLEL_TASKS
            follower = TaskFollower(
                client, contract, api_key=api_key, max_polls=max_polls, poll_interval=poll_interval
            )
            driver = _Driver(follower, parallel)
            if IGNORED_AUTH in builtin:
                keys = _key_check(record, driver, contract, api_key, seed, any_key)
            # A key is shown where it is a test key (see ``Target.local``).
            hidden = () if target.local else tuple(_key_headers(contract))
            reproduce = (
                (lambda request: request.describe())
                if target.in_process
                else (lambda request: request.curl(base_url, hide=hidden))
            )
            bfl_run = _BflRun(record, driver, contract, bfl, reproduce)
            bfl_run.run(api_key, seed, max_examples, lifecycles)
        # schemathesis last: its burst of submits must not hold the concurrency limit
        # while the kit's own tasks need it.
        if builtin:
            run_schemathesis(
                record,
                base_url,
                contract,
                checks=builtin,
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
        cases=dict(record.cases),
        checks=dict(record.checks),
        violations=tuple(record.violations.values()),
        errors=tuple(record.errors),
        elapsed=time.monotonic() - started,
        command=command,
        keys=keys,
        left_out=tuple(name for name in known if name not in selected),
    )


def _key_headers(contract: Contract) -> set[str]:
    return {op.api_key_header for op in contract.operations if op.api_key_header is not None}


def _key_check(
    record: RunRecord,
    driver: _Driver,
    contract: Contract,
    api_key: str,
    seed: int,
    any_key: bool | None,
) -> KeyCheck | None:
    """How the server treats keys: as told, or by sending one made-up key (``_key_probe``)."""
    operation = _key_probe.probe_operation(contract)
    if operation is None:
        return None
    if any_key is not None:
        return KeyCheck.told(any_key)
    record.progress(f"API keys: sending a made-up key to {operation.method} {operation.path}")
    made_up = _key_probe.made_up_key(seed, api_key)
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

    def __init__(self, follower: TaskFollower, parallel: int) -> None:
        self.follower = follower
        self.client = follower.client
        self.parallel = parallel

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
        return self.follower.follow(exchange)


class _BflRun:
    """The selected BFL checks, on the exchanges they need and nothing more."""

    def __init__(
        self,
        record: RunRecord,
        driver: _Driver,
        contract: Contract,
        checks: tuple[RegisteredCheck, ...],
        reproduce: Callable[[Request], str],
    ) -> None:
        self.record = record
        self.driver = driver
        self.contract = contract
        self.checks = checks
        self.reproduce = reproduce

    def run(self, api_key: str, seed: int, max_examples: int, lifecycles: int) -> None:
        needs = {check.needs for check in self.checks}
        if Needs.FOLLOWED_SUBMIT in needs:
            self._submits(api_key, seed, lifecycles)
        if Needs.INVALID_REQUEST in needs:
            self._invalid_requests(api_key, seed, max_examples)

    def _submits(self, api_key: str, seed: int, lifecycles: int) -> None:
        driver, contract = self.driver, self.contract
        for operation in contract.operations_of(OperationKind.GENERATION):
            label = f"{operation.method} {operation.path}"
            requests = _draw(
                from_request(operation.operation_id, contract=contract, api_key=api_key),
                lifecycles,
                seed,
            )
            sent = driver.map(lambda request: driver.send(request, follow=True), requests)
            for number, outcome in enumerate(sent, 1):
                self.record.progress(
                    f"BFL checks: {label}: {number}/{len(requests)} submits followed"
                )
                self._judge(label, outcome)

    def _invalid_requests(self, api_key: str, seed: int, max_examples: int) -> None:
        driver, contract = self.driver, self.contract
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
                self.record.progress(
                    f"BFL checks: {label}: {number}/{len(invalid)} invalid requests"
                )
                if isinstance(outcome, Exchange):
                    outcome = dataclasses.replace(outcome, broken=item.broken)
                self._judge(label, outcome)

    def _judge(self, label: str, outcome: Exchange | Exception) -> None:
        record = self.record
        if isinstance(outcome, Exception):
            record.error(f"{label}: {type(outcome).__name__}: {outcome}")
            return
        for check in self.checks:
            try:
                applied = check(self.contract, outcome)
            except ContractViolation as violation:
                record.checks[check.name] += 1
                record.violated(
                    Violation(
                        check=check.name,
                        operation=label,
                        message=str(violation),
                        reproduce=self.reproduce(outcome.request),
                    )
                )
                continue
            if applied:
                record.checks[check.name] += 1


def _draw(strategy: st.SearchStrategy[T], count: int, seed: int) -> list[T]:
    """Up to ``count`` values of ``strategy``, the same ones for the same ``seed``.

    Drawn first and used afterwards: nothing a server does can make hypothesis shrink
    or stop, so every example runs and a report lists each broken rule once.
    """
    drawn: list[T] = []
    if count <= 0:
        return drawn

    @settings(run_settings(count, Phase.explicit, Phase.generate), derandomize=False)
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
