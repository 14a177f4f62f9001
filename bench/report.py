"""The results as markdown tables, one PASS/MISS line per target, and the saved files."""

from __future__ import annotations

import dataclasses
import datetime
import json
import statistics
from pathlib import Path
from typing import Any

from measurement import Loads
from media import MediaFigures
from preparation import (
    BENCH_DIR,
    CEILING,
    MEDIA_SPEC,
    MOCK,
    PRISM,
    PROTOCOL_BATCHES,
    RESULTS_DIR,
    SOLO_RUNS,
    WARM_UP_SECONDS,
    Plan,
    Target,
)


def _cell(figures: tuple[float, float, float, float] | None) -> str:
    if figures is None:
        return "—"
    rate, p50, p99, _ = figures
    return f"{rate:,.0f} ({p50:.1f} / {p99:.1f})"


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def tables(
    plan: Plan, loads: Loads, solo_figures: dict[str, Any], media: list[MediaFigures]
) -> tuple[str, list[str]]:
    """The results as markdown tables, and one PASS/MISS line per target."""
    lines, verdicts = _rows_table(plan, loads)
    lines += ["", *_protocol_table(plan, solo_figures)]
    figures, figure_verdicts = _figures_table(plan, solo_figures)
    lines += ["", *figures]
    verdicts += figure_verdicts
    if media:
        lines += ["", *_media_table(media)]
    return "\n".join(lines), verdicts


def _rows_table(plan: Plan, loads: Loads) -> tuple[list[str], list[str]]:
    verdicts: list[str] = []
    with_prism = plan.prism is not None
    head = (
        "| request | bfl-mock req/s (p50 / p99 ms) | ceiling req/s (p50 / p99 ms) "
        "| mock/ceiling | target | CPU µs per request, mock / ceiling | CPU used by others |"
    )
    rule = "| --- | --- | --- | --- | --- | --- | --- |"
    if with_prism:
        head += " Prism req/s (p50 / p99 ms) | Prism/ceiling |"
        rule += " --- | --- |"
    lines = [head, rule]
    for row in plan.rows:
        measured = loads.results[row.name]
        ratio = measured.ratio(MOCK)
        mock, ceiling = measured.medians(MOCK), measured.medians(CEILING)
        met = ratio is not None and row.target.met(ratio)
        verdicts.append(
            f"{_verdict(met)}  {row.name}: mock/ceiling {ratio or 0:.2f} (target {row.target})"
        )
        cpu = f"{mock[3]:.0f} / {ceiling[3]:.0f}" if mock and ceiling else "—"
        line = (
            f"| {row.name} | {_cell(mock)} | {_cell(ceiling)} | **{ratio or 0:.2f}** "
            f"| {row.target} {_verdict(met)} | {cpu} | {measured.elsewhere():.0%} |"
        )
        if with_prism:
            prism_ratio = measured.ratio(PRISM)
            line += f" {_cell(measured.medians(PRISM))} | "
            line += f"{prism_ratio:.2f} |" if prism_ratio is not None else "— |"
        lines.append(line)
    return lines, verdicts


def _protocol_table(plan: Plan, solo_figures: dict[str, Any]) -> list[str]:
    lines = [
        "The same requests without sockets (`bench/protocol.py`: uvicorn's HTTP protocol fed "
        f"in-process; CPU time, best of {PROTOCOL_BATCHES} batches, median of {SOLO_RUNS} runs; "
        "the kernel's share, equal for both, left out, so these ratios are lower bounds):",
        "",
        "| request | bfl-mock CPU µs | ceiling CPU µs | ceiling/mock |",
        "| --- | --- | --- | --- |",
    ]
    for row in plan.rows:
        figures = solo_figures["protocol"][row.name]
        mock_us, ceiling_us = figures["mock_us"], figures["ceiling_us"]
        lines.append(
            f"| {row.name} | {mock_us:.1f} | {ceiling_us:.1f} | {ceiling_us / mock_us:.2f} |"
        )
    return lines


Figure = tuple[str, str, Target | None, float]
"""A line of the figures table: name, value as shown, target if any, value compared."""


def _figures_table(plan: Plan, solo_figures: dict[str, Any]) -> tuple[list[str], list[str]]:
    startup = statistics.median(solo_figures["startup_mock_s"])
    others: list[Figure] = [
        (
            "start-up to first 200, `bfl-mock serve`",
            f"{startup:.2f} s",
            Target(1.0, False),
            startup,
        ),
        (
            "start-up to first 200, ceiling",
            f"{statistics.median(solo_figures['startup_ceiling_s']):.2f} s",
            None,
            0.0,
        ),
    ]
    render = solo_figures["render"]
    jpeg = render["first_jpeg_1024x768_ms"]
    others += [
        ("first render, 1024x768 jpeg", f"{jpeg:.1f} ms", Target(30, False), jpeg),
        (
            "first render, 1440x1440 png",
            f"{render['first_png_1440x1440_ms']:.1f} ms",
            None,
            0.0,
        ),
        (
            "later renders, 1024x768 jpeg / 1440x1440 png",
            f"{render['steady_jpeg_1024x768_ms']:.1f} / {render['steady_png_1440x1440_ms']:.1f} ms",
            None,
            0.0,
        ),
        (
            "first download of a fresh 1024x768 jpeg over HTTP",
            f"{statistics.median(plan.image.first_download_ms):.1f} ms",
            None,
            0.0,
        ),
    ]
    loop = solo_figures["loop"]
    others.append(
        (
            "longest poll while a 1440x1440 png renders",
            f"{loop['longest_poll_ms']:.1f} ms (the download took {loop['download_ms']:.0f} ms)",
            None,
            0.0,
        )
    )
    strict, lenient = solo_figures["cycles_strict"], solo_figures["cycles_lenient"]
    cycles = strict["cycles_per_second"]
    others += [
        (
            "in-process cycles/s, strict (the pytest fixtures' settings)",
            f"{cycles:.0f} ({strict['cycles_per_cpu_second']:.0f} per CPU second)",
            Target(300),
            cycles,
        ),
        (
            "in-process cycles/s, strict off",
            f"{lenient['cycles_per_second']:.0f} "
            f"({lenient['cycles_per_cpu_second']:.0f} per CPU second)",
            None,
            0.0,
        ),
    ]
    lines = ["| figure | value | target |", "| --- | --- | --- |"]
    verdicts = []
    for name, value, target, figure in others:
        if target is None:
            lines.append(f"| {name} | {value} | |")
            continue
        met = target.met(figure)
        lines.append(f"| {name} | {value} | {target} {_verdict(met)} |")
        verdicts.append(f"{_verdict(met)}  {name}: {value} (target {target})")
    return lines, verdicts


def _media_table(media: list[MediaFigures]) -> list[str]:
    lines = [
        f"Media through `bfl-mock serve --spec {MEDIA_SPEC} --timing polls` (a fresh server "
        f"per run; medians of {SOLO_RUNS} runs; the longest polls are another task's, polled "
        "back to back over a connection of its own, then again for as long with nothing "
        "rendering; server CPU from /proc, every thread, the polls answered included):",
        "",
        "| media | delivered | submit ms (longest poll) | first download ms "
        "| server CPU ms, first download | cached download ms "
        "| longest poll during the render ms (polls answered) "
        "| longest poll, nothing rendering ms (polls answered) | CPU used by others |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in media:
        last = case.runs[-1]
        lines.append(
            f"| {case.name} | {last.output}, {last.size_bytes / 1e6:.2f} MB "
            f"| {case.median(lambda run: run.submit.wall_ms):.0f} "
            f"({case.longest_submit_poll_ms:.0f}) "
            f"| {case.median(lambda run: run.first.wall_ms):.0f} "
            f"| {case.median(lambda run: run.first.server_cpu_ms):.0f} "
            f"| {case.median(lambda run: run.cached_ms):.1f} "
            f"| {case.longest_poll_ms:.1f} "
            f"({case.median(lambda run: run.first.polls.answered):.0f}) "
            f"| {case.longest_idle_poll_ms:.1f} "
            f"({case.median(lambda run: run.idle_polls.answered):.0f}) "
            f"| {case.median(lambda run: run.first.elsewhere):.0%} |"
        )
    return lines


def document(plan: Plan, loads: Loads, info: dict[str, str], tables_text: str) -> str:
    """The whole markdown report: the machine, the settings, the tables, the profiles."""
    args = plan.args
    machine_note = "\n".join(f"- {name}: {value}" for name, value in info.items())
    settings_note = (
        f"- each load: {args.connections} connections for {args.seconds:g} s; median of "
        f"{args.rounds} rounds per row, after a {WARM_UP_SECONDS:g} s warm-up of each server"
    )
    text = f"{machine_note}\n{settings_note}\n\n{tables_text}\n"
    if loads.profiles:
        text += "\nWhere the time goes (py-spy, one more load per row and server):\n"
        for name, lines in loads.profiles.items():
            text += f"\n{name}:\n" + "\n".join(lines) + "\n"
    return text


def save(
    text: str,
    verdicts: list[str],
    info: dict[str, str],
    loads: Loads,
    solo_figures: dict[str, Any],
    media: list[MediaFigures],
) -> Path:
    """``bench-STAMP.md`` and ``bench-STAMP.json`` in bench/results/; the first's path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    markdown = RESULTS_DIR / f"bench-{stamp}.md"
    markdown.write_text(text + "\n" + "\n".join(verdicts) + "\n")
    raw = {
        "machine": info,
        "rows": {
            name: {
                server: [dataclasses.asdict(sample) for sample in samples]
                for server, samples in measured.samples.items()
            }
            for name, measured in loads.results.items()
        },
        "solo": solo_figures,
        "media": [case.as_json() for case in media],
    }
    markdown.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    return markdown.relative_to(BENCH_DIR.parent)
