"""``bfl-mock``: the command line. Settings come from flags, then ``BFL_MOCK_*`` variables.

Every ``MockSettings`` field is a ``serve`` flag of the same name (``--polls-until-ready``),
so the flags, the environment and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from mockserver import __version__
from mockserver.domain.endpoints import BehaviourTable, load_table
from mockserver.errors import MockServerError
from mockserver.extras import MissingExtra
from mockserver.http.addresses import is_loopback_host
from mockserver.http.app import create_app
from mockserver.render.dashboard import ADMIN_ROOT
from mockserver.serving.server import listen, server_stack
from mockserver.serving.workers import reachable, serve
from mockserver.settings import MockSettings, Timing, env_name, parse_value
from mockserver.spec import bundled
from mockserver.spec.openapi import OperationKind, Spec
from mockserver.spec.reading import load_spec, parse_spec

PROG = "bfl-mock"
# Commands of the contract kit (package ``contracts``, extra ``contracts``), imported
# only when one of them runs.
CONTRACT_COMMANDS = {
    "check-server": "check that the server at a URL keeps the contract",
    "check-client": "run a client command against the mock and list its off-contract requests",
}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = argument_parser(argv[0] if argv else None)
    except MissingExtra as error:
        print(f"{PROG} {argv[0]}: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = settings_from(args, os.environ if environ is None else environ)
        command: int = args.run(args, settings)
        return command
    except MockServerError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1


def argument_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; the contract kit's flags only for ``command``, when it is one."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="A faithful offline mock of the Black Forest Labs API."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the mock API",
        description="Serve the mock. Each flag can also be set as BFL_MOCK_<NAME>.",
    )
    add_settings_flags(serve)
    serve.set_defaults(run=_serve)
    specs = commands.add_parser(
        "specs",
        help="list the specs bundled with bfl-mock (serve one with --spec NAME)",
        description="The specs bundled with bfl-mock; `serve --spec NAME` serves one.",
    )
    specs.set_defaults(run=_specs)
    endpoints = commands.add_parser(
        "endpoints",
        help="show what each endpoint of a spec does beyond its schema (size, price, limits)",
        description="Each generation endpoint of the spec, as the endpoint table describes "
        "it: output size rule, media, price, cost on submit, statuses, limit, URL lifetime.",
    )
    endpoints.add_argument("--spec", dest="spec", metavar="SPEC", help="a file or bundled name")
    endpoints.add_argument("--endpoint-table", dest="endpoint_table", metavar="FILE")
    endpoints.set_defaults(run=_endpoints)
    for name, help_text in CONTRACT_COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == "check-client":
            add_settings_flags(sub)
        if name == command:
            from contracts.cli import configure

            configure(name, sub)
    return parser


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    hints = typing.get_type_hints(MockSettings)
    defaults = MockSettings()
    for field in dataclasses.fields(MockSettings):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        shown = json.dumps(dict(default)) if isinstance(default, Mapping) else _show(default)
        help_text = f"{field.metadata['help']} [{env_name(field.name)}; default {shown}]"
        if hints[field.name] is bool:
            parser.add_argument(
                flag, dest=field.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            parser.add_argument(flag, dest=field.name, metavar=field.name.upper(), help=help_text)


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "(none)"
    return str(getattr(value, "value", value))


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> MockSettings:
    """Flags first, then the environment, then the defaults."""
    from_env = MockSettings.from_env(environ)
    hints = typing.get_type_hints(MockSettings)
    flags: dict[str, Any] = {}
    for field in dataclasses.fields(MockSettings):
        value = getattr(args, field.name, None)
        if value is None:
            continue
        if not isinstance(value, bool):
            value = parse_value("--" + field.name.replace("_", "-"), value, hints[field.name])
        flags[field.name] = value
    return from_env.replace(**flags)


def _serve(args: argparse.Namespace, settings: MockSettings) -> int:
    # SIGTERM stops like Ctrl+C, at any time: before serving it ends the start, and uvicorn
    # raises it again once it has shut down; either way a normal stop (0), not a kill (143).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        spec = load_spec(settings.spec)
        app = create_app(settings, spec=spec)  # a setting or spec the mock cannot serve stops here
        asyncio.run(reachable(settings))
        with listen(settings.host, settings.port) as sock:
            origin = f"http://{settings.host}:{sock.getsockname()[1]}"
            print(banner(settings, spec, origin), flush=True)
            serve(settings, [sock], app)
    except KeyboardInterrupt:
        pass  # a normal stop, after the graceful shutdown
    return 0


def _specs(args: argparse.Namespace, settings: MockSettings) -> int:
    rows = [(bundled.DEFAULT.name + " (default)", bundled.DEFAULT)]
    rows += [(spec.name, spec) for spec in bundled.BUNDLED]
    for name, spec in rows:
        served = parse_spec(spec.read())
        count = len(served.operations_of(OperationKind.GENERATION))
        print(f"{name:<16} {count:>3} generation endpoints  {spec.description}")
    for alias, target in bundled.ALIASES.items():
        print(f"{alias:<16} = {target}")
    return 0


def _endpoints(args: argparse.Namespace, settings: MockSettings) -> int:
    print(endpoint_table(load_spec(settings.spec), load_table(settings.endpoint_table)))
    return 0


def endpoint_table(spec: Spec, table: BehaviourTable) -> str:
    """The behaviour of each generation endpoint of ``spec``, as a Markdown table."""
    rows = [
        table.for_path(op.path).describe() for op in spec.operations_of(OperationKind.GENERATION)
    ]
    header = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row.values()) + " |" for row in rows]
    return "\n".join(lines)


def banner(settings: MockSettings, spec: Spec, origin: str) -> str:
    """What ``serve`` prints as it starts: what is served where, and how to try it."""
    generation = spec.operations_of(OperationKind.GENERATION)
    keys = ", ".join(sorted(settings.api_keys)) or "any non-empty x-key"
    pace = (
        f"{settings.generation_seconds:g} s per image"
        if settings.timing is Timing.TIME
        else f"final after {settings.polls_until_ready} polls"
    )
    source = bundled.source_of(settings.spec)
    served = f"spec {source.name}" if isinstance(source, bundled.BundledSpec) else f"{source}"
    lines = [
        f"{PROG} {__version__}: {len(generation)} generation endpoint(s) of {served} on {origin}",
        f"  keys: {keys}; {pace}; {settings.credits:g} credits per key",
    ]
    if generation:
        lines.append(
            f"  try:  curl -s -X POST {origin}{generation[0].path} -H 'x-key: test' "
            """-H 'content-type: application/json' -d '{"prompt": "a red fox"}'"""
        )
    dashboard = f"   dashboard: {origin}{ADMIN_ROOT}/" if settings.admin else ""
    lines.append(
        f"  spec: {origin}/openapi.json{dashboard}   (Ctrl+C to stop: replies under way "
        f"get {settings.shutdown_grace_seconds} s)"
    )
    request_log = "on" if settings.access_log else "off (--access-log to show)"
    processes = "one process" if settings.workers == 1 else f"{settings.workers} processes"
    lines.append(f"  server: {server_stack()}, {processes}; a line per request: {request_log}")
    lines.append(f"  state: {settings.store}")
    if settings.admin and settings.admin_token is None and not is_loopback_host(settings.host):
        lines.append(
            f"  warning: {settings.host} is reachable from other machines and the admin API "
            "is open: anyone who reaches the port can read keys and secrets, steer and reset "
            "the mock. Set --admin-token TOKEN (or --no-admin)."
        )
    return "\n".join(lines)
