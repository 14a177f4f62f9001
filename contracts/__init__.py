"""bfl-mock's contract kit: prove that a server or a client keeps the contract in openapi.json.

Strategies (hypothesis), keyword-only options, built from the spec:

- ``from_request`` / ``from_invalid_request``: requests a server must accept, and
  requests that break one labelled constraint it must refuse with a 422;
- ``from_response`` / ``from_lifecycle``: answers and poll sequences a client must handle;
- ``from_schema``: values valid for any JSON Schema of the spec.

Checks, one vocabulary selected by name (``checks=``, ``exclude_checks=``):

- ``check_server(app_or_url)``: the BFL checks of the ``CHECKS`` registry plus
  schemathesis (positive and negative, all its checks); ``check_names()`` lists them;
  returns a ``ServerReport`` (``bfl-mock check-server URL``).
- ``register_schemathesis_checks()``: the BFL checks in your own schemathesis run or
  pytest schema tests.
- ``check_client(command)``: runs a command against the mock and lists its off-contract
  requests in a ``ClientReport`` (``bfl-mock check-client -- CMD``).
- ``fuzz_client(client_fn)``: runs a client function against ``FuzzApp``'s awkward but
  valid answers and raises ``ClientBroke`` with the smallest answers that break it.

The implementation lives in private modules (``contracts._*``); ``contracts.checks``
(the registry) and ``contracts.tolerances`` (what the kit accepts beyond the spec) are
public too. Everything raises ``ContractViolation`` (an ``AssertionError``) when a
contract is broken.
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

# Registers the BFL checks in ``CHECKS``.
from contracts import _bfl_checks  # noqa: F401
from contracts._client_check import ClientReport, check_client
from contracts._contract import Contract, load_contract
from contracts._exchanges import Broken, Exchange, InvalidRequest, Lifecycle, Request, Response
from contracts._fuzzing import ClientBroke, FuzzApp, FuzzScript, fuzz_client
from contracts._live_app import LiveApp
from contracts._schemathesis_checks import register_schemathesis_checks
from contracts._server_check import check_names, check_server
from contracts._server_report import ServerReport
from contracts._strategies import (
    from_invalid_request,
    from_lifecycle,
    from_request,
    from_response,
    from_schema,
)
from contracts.checks import CHECKS, ContractViolation, UnknownCheck

__all__ = [
    "Broken",
    "CHECKS",
    "ClientBroke",
    "ClientReport",
    "Contract",
    "ContractViolation",
    "Exchange",
    "FuzzApp",
    "FuzzScript",
    "InvalidRequest",
    "Lifecycle",
    "LiveApp",
    "Request",
    "Response",
    "ServerReport",
    "UnknownCheck",
    "check_client",
    "check_names",
    "check_server",
    "from_invalid_request",
    "from_lifecycle",
    "from_request",
    "from_response",
    "from_schema",
    "fuzz_client",
    "load_contract",
    "register_schemathesis_checks",
]

# Tracebacks and reprs name the public home (``contracts.ClientBroke``), not a private module.
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type) or callable(_public) and hasattr(_public, "__code__"):
        _public.__module__ = __name__
del _name, _public
