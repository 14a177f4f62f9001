"""``check_client``: run any client command against the mock and judge every request it sent.

The mock validates each request as BFL's server does and journals it with its verdict,
so an off-contract request is listed with the mock's own reason
(``body.width: Input should be a multiple of 32 (multiple_of)``).

The mock listens on two origins, the way BFL's global host hands out polling URLs on a
regional one (``api.bfl.ai`` -> ``api.us1.bfl.ai``): the command gets the first, every
``polling_url`` and sample URL points at the second. A client that polls the first
origin instead of following ``polling_url`` is caught, as the real API would catch it
(off-region polls answer "Task not found").
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from contracts._live_app import LOOPBACK, LiveApp, bind_loopback, origin_of
from mockserver import Call, MockSettings, create_app
from mockserver.serving.server import call_in_app, off_contract
from mockserver.spec.reading import load_spec

ENV_URL = "BFL_API_URL"
"""Environment variable carrying the mock's base URL to the command."""
ENV_KEY = "BFL_API_KEY"
"""Environment variable carrying the API key (the published Python client reads it)."""
DEFAULT_CLIENT_KEY = "bfl-mock-client-key"
COMMAND_NOT_FOUND = 127
SIGNAL_EXIT_BASE = 128
PROGRESS_SECONDS = 1.0
"""How often ``progress`` hears how many requests the command has sent so far."""


@dataclasses.dataclass(frozen=True, slots=True)
class ClientReport:
    """What a client command sent, and everything it did wrong."""

    command: tuple[str, ...]
    base_url: str
    polling_origin: str
    returncode: int
    timed_out: bool
    requests: int
    off_contract: tuple[str, ...]
    """Requests the mock refused: request line, status, and the mock's reasons."""
    unfollowed_polls: tuple[str, ...]
    """Polls sent to the base URL instead of the task's ``polling_url``."""
    mock_errors: tuple[str, ...]
    """Answers of the mock that broke the spec (a bfl-mock bug, not the client's)."""
    error: str | None = None

    @property
    def violations(self) -> tuple[str, ...]:
        return self.off_contract + self.unfollowed_polls

    @property
    def ok(self) -> bool:
        return not self.violations and not self.mock_errors and self.returncode == 0

    def render(self) -> str:
        shown = " ".join(self.command)
        lines = [
            f"bfl-mock check-client: {shown}",
            f"  {ENV_URL}={self.base_url}  {ENV_KEY}=<key>  "
            f"(polling URLs on {self.polling_origin})",
            f"  {self.requests} request(s), {len(self.violations)} off the contract",
        ]
        number = 0
        for entry in self.violations:
            number += 1
            first, *rest = entry.splitlines()
            lines.append(f"  {number}. {first}")
            lines += [f"     {line.strip()}" for line in rest]
        if self.mock_errors:
            lines.append("  bfl-mock answered off-spec (a bfl-mock bug, please report it):")
            lines += [f"    {problem}" for problem in self.mock_errors]
        if self.requests == 0:
            lines.append(f"  the command sent no request: does it read {ENV_URL}?")
        if self.error:
            lines.append(f"  {self.error}")
        elif self.timed_out:
            lines.append("  the command did not finish in time and was stopped")
        elif self.returncode != 0:
            lines.append(f"  the command exited with status {self.returncode}")
        lines.append("PASSED" if self.ok else "FAILED")
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """0 when all was well; 1 for violations; else the command's own failure status."""
        if self.violations or self.mock_errors:
            return 1
        if self.returncode < 0:  # killed by a signal, as a shell reports it
            return SIGNAL_EXIT_BASE - self.returncode
        return self.returncode


def check_client(
    command: Sequence[str],
    *,
    settings: MockSettings | None = None,
    api_key: str = DEFAULT_CLIENT_KEY,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ClientReport:
    """Run ``command`` against a fresh mock and report every off-contract request.

    The command finds the mock's URL in ``BFL_API_URL`` and a key it accepts in
    ``BFL_API_KEY`` (``api_key``; the mock accepts no other unless ``settings`` lists
    keys). ``settings`` configure the mock (timing, seeds, ...); its host, port and
    public URL are chosen here. ``timeout`` stops a command that hangs. ``progress``
    hears, while the command runs, how many requests it has sent and how many the
    mock refused.
    """
    settings = settings or MockSettings()
    global_socket, regional_socket = bind_loopback(), bind_loopback()
    base_url, polling_origin = origin_of(global_socket), origin_of(regional_socket)
    spec = load_spec(settings.spec)
    app = create_app(
        spec=spec,
        settings=settings.replace(
            host=LOOPBACK,
            port=0,
            public_url=polling_origin,
            strict=True,
            api_keys=settings.api_keys or frozenset({api_key}),
        ),
    )

    def tell() -> None:
        if progress is not None:
            sent = call_in_app(app, app.control.calls())
            refused = sum(not call.accepted for call in sent)
            progress(f"{len(sent)} request(s) so far, {refused} refused")

    with LiveApp(app, [global_socket, regional_socket]):
        environment = {**os.environ, **(env or {}), ENV_URL: base_url, ENV_KEY: api_key}
        returncode, timed_out, error = _run(command, environment, timeout, tell)
        calls: tuple[Call, ...] = call_in_app(app, app.control.calls())
    result_operation = spec.result_operation.operation_id
    return ClientReport(
        command=tuple(command),
        base_url=base_url,
        polling_origin=polling_origin,
        returncode=returncode,
        timed_out=timed_out,
        requests=len(calls),
        off_contract=tuple(off_contract(calls)),
        unfollowed_polls=tuple(_unfollowed(calls, result_operation, polling_origin)),
        mock_errors=tuple(problem for call in calls for problem in call.response_problems),
        error=error,
    )


def _run(
    command: Sequence[str],
    environment: Mapping[str, str],
    timeout: float | None,
    tell: Callable[[], None],
) -> tuple[int, bool, str | None]:
    try:
        # A session of its own, so that a command that hangs is stopped with its children.
        process = subprocess.Popen(list(command), env=dict(environment), start_new_session=True)
    except OSError as error:
        return COMMAND_NOT_FOUND, False, f"cannot run {command[0]!r}: {error.strerror or error}"
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            left = PROGRESS_SECONDS if deadline is None else deadline - time.monotonic()
            try:
                return process.wait(timeout=max(0.0, min(left, PROGRESS_SECONDS))), False, None
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    _stop(process)
                    return process.returncode, True, None
                tell()
    except BaseException:
        _stop(process)
        raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _unfollowed(calls: Sequence[Call], result_operation: str, polling_origin: str) -> list[str]:
    """Polls sent anywhere but the polling origin; repeats of one poll are listed once."""
    regional = urllib.parse.urlsplit(polling_origin).netloc
    counts: dict[str, int] = {}
    for call in calls:
        host = call.header("host")
        if call.operation_id != result_operation or host == regional:
            continue
        target = call.path + (f"?{call.query}" if call.query else "")
        entry = (
            f"{call.method} {target} -> {call.status}\n"
            f"sent to {host}, not to the task's polling_url on {regional}: follow polling_url "
            f'(the real API answers "Task not found" off-region)'
        )
        counts[entry] = counts.get(entry, 0) + 1
    return [
        entry.replace("\n", f" ({count} times)\n", 1) if count > 1 else entry
        for entry, count in counts.items()
    ]
