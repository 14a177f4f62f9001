from __future__ import annotations

import pytest

from mockserver.domain.lifecycle import Progression, Stage, stage_at
from mockserver.settings import Timing


def by_polls(pending: int) -> Progression:
    return Progression(Timing.POLLS, 0.0, pending)


@pytest.mark.parametrize(
    ("pending", "progress"),
    [
        (0, []),
        (1, [None]),
        (2, [None, 1.0]),
        (3, [None, 1.0, None]),
        (4, [None, 0.5, 1.0, None]),
        (12, [None, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, None]),
    ],
)
def test_poll_count_progression(pending: int, progress: list[float | None]) -> None:
    stages = [stage_at(by_polls(pending), created_at=0, now=5, polls=n) for n in range(1, 14)]
    assert [s.progress for s in stages if not s.finished] == progress
    assert all(s.finished for s in stages[pending:])
    assert stages[pending] == Stage(finished=True, finished_at=5, started_at=0)


def test_time_progression_is_queued_then_tenths_then_finishing() -> None:
    progression = Progression(Timing.TIME, 12.0, 0)
    seen = [stage_at(progression, created_at=100, now=100 + t, polls=0) for t in range(13)]
    assert [s.progress for s in seen[:12]] == [
        None, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, None,
    ]  # fmt: skip
    assert not any(s.finished for s in seen[:12])
    assert seen[12] == Stage(finished=True, finished_at=112.0, started_at=101.0)


def test_zero_seconds_is_ready_at_once() -> None:
    stage = stage_at(Progression(Timing.TIME, 0.0, 0), created_at=1, now=1, polls=0)
    assert stage.finished and stage.finished_at == 1
