"""Follow an accepted submit to its end: poll its ``polling_url``, then fetch its sample.

What a BFL check judges about a submit is in the ``Exchange`` this returns: the
sample the request predicts (size, format, length), the polls, the sample itself, and
why following stopped if it did. The server check follows its own submits with it, and
the schemathesis checks follow the submits of a schemathesis run.
"""

from __future__ import annotations

import dataclasses
import time

import httpx

from contracts._contract import ID, POLLING_URL, RESULT, SAMPLE, STATUS, Contract
from contracts._exchanges import Exchange, Response
from mockserver.spec.openapi import TaskStatus

DEFAULT_MAX_POLLS = 30
LIVE_POLL_INTERVAL = 0.5
"""Seconds between polls of a live server (BFL's docs poll every 0.5 s)."""


class TaskFollower:
    """Follows submits through ``client``, polling with the API key as BFL's docs do."""

    def __init__(
        self,
        client: httpx.Client,
        contract: Contract,
        *,
        api_key: str | None,
        max_polls: int = DEFAULT_MAX_POLLS,
        poll_interval: float = LIVE_POLL_INTERVAL,
    ) -> None:
        self.client = client
        self.contract = contract
        self.max_polls = max_polls
        self.poll_interval = poll_interval
        key_header = contract.result_operation.api_key_header or contract.spec.api_key_header
        # Polls carry the key too, as BFL's docs do: the spec does not require it.
        self.poll_headers = {key_header: api_key} if key_header and api_key else {}

    def follow(self, exchange: Exchange) -> Exchange:
        """``exchange`` with what the request predicts, its polls and its sample."""
        request = exchange.request
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
        return self._poll(exchange)

    def _poll(self, exchange: Exchange) -> Exchange:
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
