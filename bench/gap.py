"""The suite's "gap to the bound" row at 1,000 workspaces, for two source trees side by side.

Each run is a fresh process (``PYTHONPATH`` = the tree's ``src``) doing one
cold sliding-window refresh exactly as the suite's full-refresh row does
(:func:`bench.refresh.refresh_once`: its own simulator process, re-seeded;
the lower bound, the ideal replay and the simulator's share from what was
served). Trees alternate run by run and take turns to go first; run ``k`` of
every tree is served the same latencies (seed ``1000 + k``)::

    python -m bench.gap --src ../portal-tui-old/src --src src --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.upstream import ROOT


async def _child(workspaces: int, mailboxes: int, median: float, seed: int) -> dict[str, Any]:
    from bench.refresh import RefreshRow, refresh_once
    from bench.scenario import Upstream
    from bench.schedulers import Schedule
    from bench.upstream import simulator_process

    upstream = Upstream(workspaces, mailboxes, median=median)
    async with simulator_process(
        workspaces=workspaces,
        mailboxes=mailboxes,
        per_page=upstream.per_page,
        latency=upstream.latency_spec,
        seed=upstream.seed,
    ) as sim:
        run = await refresh_once(sim, upstream, Schedule.SLIDING, seed)
    row = RefreshRow("gap", upstream, Schedule.SLIDING, [run])
    out = {name: row.figure(name).median for name in RefreshRow.FIGURES}
    out.update(
        cpu_share=row.figure("cpu_share").median,
        cpu_ms_per_request=1000 * run.cpu / max(1, run.made),
        made=run.made,
        needed=run.needed,
        failed=run.failed_workspaces,
        lower_bound=run.lower_bound,
    )
    return out


def _run(src: Path, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src))
    child = [
        sys.executable, "-m", "bench.gap", "--child", str(args.workspaces),
        str(args.mailboxes), str(args.median), str(seed),
    ]  # fmt: skip
    out = subprocess.run(child, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


FIGURES = (
    ("ratio", "wall / LB", "×", 2),
    ("ideal_ratio", "ideal / LB", "×", 2),
    ("simulator_share", "simulator's work", "×", 2),
    ("client_ratio", "client / ideal", "×", 2),
    ("wall", "wall", " s", 1),
    ("cpu_share", "client CPU", " %", 0),
    ("cpu_ms_per_request", "client CPU per request", " ms", 2),
)


def main(argv: list[str] | None = None) -> None:
    """Alternate the ``--src`` trees for ``--runs`` rounds; print each run and the medians."""
    parser = argparse.ArgumentParser(prog="python -m bench.gap")
    parser.add_argument("--src", action="append", default=[])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=50_000)
    parser.add_argument("--median", type=float, default=0.02)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="append one JSON line per run here")
    args = parser.parse_args(argv)
    if args.child:
        w, m, median, seed = args.child
        print(json.dumps(asyncio.run(_child(int(w), int(m), float(median), int(seed)))))
        return
    srcs = [Path(s).resolve() for s in args.src] or [ROOT / "src"]
    results: list[dict[str, Any]] = []
    for run in range(args.runs):
        for src in srcs if run % 2 == 0 else srcs[::-1]:
            load = os.getloadavg()
            result = _run(src, args, 1000 + run)
            result.update(src=str(src), run=run, load=[round(x, 2) for x in load])
            results.append(result)
            print(json.dumps(result), flush=True)
            if args.json:
                with args.json.open("a") as out:
                    out.write(json.dumps(result) + "\n")
    trees = list(dict.fromkeys(r["src"] for r in results))
    print("| figure | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for key, label, unit, digits in FIGURES:
        cells = []
        for tree in trees:
            values = sorted(r[key] for r in results if r["src"] == tree)
            mid = statistics.median(values)
            cells.append(f"{mid:.{digits}f}{unit} ({values[0]:.{digits}f}–{values[-1]:.{digits}f})")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
