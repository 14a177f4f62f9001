"""What a finished task's poll reports beyond its status: the result and the settled cost.

The result names the sample by a signed delivery URL on the mock's origin, expiring after
the endpoint's lifetime (or at once, when a scenario says the URL expired); draft tasks add
their ``draft_cache`` bundle URL. The webhook of a task carries the same result.
"""

from __future__ import annotations

from mockserver.domain import scenarios
from mockserver.domain.endpoints import BehaviourTable, EndpointBehaviour
from mockserver.domain.scenarios import Scenario
from mockserver.render import responses
from mockserver.render.images import media_type_of
from mockserver.render.sample_urls import DRAFT_CACHE_STEM, SampleSigner
from mockserver.settings import MockSettings
from mockserver.spec.openapi import TaskStatus
from mockserver.state.records import Task

BUNDLE_EXTENSION, BUNDLE_MEDIA_TYPE = "bin", "application/octet-stream"
"""How a draft's bundle (``draft_cache``) is named and served."""


class Results:
    def __init__(
        self, settings: MockSettings, behaviours: BehaviourTable, signer: SampleSigner
    ) -> None:
        self._settings = settings
        self._behaviours = behaviours
        self._signer = signer

    def sample_result(self, task: Task, origin: str, server: Scenario) -> responses.SampleResult:
        generation = task.generation
        behaviour = self._behaviours.for_path(generation.endpoint)
        ready_at = task.finished_at or task.created_at
        started_at = task.started_at or task.created_at
        expires_at = ready_at + self._sample_ttl(task, behaviour, server)
        extension = generation.output_format
        sample = self._signer.sign(task.blob, extension, media_type_of(extension), expires_at)
        keys = behaviour.result_keys
        draft_cache = None
        if generation.draft_fields is not None:
            keys = (*keys, *behaviour.draft_keys)
            draft_cache = origin + self._signer.sign(
                task.blob, BUNDLE_EXTENSION, BUNDLE_MEDIA_TYPE, expires_at, stem=DRAFT_CACHE_STEM
            )
        return responses.SampleResult(
            keys=keys,
            sample=origin + sample,
            prompt=generation.result_prompt,
            seed=task.seed,
            start_time=started_at,
            end_time=ready_at,
            duration=ready_at - started_at,
            draft_cache=draft_cache,
        )

    def settled_cost(self, task: Task) -> float | None:
        """The cost a final poll reports, for endpoints that settle it there (video)."""
        if (
            not task.status.is_final
            or not self._behaviours.for_path(task.generation.endpoint).settled_cost
        ):
            return None
        return task.generation.price if task.status is TaskStatus.READY else 0.0

    def _sample_ttl(self, task: Task, behaviour: EndpointBehaviour, server: Scenario) -> float:
        if scenarios.parsed(task.record.directives).expired or server.expired:
            return 0.0
        configured = self._settings.sample_ttl_seconds
        return behaviour.sample_ttl_seconds if configured is None else configured
