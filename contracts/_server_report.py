"""Reports people read: what ran, how often, what broke, and how to run it again."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Mapping

from contracts._key_probe import KeyCheck
from contracts.checks import ContractViolation

SCHEMATHESIS_PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclasses.dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, with where it broke and how to see it again."""

    check: str
    operation: str | None
    message: str
    reproduce: str | None = None
    occurrences: int = 1

    def render(self, number: int) -> str:
        where = f" [{self.operation}]" if self.operation else ""
        times = f" ({self.occurrences} examples)" if self.occurrences > 1 else ""
        lines = [f"{number}. {self.check}{where}{times}"]
        lines += [f"   {line}" for line in self.message.strip().splitlines()]
        if self.reproduce:
            lines += ["   reproduce:"] + [f"     {line}" for line in self.reproduce.splitlines()]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerReport:
    """The outcome of ``check_server``."""

    target: str
    seed: int
    max_examples: int
    cases: Mapping[str, int]
    """schemathesis test cases per phase (examples, coverage, fuzzing, stateful)."""
    checks: Mapping[str, int]
    """How many examples each check ran on: schemathesis's and the BFL checks."""
    violations: tuple[Violation, ...]
    errors: tuple[str, ...]
    """Requests that got no answer (connection reset, timeout)."""
    elapsed: float
    command: str | None = None
    """The command line that reproduces this run, when it came from the CLI."""
    keys: KeyCheck | None = None
    """How the server treats API keys, and so how ``ignored_auth`` ran (None: no keys)."""
    left_out: tuple[str, ...] = ()
    """Checks not run: not selected, or excluded (``checks=``, ``exclude_checks=``)."""

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors

    def render(self) -> str:
        total = sum(self.cases.values())
        phases = ", ".join(f"{phase} {count}" for phase, count in self.cases.items() if count)
        lines = [
            f"bfl-mock check-server: {self.target}",
            f"  seed {self.seed}, up to {self.max_examples} examples per operation, "
            f"{self.elapsed:.1f} s",
            f"  schemathesis (positive and negative, {self._which}): {total} cases"
            + (f" ({phases})" if phases else ""),
            *(self.keys.render() if self.keys else []),
            *([f"  checks left out: {', '.join(self.left_out)}"] if self.left_out else []),
            "  examples per check:",
        ]
        failed = {violation.check for violation in self.violations}
        width = max((len(name) for name in self.checks), default=0)
        for name, count in self.checks.items():
            verdict = "FAILED" if name in failed else "ok"
            lines.append(f"    {name.ljust(width)}  {count:6d}  {verdict}")
        if self.errors:
            lines.append(f"  {len(self.errors)} request(s) got no answer:")
            lines += [f"    {error}" for error in self.errors[:10]]
        if self.violations:
            lines.append(f"  {len(self.violations)} violation(s):")
            for number, violation in enumerate(self.violations, 1):
                lines += ["    " + line for line in violation.render(number).splitlines()]
        lines.append("  reproduce the run: " + (self.command or f"seed={self.seed}"))
        lines.append("PASSED" if self.ok else "FAILED")
        return "\n".join(lines)

    @property
    def _which(self) -> str:
        return "selected checks" if self.left_out else "all checks"

    def raise_for_violations(self) -> None:
        """Raise ``ContractViolation`` carrying the report, if anything broke."""
        if not self.ok:
            raise ContractViolation(self.render())


class RunRecord:
    """What a server check has seen so far: cases, checks run, violations, lost requests."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress or _quiet
        self.cases: collections.Counter[str] = collections.Counter(
            dict.fromkeys(SCHEMATHESIS_PHASES, 0)
        )
        self.checks: collections.Counter[str] = collections.Counter()
        self.violations: dict[tuple[str, str | None], Violation] = {}
        self.errors: list[str] = []

    def violated(self, violation: Violation) -> None:
        """Keep the first violation of each check and operation, and count the others."""
        key = (violation.check, violation.operation)
        known = self.violations.get(key)
        if known is None:
            self.violations[key] = violation
        else:
            self.violations[key] = dataclasses.replace(known, occurrences=known.occurrences + 1)

    def error(self, text: str) -> None:
        if text not in self.errors:
            self.errors.append(text)


def _quiet(text: str) -> None:
    """Progress nobody asked to see."""
