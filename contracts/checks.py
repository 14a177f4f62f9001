"""The kit's check vocabulary: each BFL check a small named function, in one registry.

A check has one signature, ``check(contract, exchange) -> bool``: it returns False when
it does not apply to the exchange, True when it held, and raises ``ContractViolation``
with a message it builds itself when it did not (a bare ``assert`` would lose its message
outside pytest's rewritten modules). Each is registered by its function's name, the name
``check_server(checks=..., exclude_checks=...)``, ``bfl-mock check-server --checks`` and
``register_schemathesis_checks`` select it by, as schemathesis selects its own.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection, Iterable, Iterator

from contracts._contract import Contract
from contracts._exchanges import Exchange


class ContractViolation(AssertionError):
    """A server or a client broke the contract; the message says where and how."""


class UnknownCheck(ValueError):
    """A check was asked for by a name no check has; the message lists the known names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown check {name!r}; known checks: {', '.join(known)}")
        self.name = name


Check = Callable[[Contract, Exchange], bool]


class Needs(enum.Enum):
    """What exchange a check judges, and so what the server check sends for it."""

    FOLLOWED_SUBMIT = "a valid submit, followed to its final status and its sample"
    INVALID_REQUEST = "a request that breaks one labelled constraint"


@dataclasses.dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """A check, its name, and the exchange it needs."""

    name: str
    function: Check
    needs: Needs

    def __call__(self, contract: Contract, exchange: Exchange) -> bool:
        return self.function(contract, exchange)

    @property
    def description(self) -> str:
        """The first line of the check's docstring."""
        return (self.function.__doc__ or "").strip().splitlines()[0]


class CheckRegistry:
    """Checks by name, in the order they were registered."""

    def __init__(self) -> None:
        self._checks: dict[str, RegisteredCheck] = {}

    def register(self, *, needs: Needs) -> Callable[[Check], Check]:
        """Register the decorated function under its name; a name is taken only once."""

        def register(function: Check) -> Check:
            name = function.__name__
            known = self._checks.get(name)
            if known is not None and known.function is not function:
                raise ValueError(f"a check named {name!r} is already registered")
            self._checks[name] = RegisteredCheck(name, function, needs)
            return function

        return register

    def unregister(self, name: str) -> None:
        """Forget the check called ``name``; ``UnknownCheck`` if there is none."""
        if name not in self._checks:
            raise UnknownCheck(name, self._checks)
        del self._checks[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def __getitem__(self, name: str) -> RegisteredCheck:
        try:
            return self._checks[name]
        except KeyError:
            raise UnknownCheck(name, self._checks) from None

    def __iter__(self) -> Iterator[RegisteredCheck]:
        return iter(tuple(self._checks.values()))

    def __len__(self) -> int:
        return len(self._checks)

    def select(
        self, checks: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> tuple[RegisteredCheck, ...]:
        """The checks named in ``checks`` (all if None) but not in ``exclude``, in order."""
        names = select_names(self.names(), checks, exclude)
        return tuple(self._checks[name] for name in names)


def select_names(
    known: Collection[str], checks: Iterable[str] | None, exclude: Iterable[str]
) -> tuple[str, ...]:
    """``known`` names kept by ``checks`` (all if None) minus ``exclude``; ``UnknownCheck``."""
    if isinstance(checks, str) or isinstance(exclude, str):
        # A lone string would be read letter by letter, each "unknown".
        raise TypeError(f"checks are named in a list, not one string: {checks or exclude!r}")
    wanted = list(known) if checks is None else list(checks)
    excluded = list(exclude)
    for name in [*wanted, *excluded]:
        if name not in known:
            raise UnknownCheck(name, known)
    return tuple(name for name in known if name in wanted and name not in excluded)


CHECKS = CheckRegistry()
"""The BFL checks, registered by ``contracts._bfl_checks`` when the kit is imported."""
