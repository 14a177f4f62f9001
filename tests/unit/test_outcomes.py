"""What a new task will end as: the decision, and the typed value as a record keeps it."""

from __future__ import annotations

import dataclasses

import pytest

from mockserver.domain import outcomes
from mockserver.domain.generation import Generation
from mockserver.domain.outcomes import Outcome
from mockserver.domain.pricing import Price
from mockserver.domain.scenarios import NO_SCENARIO, parse
from mockserver.spec.openapi import TaskStatus
from mockserver.state.codec import RECORDS
from mockserver.state.records import TaskRecord

GENERATION = Generation(
    endpoint="/v1/flux-pro-1.1",
    api_key="k",
    prompt="a lighthouse",
    result_prompt="a lighthouse",
    seed=None,
    width=1024,
    height=768,
    output_format="jpeg",
    quote=Price(4.0, 0.0, 0.75),
)
UNUSABLE = dataclasses.replace(GENERATION, failure="Invalid input image", failure_status=422)


@pytest.mark.parametrize(
    ("directives", "generation", "expected"),
    [
        ("", GENERATION, Outcome(TaskStatus.READY)),
        ("", UNUSABLE, Outcome(TaskStatus.ERROR, error="Invalid input image", status_code=422)),
        ("error", GENERATION, Outcome(TaskStatus.ERROR, error="Generation failed")),
        ("error=GPU lost; retry", UNUSABLE, Outcome(TaskStatus.ERROR, error="GPU lost; retry")),
        (
            "",
            dataclasses.replace(GENERATION, prompt="gore and blood"),
            Outcome(TaskStatus.CONTENT_MODERATED, moderation_reasons=("Violence",)),
        ),
        (
            "",
            dataclasses.replace(GENERATION, prompt="explicit nsfw", safety_tolerance=4),
            Outcome(
                TaskStatus.REQUEST_MODERATED,
                moderation_reasons=("Safety Filter", "Sexual Content"),
            ),
        ),
        (
            "request-moderated",
            GENERATION,
            Outcome(TaskStatus.REQUEST_MODERATED, moderation_reasons=("Safety Filter",)),
        ),
        (
            "content-moderated=Derivative Works Filter",
            GENERATION,
            Outcome(TaskStatus.CONTENT_MODERATED, moderation_reasons=("Derivative Works Filter",)),
        ),
        ("ready", UNUSABLE, Outcome(TaskStatus.READY)),
    ],
    ids=[
        "ready",
        "input failure",
        "error default",
        "error with reasons",
        "moderated output by prompt",
        "moderated input by prompt",
        "moderated default reason",
        "moderated with reason",
        "ready overrides a failure",
    ],
)
def test_the_outcome_decided_at_submit(
    directives: str, generation: Generation, expected: Outcome
) -> None:
    scenario = parse(directives) if directives else NO_SCENARIO
    assert outcomes.decide(scenario, generation) == expected


@pytest.mark.parametrize(
    "outcome",
    [
        outcomes.READY,
        Outcome(TaskStatus.ERROR, error="Invalid input image", status_code=422),
        Outcome(TaskStatus.CONTENT_MODERATED, moderation_reasons=("Violence", "Safety Filter")),
    ],
    ids=lambda outcome: outcome.status.name,
)
def test_a_record_keeps_its_outcome_through_json(outcome: Outcome) -> None:
    record = TaskRecord(
        id="t", generation=GENERATION, seed=1, created_at=0.0, blob="b", outcome=outcome
    )
    assert RECORDS.validate_json(RECORDS.dump_json(record)) == record
