"""How a server treats API keys, and how the server check checks it.

The real API refuses a key it does not know (403). A test server may take any
non-empty key instead: ``bfl-mock serve`` does unless given ``--api-keys``, and says
so. That is not "ignoring auth" as long as a request with no key is still refused,
so the check finds out which kind of server it has before schemathesis runs: it
sends one made-up key to an operation that declares a key (the credits operation
when there is one, which costs nothing even on the real API). Accepted: the server
takes any key, and ``ignored_auth`` runs as ``ignored_auth_any_key`` (``_schemathesis_checks``).
Refused, or no clear answer: ``ignored_auth`` runs in full. The report says which,
and why.
"""

from __future__ import annotations

import dataclasses

from contracts._contract import Contract
from mockserver.spec.openapi import Operation, OperationKind

MADE_UP_KEY_PREFIX = "bfl-contracts-made-up-key-"


def made_up_key(seed: int, api_key: str) -> str:
    """A key no server was given: derived from the run's seed, never ``api_key``."""
    key = f"{MADE_UP_KEY_PREFIX}{seed:08x}"
    return key if key != api_key else key + "-x"


def probe_operation(contract: Contract) -> Operation | None:
    """The operation a made-up key is sent to: credits first, then a GET, then any keyed one."""
    keyed = [operation for operation in contract.operations if operation.api_key_header]

    def cost(operation: Operation) -> tuple[bool, bool]:
        return operation.kind is not OperationKind.CREDITS, operation.method != "GET"

    return min(keyed, key=cost, default=None)


@dataclasses.dataclass(frozen=True, slots=True)
class KeyCheck:
    """Whether the server takes any key, and what the check saw or was told."""

    any_key: bool
    evidence: str
    """What decided it: the made-up key's answer, or the caller's ``any_key``."""

    @classmethod
    def told(cls, any_key: bool) -> KeyCheck:
        return cls(any_key, "as told")

    @classmethod
    def probed(cls, operation: Operation, status: int | None, error: str | None = None) -> KeyCheck:
        where = f"{operation.method} {operation.path}"
        if status is None:
            return cls(False, f"a made-up key got no answer on {where}: {error}")
        return cls(200 <= status < 300, f"a made-up key got {status} on {where}")

    def render(self) -> list[str]:
        """The report's lines on keys."""
        if not self.any_key:
            return [
                f"  API keys: wrong keys are refused ({self.evidence});",
                "    ignored_auth checks that a missing key and a wrong one are refused",
            ]
        return [
            "  API keys: any key is taken, as by bfl-mock serve without --api-keys",
            f"    ({self.evidence}); so ignored_auth was adapted:",
            "    a request without a key must still be refused, a wrong key may pass",
            "    (give the server keys, e.g. --api-keys KEY, to check wrong keys too)",
        ]
