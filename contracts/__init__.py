"""bfl-mock's contract kit: prove that a server or a client keeps the contract in openapi.json.

Strategies (hypothesis), keyword-only options, built from the spec:

- ``from_request`` / ``from_invalid_request``: requests a server must accept, and
  requests that break one labelled constraint it must refuse with a 422;
- ``from_response`` / ``from_lifecycle``: answers and poll sequences a client must handle.

Checks:

- ``check_server(app_or_url)``: schemathesis (positive and negative, all checks) plus
  ``BFL_CHECKS``; returns a ``ServerReport`` (``bfl-mock check-server URL``).
- ``check_client(command)``: runs a command against the mock and lists its off-contract
  requests in a ``ClientReport`` (``bfl-mock check-client -- CMD``).
- ``fuzz_client(client_fn)``: runs a client function against ``FuzzApp``'s awkward but
  valid answers and raises ``ClientBroke`` with the smallest answers that break it.

Everything raises ``ContractViolation`` (an ``AssertionError``) when a contract is broken.
Needs bfl-mock's ``contracts`` extra (hypothesis and schemathesis).
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    import schemathesis  # noqa: F401
except ImportError as missing:  # pragma: no cover - exercised without the extra installed
    from mockserver.extras import CONTRACTS, MissingExtra, install_command

    raise MissingExtra(
        f"the contract kit needs hypothesis and schemathesis ({missing}); "
        f"add them with: {install_command(CONTRACTS)}"
    ) from missing

from contracts.checks import BFL_CHECKS, ContractViolation
from contracts.client_check import ClientReport, check_client
from contracts.exchanges import Broken, InvalidRequest, Lifecycle, Request
from contracts.fuzzing import ClientBroke, FuzzApp, fuzz_client
from contracts.report import ServerReport
from contracts.schema import Contract, load_contract
from contracts.server_check import check_server
from contracts.strategies import from_invalid_request, from_lifecycle, from_request, from_response

__all__ = [
    "BFL_CHECKS",
    "Broken",
    "ClientBroke",
    "ClientReport",
    "Contract",
    "ContractViolation",
    "FuzzApp",
    "InvalidRequest",
    "Lifecycle",
    "Request",
    "ServerReport",
    "check_client",
    "check_server",
    "from_invalid_request",
    "from_lifecycle",
    "from_request",
    "from_response",
    "fuzz_client",
    "load_contract",
]
