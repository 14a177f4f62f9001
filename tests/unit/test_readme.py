"""The README documents what the code does: every setting, and the two set-up commands.

Its examples run as written: the in-process one in http/test_readme_examples.py, the
contract kit's in contract/test_readme_kit.py.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from mockserver.cli import endpoint_table
from mockserver.domain.endpoints import load_table
from mockserver.settings import MockSettings
from mockserver.spec.reading import load_spec

from readme import README
from support import ROOT


def test_settings_table_lists_every_setting_with_its_help() -> None:
    table = README.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", table, re.MULTILINE)
    }
    fields = {field.name: field.metadata["help"] for field in dataclasses.fields(MockSettings)}
    assert rows == fields


def test_endpoints_table_is_what_bfl_mock_endpoints_prints() -> None:
    table = README.split("<!-- endpoints-table")[1].split("\n", 1)[1]
    table = table.split("<!-- /endpoints-table -->")[0].strip()
    assert table == endpoint_table(load_spec(Path("latest")), load_table())


def test_first_screen_shows_exactly_two_setup_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && bfl-mock serve",
        "python3 -m venv .venv && . .venv/bin/activate && pip install tox && tox p",
    ]
    assert README.index("```sh") < 600
    # CI runs the README's test command, nothing else.
    assert "\ntox p || status=$?\n" in (ROOT / ".ci" / "run").read_text()


def test_the_benchmark_is_one_documented_command_outside_the_default_run() -> None:
    assert "```sh\ntox -e bench" in README
    tox = (ROOT / "tox.ini").read_text()
    env_list = tox.split("env_list = ", 1)[1].split("\n", 1)[0]
    assert "bench" not in env_list  # CI's `tox` does not run it
    bench_env = tox.split("[testenv:bench]", 1)[1].split("\n[", 1)[0]
    assert "python bench/run.py {posargs}" in bench_env
    assert (ROOT / "bench" / "run.py").exists()
