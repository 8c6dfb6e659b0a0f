"""The records file after a month: 27 workspaces at default refreshes, 30 days (issue 20).

One simulated hour of default auto-refreshes is captured from the real
monitor (:func:`bench.store_rows._capture_hour`: FakeClock, in-process
simulator). Each captured cycle is converted once with the store's own
:class:`CycleRows`; the month is then written with the store's own
:func:`insert_cycle`, an hour's cycles per transaction, their times shifted
hour by hour (every epoch-second value of the rows moves; response times and
counts do not), and after every hour :meth:`Store.prune_if_due` runs on the
clock of that hour, as the monitor calls it after a cycle (pruning every 6 h,
and, where the code has them, roll-ups every hour). Sizes are the file plus
its WAL after day 30 and after the last day; the tables' shares come from
SQLite's ``dbstat``.

``--baseline REF`` also runs this very module against ``git archive REF``
(another tree, in a second process started beside this one, the same
interpreter), so the two rows are measured side by side in one sitting::

    python -m bench.records_month --days 32 --baseline main
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.store_rows import _capture_hour
from portal_tui.store.cycle_writer import CycleRows, insert_cycle
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord
from portal_tui.store.schema import latest_version
from portal_tui.vocabulary.clock import FakeClock

ROOT = Path(__file__).resolve().parents[1]
_SPAN = 3 * 86400.0  # epoch values within this of the captured hour are times


def _same(value: str) -> str:
    return value


class _Shift:
    """Moves every time in a cycle's rows by ``delta`` seconds (rows are built once).

    ``inert`` remembers (by id) the parts of the built rows that hold no time, so
    each hour only walks the few that do.
    """

    def __init__(self, origin: float, delta: float, inert: set[int]) -> None:
        self.lo, self.hi, self.delta, self.inert = origin - _SPAN, origin + _SPAN, delta, inert

    def __call__(self, value: Any) -> Any:
        if id(value) in self.inert:
            return value
        if isinstance(value, float) and self.lo <= value <= self.hi:
            return value + self.delta
        if isinstance(value, datetime):
            return value + timedelta(seconds=self.delta)
        if isinstance(value, tuple | list):
            moved = type(value)(self(v) for v in value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value)}
            moved = dataclasses.replace(value, **changes)
        else:
            return value
        if moved == value and self.delta:
            self.inert.add(id(value))  # (the built rows live all run: ids stay theirs)
        return moved

    def calls(self, calls: Any) -> list[tuple[Any, ...]]:
        """The API call rows (the bulk), whose one time is their last column."""
        return [(*c[:11], c[11] + self.delta) for c in calls]


def _table_sizes(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT coalesce(tbl_name, d.name), sum(pgsize) FROM dbstat d"
            " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    conn.close()
    return {str(name): int(size) for name, size in found}


async def month(
    days: int = 32,
    workspaces: int = 27,
    hours: int = 24,
    raw_hours: float | None = None,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Write ``days`` days of the captured hour; sizes, timings and the tables' shares."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        hour: list[CycleRecord] = await _capture_hour(tmp, workspaces)
        capture_s = time.perf_counter() - started
        built = [
            dataclasses.replace(b, calls=())
            for b in (CycleRows.build(r, _same, _same) for r in hour)
        ]
        calls = [CycleRows.build(r, _same, _same).calls for r in hour]
        inert: set[int] = set()
        origin = hour[0].started_at
        end = max(r.finished_at for r in hour)
        clock = FakeClock(end)
        extra = {} if raw_hours is None else {"raw_hours": raw_hours}
        path = tmp / "month.sqlite3"
        store = await Store.open(path, clock=clock, **extra)
        sizes: dict[int, int] = {}
        maintenance: list[float] = []
        writes: list[float] = []
        started = time.perf_counter()
        for day in range(days):
            for h in range(hours):
                delta = timedelta(days=day, hours=h).total_seconds()
                shift = _Shift(origin.timestamp(), delta, inert)
                moved = [
                    dataclasses.replace(shift(rows), calls=shift.calls(c))
                    for rows, c in zip(built, calls, strict=True)
                ]

                async def write(conn: Any, moved: list[CycleRows] = moved) -> None:
                    for rows in moved:
                        await insert_cycle(conn, rows)

                clock.set_now(end + timedelta(seconds=delta))
                t = time.perf_counter()
                await store._db.run("bench: an hour of cycles", write)
                writes.append(time.perf_counter() - t)
                t = time.perf_counter()
                await store.prune_if_due()
                maintenance.append(time.perf_counter() - t)
            sizes[day + 1] = await store.size_bytes()
            if day + 1 == min(30, days):
                await store._db.run("bench: checkpoint", _checkpoint, mode="bare")
                shares = _table_sizes(path)
        write_s = time.perf_counter() - started
        reads: dict[str, float] = {}
        for label, span in (("history_24h", timedelta(hours=24)), ("history_30d", timedelta(30))):
            t = time.perf_counter()
            found = await store.workspace_history(clock.now() - span)
            reads[label] = time.perf_counter() - t
            reads[label + "_calls"] = sum(h.calls for h in found)
        t = time.perf_counter()
        await store.api_call_counts(clock.now() - timedelta(30))
        reads["export_counts_30d"] = time.perf_counter() - t
        version = latest_version()
        await store.close()
        if keep is not None:
            shutil.copy(path, keep)
    busy = sorted(maintenance)
    return {
        "schema_version": version,
        "cycles_per_hour": len(hour),
        "api_calls_per_hour": sum(len(r.api_calls) for r in hour),
        "sizes": sizes,
        "tables_at_30": shares,
        "capture_seconds": capture_s,
        "write_seconds": write_s,
        "hour_write_median": statistics.median(writes),
        "maintenance_median": statistics.median(busy),
        "maintenance_max": busy[-1],
        "reads": reads,
    }


async def _checkpoint(conn: Any) -> None:
    await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")


def start_baseline(ref: str, args: list[str], tmp: Path) -> subprocess.Popen[str]:
    """This module run against ``git archive ref`` (extracted under ``tmp``), started now."""
    tree = tmp / "tree"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.copy(Path(__file__), tree / "bench" / "records_month.py")
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}:{tree}"}
    return subprocess.Popen(
        [sys.executable, "-m", "bench.records_month", "--json", *args],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish_baseline(child: subprocess.Popen[str]) -> dict[str, Any]:
    """The baseline run's JSON, once it ends."""
    out, err = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"baseline run failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(out)
    return result


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown rows: one per code measured."""
    out = [
        "| code | size after 30 days | after the last day | largest tables at 30 days |"
        " maintenance per hour (median, max) | history 30 d | write time (month) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        sizes = {int(k): v for k, v in r["sizes"].items()}
        last = max(sizes)
        top = ", ".join(f"{n} {_mb(s)}" for n, s in list(r["tables_at_30"].items())[:3])
        reads = r["reads"]
        out.append(
            f"| {label} (schema {r['schema_version']}) | {_mb(sizes.get(30, sizes[last]))} |"
            f" day {last}: {_mb(sizes[last])} | {top} |"
            f" {r['maintenance_median'] * 1000:.0f} ms, {r['maintenance_max']:.2f} s |"
            f" {reads['history_30d']:.2f} s ({reads['history_30d_calls']:,} attempts) |"
            f" {r['write_seconds']:.0f} s |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.records_month")
    parser.add_argument("--days", type=int, default=32)
    parser.add_argument("--workspaces", type=int, default=27)
    parser.add_argument("--hours", type=int, default=24, help="simulated hours per day")
    parser.add_argument("--raw-hours", type=float, default=None)
    parser.add_argument("--baseline", metavar="REF", help="also measure git archive REF")
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    parser.add_argument("--keep", type=Path, help="copy this tree's file there at the end")
    ns = parser.parse_args()
    args = ["--days", str(ns.days), "--workspaces", str(ns.workspaces), "--hours", str(ns.hours)]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Both at once, in one sitting: the baseline in its own process beside this one.
        child = start_baseline(ns.baseline, args, Path(tmp)) if ns.baseline else None
        mine = asyncio.run(month(ns.days, ns.workspaces, ns.hours, ns.raw_hours, ns.keep))
        if child is not None:
            results[ns.baseline] = finish_baseline(child)
    results["this tree"] = mine
    if ns.json:
        print(json.dumps(results["this tree"] if not ns.baseline else results, default=str))
    else:
        print(table(results))


if __name__ == "__main__":
    main()
