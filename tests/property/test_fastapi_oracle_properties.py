"""The mock answers as BFL's FastAPI 0.128.0 server does: a differential test against an oracle.

For every request hypothesis builds (``request_strategies``), the reference and the mock
(``oracle``) answer in process and must agree, save where a documented business rule
decides: on the bundled spec, and on every generation endpoint of each spec BFL
published. That the oracle is BFL's server, that this test catches a mock that drifts,
and FastAPI's edges one at a time, are in http/test_fastapi_oracle.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from exchange import Exchange
from reference_models import PUBLISHED, Published
from support import fastapi_oracle_missing, profile_examples

if (missing := fastapi_oracle_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

# Only with the pinned FastAPI installed: the oracle is written with it.
from oracle import Arena, Contestants, Keys, answered_as_fastapi, contest, deciding_rule
from request_strategies import api_exchanges, endpoint_exchanges, exchanges, json_submits

ORACLE_EXAMPLES = profile_examples() * 10
"""Each example is a handful of in-process requests: cheap, so this net is cast wide."""


@pytest.fixture(scope="module")
def contestants() -> Iterator[dict[Keys, Contestants]]:
    with contextlib.ExitStack() as stack:
        yield {keys: contest(stack, keys) for keys in Keys}


@pytest.fixture(scope="module")
def arena() -> Iterator[Arena]:
    with contextlib.ExitStack() as stack:
        yield Arena(stack)


# -- the differential property test ------------------------------------------------------------


def differential(apps: Contestants, exchange: Exchange) -> None:
    # Printed for a failure: hypothesis's own report of the example comes out blank while
    # schemathesis's pytest plugin is loaded.
    note(f"request: {exchange!r}")
    try:
        answer = answered_as_fastapi(apps, exchange)
    except AssertionError:
        rule = deciding_rule(exchange)
        if rule is None:
            raise
        event(f"decided by a business rule: {rule.name}")
        return
    event(f"{exchange.method} {exchange.path}: {answer.status}")  # --hypothesis-show-statistics


@settings(max_examples=ORACLE_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), exchange=json_submits)
def test_the_mock_validates_every_body_as_fastapi_does(
    contestants: dict[Keys, Contestants], keys: Keys, exchange: Exchange
) -> None:
    differential(contestants[keys], exchange)


@settings(max_examples=ORACLE_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), exchange=exchanges)
def test_the_mock_answers_every_request_as_fastapi_does(
    contestants: dict[Keys, Contestants], keys: Keys, exchange: Exchange
) -> None:
    differential(contestants[keys], exchange)


# -- every generation endpoint of each spec BFL published -------------------------------------

PUBLISHED_EXAMPLES = profile_examples() * 5
"""Per published spec, on top of ENDPOINT_EXAMPLES for each of its endpoints alone."""


ENDPOINT_EXAMPLES = profile_examples()


def published_specs() -> list[Any]:
    return [pytest.param(published, id=published.name) for published in PUBLISHED]


def published_endpoints() -> list[Any]:
    return [
        pytest.param(
            published,
            generation.path,
            id=f"{published.name}:{generation.path}",
        )
        for published in PUBLISHED
        for generation in published.generations
    ]


@pytest.mark.parametrize("published", published_specs())
@settings(max_examples=PUBLISHED_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sampled_from(Keys), data=st.data())
def test_the_mock_answers_every_published_endpoint_as_fastapi_does(
    arena: Arena, published: Published, keys: Keys, data: st.DataObject
) -> None:
    endpoints = [(generation.path, generation.body) for generation in published.generations]
    exchange = data.draw(api_exchanges(endpoints), label="exchange")
    differential(arena.contestants(published, keys), exchange)


@pytest.mark.parametrize(("published", "path"), published_endpoints())
@settings(max_examples=ENDPOINT_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_mock_validates_each_published_endpoint_as_fastapi_does(
    arena: Arena, published: Published, path: str, data: st.DataObject
) -> None:
    generation = published.generation(path)
    exchange = data.draw(endpoint_exchanges(path, generation.body), label="exchange")
    differential(arena.contestants(published, Keys.ANY), exchange)
