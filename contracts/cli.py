"""``bfl-mock check-server`` and ``bfl-mock check-client``: the kit on the command line.

``mockserver.cli`` names these commands and imports this module only when one of them
runs, so ``bfl-mock serve`` never loads hypothesis or schemathesis.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys

from contracts._client_check import DEFAULT_CLIENT_KEY, ENV_KEY, ENV_URL, check_client
from contracts._contract import load_contract
from contracts._server_check import DEFAULT_LIFECYCLES, DEFAULT_MAX_EXAMPLES, check_server
from contracts._strategies import DEFAULT_API_KEY
from contracts._targets import Target, TargetUnreachable
from contracts._task_follower import DEFAULT_MAX_POLLS, LIVE_POLL_INTERVAL
from contracts.checks import UnknownCheck
from mockserver.progress import Progress
from mockserver.settings import MockSettings

CHECK_SERVER = "check-server"
CHECK_CLIENT = "check-client"
USAGE_ERROR = 2
DEFAULT_WAIT_SECONDS = 5.0
CLIENT_PROGRESS_SECONDS = 5.0


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``command`` to its sub-parser."""
    if command == CHECK_SERVER:
        _configure_check_server(parser)
    else:
        _configure_check_client(parser)


def _configure_check_server(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check that the server at URL keeps the contract of openapi.json: schemathesis in "
        "positive and negative mode with all its checks, then the BFL checks (lifecycle, "
        "polling_url, image size and format, 422 loc). Exits 1 on any violation."
    )
    parser.add_argument(
        "url", metavar="URL", help="base URL of the server, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        help=f"key sent as x-key; the server must accept it [default {DEFAULT_API_KEY}]",
    )
    parser.add_argument(
        "--checks",
        type=_names,
        metavar="NAME,NAME",
        help="run only these checks, BFL's or schemathesis's, by name [default: all; an "
        "unknown name lists the known ones]",
    )
    parser.add_argument(
        "--exclude-checks",
        type=_names,
        default=[],
        metavar="NAME,NAME",
        help="leave out these checks, by name",
    )
    parser.add_argument(
        "--any-key",
        action=argparse.BooleanOptionalAction,
        help="whether the server takes any non-empty key, as bfl-mock serve does without "
        "--api-keys (then a request without a key must still be refused, and a wrong key "
        "may pass); --no-any-key: it must refuse wrong keys [default: find out by sending "
        "one made-up key, and say so in the report]",
    )
    # dests differ from MockSettings field names: ``bfl-mock`` reads those as mock settings.
    parser.add_argument(
        "--seed", dest="run_seed", type=int, help="seed of the run (printed; default: a fresh one)"
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=DEFAULT_MAX_EXAMPLES,
        help=f"examples per operation and generator [default {DEFAULT_MAX_EXAMPLES}]",
    )
    parser.add_argument(
        "--lifecycles",
        type=int,
        default=DEFAULT_LIFECYCLES,
        help=f"submits followed to their final status [default {DEFAULT_LIFECYCLES}]",
    )
    parser.add_argument(
        "--max-polls",
        type=int,
        default=DEFAULT_MAX_POLLS,
        help=f"polls before a task counts as never finishing [default {DEFAULT_MAX_POLLS}]",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=LIVE_POLL_INTERVAL,
        help=f"seconds between polls [default {LIVE_POLL_INTERVAL}]",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        help="seconds to wait for a server that is still starting "
        f"[default {DEFAULT_WAIT_SECONDS:g}]",
    )
    parser.add_argument(
        "--spec",
        dest="contract_spec",
        metavar="FILE",
        help="OpenAPI document to check against [default: the bundled openapi.json]",
    )
    parser.set_defaults(run=run_check_server)


def _configure_check_client(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"Start bfl-mock on a free port, run CMD with the mock's URL in {ENV_URL} and an "
        f"accepted key in {ENV_KEY}, then list every request CMD sent off the contract. "
        "Exits 1 if there was any, else with CMD's status. The mock settings flags below "
        "apply, except host, port and public URL, which are chosen here."
    )
    parser.add_argument(
        "--api-key",
        default=DEFAULT_CLIENT_KEY,
        help=f"the key given to CMD in {ENV_KEY} [default {DEFAULT_CLIENT_KEY}]",
    )
    parser.add_argument("--timeout", type=float, help="stop CMD after this many seconds")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]")
    parser.set_defaults(run=run_check_client)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run_check_server(args: argparse.Namespace, settings: MockSettings) -> int:
    contract = load_contract(args.contract_spec)
    seed = args.run_seed if args.run_seed is not None else random.randrange(2**32)
    try:
        with Progress(f"bfl-mock {CHECK_SERVER}") as progress:
            report = check_server(
                args.url,
                checks=args.checks,
                exclude_checks=args.exclude_checks,
                api_key=args.api_key,
                contract=contract,
                seed=seed,
                max_examples=args.max_examples,
                lifecycles=args.lifecycles,
                max_polls=args.max_polls,
                poll_interval=args.poll_interval,
                wait=args.wait,
                any_key=args.any_key,
                command=_again(args, seed),
                progress=progress,
            )
    except (TargetUnreachable, UnknownCheck) as error:
        print(f"bfl-mock {CHECK_SERVER}: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(report.render(), flush=True)
    return 0 if report.ok else 1


def _again(args: argparse.Namespace, seed: int) -> str:
    """The command line that runs the same check again."""
    again = [f"bfl-mock {CHECK_SERVER} {shlex.quote(args.url)}", f"--seed {seed}"]
    again.append(f"--max-examples {args.max_examples}")
    if args.api_key != DEFAULT_API_KEY:
        # A test server's key is a test key; any other server's is not printed.
        shown = shlex.quote(args.api_key) if Target.of(args.url).local else "KEY"
        again.append(f"--api-key {shown}")
    if args.checks is not None:
        again.append(f"--checks {shlex.quote(','.join(args.checks))}")
    if args.exclude_checks:
        again.append(f"--exclude-checks {shlex.quote(','.join(args.exclude_checks))}")
    if args.any_key is not None:
        again.append("--any-key" if args.any_key else "--no-any-key")
    if args.contract_spec:
        again.append(f"--spec {shlex.quote(args.contract_spec)}")
    return " ".join(again)


def run_check_client(args: argparse.Namespace, settings: MockSettings) -> int:
    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print(f"bfl-mock {CHECK_CLIENT}: give the client command after --", file=sys.stderr)
        return USAGE_ERROR
    # CMD writes to the same terminal: a line of its own now and then, not one redrawn.
    progress = Progress(
        f"bfl-mock {CHECK_CLIENT}", in_place=False, interval=CLIENT_PROGRESS_SECONDS
    )
    report = check_client(
        command,
        settings=settings,
        api_key=args.api_key,
        timeout=args.timeout,
        progress=progress,
    )
    print(report.render(), file=sys.stderr, flush=True)
    return report.exit_code
