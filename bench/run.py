"""bfl-mock's benchmark: the mock side by side with a bare Starlette app, in one run.

    tox -e bench                      (from a clean checkout: installs what it needs)
    python bench/run.py [--rounds 5] [--seconds 3] [--connections 50] [--prism auto|on|off]

For each row (valid submit, invalid submit, poll of a Ready task, poll of a Pending
task, download of a rendered 1024x768 jpeg) it starts ``bfl-mock serve`` with its
defaults and ``bench/ceiling.py`` (the same uvicorn settings, an app that does only
the unavoidable), pinned to one core, and drives each in turn with wrk pinned to the
other. Rounds alternate which server goes first; the table gives medians over rounds,
and the ratio mock/ceiling is the median of each round's ratio, the two loads of a
round being seconds apart. Then the start-up time, the first renders, the event loop
during a render and the in-process cycles per second; then the media of today's spec
(a 4 MP image edit, 5 s videos in hd and fhd) through a live mock: first and cached
renders, and the longest poll while they run. Targets end the output, PASS or MISS.

The work is split by job: ``preparation`` (what to run), ``measurement`` and ``media``
(running and timing it), ``report`` (tables, verdicts, saved files); this is the CLI.

Only loopback is used, every load is bounded in time, and only the processes this
script started are stopped (by pid). Results also go to bench/results/ (not in git).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mockserver.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from figures import solo_figures
from measurement import Loads
from media import measure_media
from preparation import WARM_UP_SECONDS, Plan, load_average, machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every row (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load")
    parser.add_argument("--connections", type=int, default=50, help="open connections per load")
    parser.add_argument(
        "--prism",
        choices=["auto", "on", "off"],
        default="auto",
        help="also measure Stoplight Prism (auto: when node and npm are present)",
    )
    parser.add_argument(
        "--python-load",
        action="store_true",
        help="use the Python load generator (bench/pyload.py) even where wrk is installed",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after each row, sample the mock under one more load with py-spy",
    )
    parser.add_argument(
        "--media",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the 4 MP image edit and the hd/fhd videos through a live mock",
    )
    args = parser.parse_args()
    plan = Plan(args)
    info = machine(plan)
    for name, value in info.items():
        print(f"{name}: {value}")
    print(
        f"each load: {args.connections} connections for {args.seconds:g} s; {args.rounds} "
        f"rounds per row after a {WARM_UP_SECONDS:g} s warm-up of each server\n",
        flush=True,
    )
    # On a terminal, a status line says where the run is; in a log, only results.
    with Progress("bench") as progress:
        loads = Loads(plan, progress)
        loads.run()
    print("start-up, renders, event loop, in-process cycles", flush=True)
    solo = solo_figures(plan)
    if plan.media:
        print("media: first and cached renders, polls meanwhile", flush=True)
    media = measure_media(plan)
    info["load average at end"] = load_average()
    tables, verdicts = report.tables(plan, loads, solo, media)
    text = report.document(plan, loads, info, tables)
    print("\n" + text)
    print("\n".join(verdicts))
    saved = report.save(text, verdicts, info, loads, solo, media)
    print(f"\nsaved in {saved} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
