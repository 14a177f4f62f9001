"""The server check's schemathesis part: every phase, both modes, the selected checks.

schemathesis runs its examples, coverage, fuzzing and stateful phases in positive and
negative mode; of its checks, those BFL's undocumented behaviour would trip run as their
``tolerances`` variants (``_schemathesis_checks``), and are reported under their own
name marked with the stance.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import schemathesis
from schemathesis import engine
from schemathesis.engine import events

from contracts._contract import Contract
from contracts._schemathesis_checks import ANY_KEY_VARIANTS, TOLERANT_VARIANTS, registered
from contracts._server_report import RunRecord, Violation
from contracts._targets import REQUEST_TIMEOUT_SECONDS

BFL_STANCE = "BFL stance"
ANY_KEY_STANCE = "any key accepted"


def run_schemathesis(
    record: RunRecord,
    base_url: str,
    contract: Contract,
    *,
    checks: Collection[str],
    api_key: str,
    seed: int,
    max_examples: int,
    any_key: bool,
    show_secrets: bool,
    shown_origin: str,
) -> None:
    """Run schemathesis's ``checks`` (by their own names) against ``base_url``."""
    swapped = {**TOLERANT_VARIANTS, **(ANY_KEY_VARIANTS if any_key else {})}
    enabled = {swapped.get(name, name) for name in checks}
    key_header = contract.spec.api_key_header
    with registered(contract, [swapped[name] for name in checks if name in swapped]) as names:
        config: dict[str, Any] = {
            "seed": seed,
            "base-url": base_url,
            "headers": {key_header: api_key} if key_header else {},
            "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
            # Every check schemathesis knows is named: one not selected is off.
            "checks": {name: {"enabled": name in enabled} for name in names},
            "continue-on-failure": True,
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
            "suppress-health-check": ["all"],
            # A test server's key is a test key: its curl reproductions are to be pasted.
            "output": {"sanitization": {"enabled": not show_secrets}},
        }
        schema = schemathesis.openapi.from_dict(
            contract.plain_document(), config=schemathesis.Config.from_dict(config)
        )
        record.progress("schemathesis: starting")
        for event in engine.from_schema(schema).execute():
            _record(record, event, swapped, lambda sample: sample.replace(base_url, shown_origin))


def _record(
    record: RunRecord,
    event: events.EngineEvent,
    swapped: dict[str, str],
    shown: Callable[[str], str],
) -> None:
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        record.cases[event.phase.value] += len(recorder.cases)
        record.progress(
            f"schemathesis: {event.phase.value} phase, {sum(record.cases.values())} cases so far"
        )
        for nodes in recorder.checks.values():
            for node in nodes:
                name = _public_name(node.name, swapped)
                record.checks[name] += 1
                if node.failure_info is not None:
                    failure = node.failure_info.failure
                    record.violated(
                        Violation(
                            check=name,
                            operation=recorder.label,
                            message=f"{failure.title}\n{failure.message}",
                            reproduce=shown(node.failure_info.code_sample),
                        )
                    )
    elif isinstance(event, events.NonFatalError):
        record.error(f"{event.label}: {event.info.title}: {event.value}")
    elif isinstance(event, events.FatalError):
        raise event.exception


def _public_name(name: str, swapped: dict[str, str]) -> str:
    """Report a variant under its schemathesis name, marked with the kit's stance."""
    for builtin, variant in swapped.items():
        if name == variant:
            stance = ANY_KEY_STANCE if builtin in ANY_KEY_VARIANTS else BFL_STANCE
            return f"{builtin} ({stance})"
    return name
