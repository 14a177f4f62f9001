"""The kit's checks as schemathesis checks, ``(ctx, response, case)``, bound to one contract.

Two kinds, each registered with schemathesis under its own name:

* the BFL checks of ``checks.CHECKS`` that judge a submit: an accepted submit of the run
  is followed to its end (``TaskFollower``), then judged as the server check judges its
  own. ``validation_error_names_broken_field`` needs a request broken on purpose and
  labelled, which schemathesis does not make, so it stays with the server check.
* variants of schemathesis's own checks that apply ``tolerances``: the statuses BFL sends
  without documenting them, pydantic's lax conversions, a test server that takes any key.

Each check is made for one contract and leaves alone any operation that contract does
not have, so another API tested in the same process is not judged by BFL's rules.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import schemathesis
from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response as SchemathesisResponse
from schemathesis.openapi.checks import AuthScenario, IgnoredAuth

from contracts._cases import request_of
from contracts._contract import Contract, load_contract
from contracts._exchanges import Exchange, Response
from contracts._targets import REQUEST_TIMEOUT_SECONDS
from contracts._task_follower import DEFAULT_MAX_POLLS, LIVE_POLL_INTERVAL, TaskFollower
from contracts.checks import CHECKS, Needs, RegisteredCheck, select_names
from contracts.tolerances import (
    failed_task_poll,
    read_laxly,
    tolerated_status,
    validator_refusal,
)
from mockserver.spec.openapi import JsonSchema, Operation, OperationKind

SchemathesisCheck = Callable[[Any, SchemathesisResponse, Any], bool | None]

TOLERANT_VARIANTS = {
    "status_code_conformance": "status_code_conformance_bfl",
    "negative_data_rejection": "negative_data_rejection_bfl",
    "positive_data_acceptance": "positive_data_acceptance_bfl",
}
"""schemathesis checks the server check runs as their variant that applies ``tolerances``."""
ANY_KEY_VARIANTS = {"ignored_auth": "ignored_auth_any_key"}
"""schemathesis checks it runs as their variant for a server that takes any key."""

_REGISTERING = threading.Lock()
"""schemathesis keeps one registry per process: one server check changes it at a time."""


def register_schemathesis_checks(
    checks: Iterable[str] | None = None,
    *,
    exclude_checks: Iterable[str] = (),
    contract: Contract | None = None,
    max_polls: int = DEFAULT_MAX_POLLS,
    poll_interval: float = LIVE_POLL_INTERVAL,
) -> tuple[str, ...]:
    """Register the kit's checks with schemathesis, for your own run or pytest schema tests.

    ``checks`` names those to register (all if None: the BFL checks that judge a submit,
    then the tolerant variants of schemathesis's checks), ``exclude_checks`` those to leave
    out; an unknown name raises ``UnknownCheck``.
    Registered checks run in every later schemathesis run of the process (pass a name to
    ``exclude_checks`` of ``case.call_and_validate`` or to the CLI's ``--exclude-checks``
    to skip one). A submit they judge is polled ``max_polls`` times at most,
    ``poll_interval`` seconds apart. Returns the names registered.
    """
    contract = contract or load_contract()
    made = _made(contract, max_polls, poll_interval)
    names = select_names(tuple(made), checks, exclude_checks)
    with _REGISTERING:
        for name in names:
            schemathesis.check(made[name])
    return names


def builtin_check_names() -> tuple[str, ...]:
    """The checks schemathesis knows (its own and any a user registered), without the kit's own."""
    load_all_checks()
    return tuple(
        name
        for name, check in zip(
            SCHEMATHESIS_CHECKS.get_all_names(), SCHEMATHESIS_CHECKS.get_all(), strict=True
        )
        if not check.__module__.startswith(__name__)
    )


@contextlib.contextmanager
def registered(contract: Contract, names: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """The named checks registered for ``contract`` meanwhile; the registry restored after.

    Yields the names of every check schemathesis then knows.
    """
    made = _made(contract, DEFAULT_MAX_POLLS, 0.0)
    with _REGISTERING:
        load_all_checks()
        before = {name: SCHEMATHESIS_CHECKS.get_one(name) for name in _registered_names(made)}
        try:
            for name in names:
                schemathesis.check(made[name])
            yield tuple(SCHEMATHESIS_CHECKS.get_all_names())
        finally:
            for name in made:
                if name in SCHEMATHESIS_CHECKS.get_all_names():
                    SCHEMATHESIS_CHECKS.unregister(name)
            for check in before.values():
                SCHEMATHESIS_CHECKS.register(check)


def _registered_names(made: Iterable[str]) -> tuple[str, ...]:
    present = set(SCHEMATHESIS_CHECKS.get_all_names())
    return tuple(name for name in made if name in present)


def _made(contract: Contract, max_polls: int, poll_interval: float) -> dict[str, SchemathesisCheck]:
    made = {
        check.name: _following(check, contract, max_polls, poll_interval)
        for check in CHECKS
        if check.needs is Needs.FOLLOWED_SUBMIT
    }
    variants = (
        _status_code_conformance,
        _negative_data_rejection,
        _positive_data_acceptance,
        _ignored_auth_any_key,
    )
    for variant in variants:
        function = variant(contract)
        made[function.__name__] = function
    return made


def _operation(contract: Contract, case: Any) -> Operation | None:
    """The contract's operation of ``case``; None for an operation of another API."""
    method, path = case.operation.method.upper(), case.operation.path
    for operation in contract.operations:
        if operation.method == method and operation.path == path:
            return operation
    return None


def _following(
    check: RegisteredCheck, contract: Contract, max_polls: int, poll_interval: float
) -> SchemathesisCheck:
    def judge(ctx: Any, response: SchemathesisResponse, case: Any) -> bool | None:
        operation = _operation(contract, case)
        if (
            operation is None
            or operation.kind is not OperationKind.GENERATION
            or response.status_code != 200
        ):
            return None
        sent = response.request
        headers = {str(name).lower(): str(value) for name, value in sent.headers.items()}
        request = request_of(operation, case, headers)
        exchange = Exchange(request=request, response=_response(response))
        parts = urllib.parse.urlsplit(str(sent.url))
        key = sent.headers.get(operation.api_key_header) if operation.api_key_header else None
        with httpx.Client(
            base_url=f"{parts.scheme}://{parts.netloc}", timeout=REQUEST_TIMEOUT_SECONDS
        ) as client:
            follower = TaskFollower(
                client,
                contract,
                api_key=None if key is None else str(key),
                max_polls=max_polls,
                poll_interval=poll_interval,
            )
            exchange = follower.follow(exchange)
        return True if check(contract, exchange) else None

    judge.__name__ = judge.__qualname__ = check.name
    judge.__doc__ = check.function.__doc__
    return judge


def _response(response: SchemathesisResponse) -> Response:
    headers = {name: values[0] for name, values in response.headers.items() if values}
    return Response(response.status_code, str(response.request.url), headers, response.content)


def _builtin(name: str) -> SchemathesisCheck:
    from schemathesis.specs.openapi import checks

    check: SchemathesisCheck = getattr(checks, name)
    return check


def _tolerant(
    contract: Contract,
    builtin: str,
    forgiven: Callable[[Contract, Operation, SchemathesisResponse, Any], bool],
    doc: str,
) -> SchemathesisCheck:
    """The built-in check ``builtin``, its failures ``forgiven`` by a rule of the stance."""

    def variant(ctx: Any, response: SchemathesisResponse, case: Any) -> bool | None:
        operation = _operation(contract, case)
        if operation is None:
            return None
        try:
            return _builtin(builtin)(ctx, response, case)
        except Failure:
            if forgiven(contract, operation, response, case):
                return None
            raise

    variant.__name__ = variant.__qualname__ = TOLERANT_VARIANTS[builtin]
    variant.__doc__ = doc
    return variant


def _status_code_conformance(contract: Contract) -> SchemathesisCheck:
    return _tolerant(
        contract,
        "status_code_conformance",
        lambda contract, operation, response, case: tolerated_status(
            contract, operation, response.status_code, response.content
        ),
        "The built-in status_code_conformance, with the out-of-spec statuses BFL sends.",
    )


def _negative_data_rejection(contract: Contract) -> SchemathesisCheck:
    return _tolerant(
        contract,
        "negative_data_rejection",
        lambda contract, operation, response, case: _valid_once_converted(
            contract, operation, case
        ),
        "The built-in negative_data_rejection, minus values pydantic's lax mode converts.",
    )


def _positive_data_acceptance(contract: Contract) -> SchemathesisCheck:
    return _tolerant(
        contract,
        "positive_data_acceptance",
        lambda contract, operation, response, case: (
            validator_refusal(response.status_code, response.content)
            or failed_task_poll(contract, operation, response.status_code, response.content)
        ),
        "The built-in positive_data_acceptance, minus refusals by a business rule (a 422 of"
        " validators' value_errors) and failed tasks' polls (their task body, with a 422).",
    )


def _ignored_auth_any_key(contract: Contract) -> SchemathesisCheck:
    def ignored_auth_any_key(ctx: Any, response: SchemathesisResponse, case: Any) -> bool | None:
        """The built-in ignored_auth, for a server that takes any key: no key is refused."""
        if _operation(contract, case) is None:
            return None
        try:
            return _builtin("ignored_auth")(ctx, response, case)
        except IgnoredAuth as failure:
            # A made-up or generated key let through is what "any key" means; no key is not.
            if failure.scenario is AuthScenario.NO_AUTH:
                raise
            return None

    return ignored_auth_any_key


def _valid_once_converted(contract: Contract, operation: Operation, case: Any) -> bool:
    """Whether the request keeps the spec once the server's lax conversions are applied."""
    for value, schema in _parts(operation, case):
        if isinstance(value, NotSet) or schema is None:
            continue
        if contract.errors(read_laxly(value, schema, contract), schema):
            return False
    return True


def _parts(operation: Operation, case: Any) -> Iterator[tuple[Any, JsonSchema | None]]:
    yield case.body, operation.body_schema
    query = case.query or {}
    for parameter in operation.parameters:
        if parameter.location == "query" and parameter.name in query:
            yield query[parameter.name], parameter.schema
