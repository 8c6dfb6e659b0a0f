"""``python -m bench [--quick | --smoke] [--only GROUP,...] [--out FILE] [--json FILE]``.

Runs the benchmark suite (see :mod:`bench`) and writes the results table
with the machine, the date and the command that produced it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.suite import GROUPS, PROFILES, Profile, Section
from bench.upstream import ROOT
from portal_tui.engine.memory import pace_collections, tune_allocator


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory} RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def render(sections: list[Section], *, command: str, started: datetime, took: float) -> str:
    """The Markdown of the results (the measured part of BENCHMARKS.md)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"- **Command**: `{command}`",
        f"- **Date**: {started:%Y-%m-%d %H:%M} UTC; the run took {took / 60:.0f} min",
        f"- **Machine**: {_machine()}; load average at the end {load} "
        "(a shared, noisy machine: other work ran beside the suite)",
        "- Every figure: median of the runs, (min–max) after it; ratios are per run, "
        "between schedules served the very same latencies.",
        "",
    ]
    for section in sections:
        lines += [f"### {section.title}", ""]
        lines.append("| " + " | ".join(section.header) + " |")
        lines.append("|" + "---|" * len(section.header))
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        lines += [""] + [f"- {note}" for note in section.notes] + [""]
    return "\n".join(lines)


async def run(profile: Profile, groups: list[str]) -> list[Section]:
    """Run ``groups`` (in the order given) and return their sections."""
    sections: list[Section] = []
    for name in groups:
        start = time.perf_counter()
        section = await GROUPS[name](profile)
        print(f"bench: {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        sections.append(section)
    return sections


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="27 workspaces, one run of each")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (the tests)")
    parser.add_argument("--runs", type=int, help="runs per figure (default: 3, quick: 1)")
    parser.add_argument("--only", help=f"comma-separated groups of {', '.join(GROUPS)}")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args(argv)
    # The process runs the product's own core and console in-process: set it up as
    # ``portal-tui`` does at start-up (cli.main).
    tune_allocator()
    pace_collections()
    profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.runs:
        from dataclasses import replace

        profile = replace(profile, runs=args.runs)
    groups = args.only.split(",") if args.only else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    os.chdir(ROOT)
    sections = asyncio.run(run(profile, groups))
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(
        sections, command=command.strip(), started=started, took=time.perf_counter() - clock
    )
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    if args.json:
        payload = {s.title: {"rows": s.rows, "notes": s.notes, "data": s.data} for s in sections}
        args.json.write_text(json.dumps(payload, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
