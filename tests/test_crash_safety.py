"""Crash safety: kill -9 a process while it writes refresh cycles, many times.

A child process opens the real :class:`Store` and records big refresh cycles
in a loop (thousands of ``api_health_logs`` rows, validation issues,
transitions and a large snapshot each), printing each cycle's id once
``record_cycle`` has returned. The parent SIGKILLs it at chosen moments:

- most kills land **inside** a write transaction, by construction: the child
  traces its SQL and, at a chosen statement of a chosen cycle (the first row,
  a row among the logs, the snapshot, the transitions, the ``COMMIT``
  itself), says so and stops; the parent kills it on that word. Its page
  cache is small, so a big cycle has spilled uncommitted pages into the WAL
  by then. No timer decides, so a busy machine changes nothing;
- the rest land wherever a timer puts them: while it imports, opens or
  migrates the file, or just after a commit, somewhere in the next write
  (its COMMIT's own writes included).

The same file takes every kill. Afterwards:

- ``PRAGMA integrity_check`` says ``ok`` and no file was moved aside;
- every ``refresh_cycles`` row is whole: exactly as many ``api_health_logs``
  rows carry its id as it says it made (``requests``), and the transitions
  it wrote are there;
- no half cycle: no log row points at a cycle that is not there;
- every cycle the child saw committed survived the kill, and no cycle a
  kill stopped inside its transaction is there;
- every saved snapshot matches its checksum.

About 10 s on two idle cores (most of it starting Python 16 times).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

KILLS = 16

CHILD = textwrap.dedent(
    """
    import asyncio, json, sqlite3, sys, threading
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from portal_tui.vocabulary.clock import SystemClock
    from portal_tui.vocabulary.names import DashboardName
    from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue
    from portal_tui.fetch.events import ApiCallRecord
    from portal_tui.store import CycleRecord, StateTransition, Store
    from portal_tui.store.records import SnapshotRecord, snapshot_checksum

    path, seed = Path(sys.argv[1]), int(sys.argv[2])
    # Where to stop: inside the write of cycle number ``stop_cycle`` (counted from 0 in
    # this process), at occurrence ``stop_at`` of a statement starting with ``stop_sql``.
    stop_cycle, stop_sql, stop_at = int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    armed = False
    seen = 0

    def trace(sql: str) -> None:
        # Runs in the connection's thread as each statement starts (per row of an
        # executemany): the transaction is open and the earlier rows are written.
        global seen
        if armed and sql.lstrip().startswith(stop_sql):
            seen += 1
            if seen == stop_at:
                print(f"inside {stop_sql} #{stop_at}", flush=True)
                threading.Event().wait()  # until the kill

    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.execute("PRAGMA cache_size = 16")  # pages: big cycles spill before COMMIT
        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = connect

    def cycle(n: int) -> CycleRecord:
        at = datetime.now(UTC)
        size = 1500 + (seed * 37 + n * 101) % 1500  # every cycle a different size
        calls = [
            ApiCallRecord("sim", "stats", "GET", f"ws-{i % 40}", 200 if i % 7 else 503,
                          12.5, bool(i % 7), None if i % 7 else "5xx",
                          None if i % 7 else "HTTP 503", 1 + i % 3, "auto", at)
            for i in range(size)
        ]
        issues = [
            ValidationIssue(DashboardName.KPI, f"ws-{i}", ValidationErrorType.MISSING_FIELD,
                            f"stats.data.f{n % 5}", "present", "", "missing")
            for i in range(30)
        ]
        payload = json.dumps({"seed": seed, "n": n, "rows": ["x" * 200] * 1500})
        snap = SnapshotRecord("kpi", payload, at, at, 1500, snapshot_checksum(payload))
        moves = [StateTransition("sim", f"ws-{i}", "kpi", "ok", "failing", f"{seed}/{n}", at)
                 for i in range(5)]
        return CycleRecord("auto", at - timedelta(seconds=1), at, ["kpi"], calls, issues,
                           {("kpi", f"ws-{i}") for i in range(40)}, (), [snap], moves)

    async def main() -> None:
        global armed
        store = await Store.open(path, clock=SystemClock())
        print("open", flush=True)
        n = 0
        while True:
            record = cycle(n)
            armed = n == stop_cycle
            print("writing", flush=True)
            cycle_id = await store.record_cycle(record)
            print(f"committed {cycle_id}", flush=True)
            n += 1

    asyncio.run(main())
    """
)

INSIDE = [
    ("INSERT INTO refresh_cycles", 1),  # the transaction begun, nothing written yet
    ("INSERT INTO api_health_logs", 1),  # the cycle row written
    ("INSERT INTO api_health_logs", 700),  # among the log rows
    ("INSERT INTO api_health_logs", 1400),
    ("INSERT INTO dashboard_snapshots", 1),  # every log row written
    ("INSERT INTO workspace_state_transitions", 3),
    ("COMMIT", 1),  # everything written, not committed
]


@dataclass
class Kill:
    """One kill: after ``commits`` cycles, ``inside`` a statement or ``after`` a timer."""

    commits: int  # cycles to see committed first; -1: kill before the file is even open
    inside: tuple[str, int] | None = None
    after: float = 0.0  # seconds (timer kills)


def plan(rng: random.Random) -> list[Kill]:
    """Three quarters of the kills inside a transaction, the rest on a timer."""
    kills = [Kill(-1, after=rng.uniform(0.05, 0.6)), Kill(-1, after=rng.uniform(0.05, 0.6))]
    kills += [Kill(rng.choice([0, 1, 2]), after=rng.uniform(0.0, 0.06)) for _ in range(2)]
    kills += [Kill(rng.choice([0, 1, 2, 3]), inside=spot) for spot in INSIDE]
    kills += [Kill(rng.choice([0, 1, 2]), inside=rng.choice(INSIDE)) for _ in range(5)]
    rng.shuffle(kills)
    return kills


def _run_and_kill(script: Path, db: Path, seed: int, kill: Kill) -> tuple[list[int], bool]:
    """Start a writer and SIGKILL it as ``kill`` says.

    Returns the cycle ids it saw committed, and whether it was killed while
    stopped inside a write transaction.
    """
    stop_cycle, (stop_sql, stop_at) = (kill.commits, kill.inside) if kill.inside else (-1, ("", 0))
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), str(seed), str(stop_cycle), stop_sql, str(stop_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    committed: list[int] = []
    inside = False
    try:
        if kill.commits < 0:
            time.sleep(kill.after)  # importing, opening, migrating: wherever it is
        else:
            # Read until the chosen point; a line per step, so no timer is involved.
            while line := child.stdout.readline():
                if line.startswith("committed"):
                    committed.append(int(line.split()[1]))
                elif line.startswith("inside"):
                    inside = True
                    break
                if (
                    kill.inside is None
                    and len(committed) >= kill.commits
                    and (kill.commits > 0 or line.startswith("open"))
                ):
                    time.sleep(kill.after)  # somewhere in the next write, or between
                    break
            assert line, "the writer ended before the kill: " + (
                child.stderr.read() if child.stderr else ""
            )
    finally:
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=60)
    lines = out.splitlines()
    committed += [int(x.split()[1]) for x in lines if x.startswith("committed")]
    assert child.returncode == -signal.SIGKILL, err  # it was killed, it did not crash
    assert "Traceback" not in err, err
    if kill.inside is not None:
        assert inside and not lines, f"{kill}: not stopped inside its write ({lines})"
        assert len(committed) == kill.commits
    return committed, inside


def test_kill_minus_nine_mid_write_never_leaves_a_half_cycle(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    db = tmp_path / "records.sqlite3"
    kills = plan(random.Random(20261121))
    assert len(kills) == KILLS
    acknowledged: list[int] = []
    stopped: dict[int, Kill] = {}  # seed (the kill's number) -> a kill inside a write
    mid_write = 0
    for seed, kill in enumerate(kills):
        committed, inside = _run_and_kill(script, db, seed, kill)
        acknowledged += committed
        mid_write += inside
        if inside:
            stopped[seed] = kill
    assert mid_write == sum(k.inside is not None for k in kills) >= KILLS // 2
    assert acknowledged, "no cycle was ever committed: the kills came too early to test anything"

    # Nothing was moved aside: no kill made the file look damaged.
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        cycles = dict(conn.execute("SELECT id, requests FROM refresh_cycles").fetchall())
        logged = dict(
            conn.execute(
                "SELECT cycle_id, count(*) FROM api_health_logs GROUP BY cycle_id"
            ).fetchall()
        )
        # Every committed cycle whole; no log row of a cycle that never committed.
        assert logged == {cid: n for cid, n in cycles.items() if n}, "half-written cycle"
        assert all(n >= 1500 for n in cycles.values())
        moves = conn.execute("SELECT count(*) FROM workspace_state_transitions").fetchone()[0]
        assert moves == 5 * len(cycles)
        # Every cycle a writer saw committed survived its kill.
        assert set(acknowledged) <= set(cycles)
        # A writer stopped inside a cycle's transaction left exactly the cycles before it.
        reasons = {r for (r,) in conn.execute("SELECT reason FROM workspace_state_transitions")}
        for seed, kill in stopped.items():
            mine = {r for r in reasons if r.startswith(f"{seed}/")}
            assert mine == {f"{seed}/{n}" for n in range(kill.commits)}, (kill, sorted(mine))
        for payload, checksum in conn.execute("SELECT payload, checksum FROM dashboard_snapshots"):
            assert hashlib.sha256(payload.encode()).hexdigest() == checksum
        open_issues = conn.execute(
            "SELECT count(*) FROM data_validation_errors WHERE resolved = 0"
        ).fetchone()[0]
        assert open_issues <= 30  # one open row per identity, never duplicated by a crash
    finally:
        conn.close()
    print(
        f"crash-safety: {KILLS} kills ({mid_write} mid-write), {len(cycles)} cycles committed, "
        "none half-written"
    )
