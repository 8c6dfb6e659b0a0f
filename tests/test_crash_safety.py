"""Crash safety: kill -9 a process while it writes refresh cycles, many times.

A child process opens the real :class:`Store` and records big refresh cycles
in a loop (thousands of ``api_health_logs`` rows, validation issues,
transitions and a large snapshot each), printing each cycle's id once
``record_cycle`` has returned. The parent SIGKILLs it at random moments:
while it imports, while it opens or migrates the file, in the middle of a
write. The same file takes every kill. Afterwards:

- ``PRAGMA integrity_check`` says ``ok`` and no file was moved aside;
- every ``refresh_cycles`` row is whole: exactly as many ``api_health_logs``
  rows carry its id as it says it made (``requests``), and the transitions
  it wrote are there;
- no half cycle: no log row points at a cycle that is not there;
- every cycle the child saw committed survived the kill;
- every saved snapshot matches its checksum.

Total time is bounded (about 10 s on two cores).
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
from pathlib import Path

KILLS = 16
TIME_BUDGET = 15.0  # seconds for all kills; the test stops early rather than run long

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from portal_tui.vocabulary.clock import SystemClock
    from portal_tui.vocabulary.names import DashboardName
    from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue
    from portal_tui.fetch.events import ApiCallRecord
    from portal_tui.store import CycleRecord, StateTransition, Store
    from portal_tui.store.records import SnapshotRecord, snapshot_checksum

    path, seed = Path(sys.argv[1]), int(sys.argv[2])

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
        moves = [StateTransition("sim", f"ws-{i}", "kpi", "ok", "failing", f"c{n}", at)
                 for i in range(5)]
        return CycleRecord("auto", at - timedelta(seconds=1), at, ["kpi"], calls, issues,
                           {("kpi", f"ws-{i}") for i in range(40)}, (), [snap], moves)

    async def main() -> None:
        store = await Store.open(path, clock=SystemClock())
        print("open", flush=True)
        n = 0
        while True:
            record = cycle(n)
            print("writing", flush=True)
            cycle_id = await store.record_cycle(record)
            print(f"committed {cycle_id}", flush=True)
            n += 1

    asyncio.run(main())
    """
)


def _run_and_kill(script: Path, db: Path, seed: int, rng: random.Random) -> tuple[list[int], bool]:
    """Start a writer and SIGKILL it at a random point.

    Returns the cycle ids it saw committed, and whether the kill landed while
    a ``record_cycle`` was under way.
    """
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    committed: list[int] = []
    wanted = rng.choice([-1, 0, 1, 2, 3, 5, 8])  # -1: kill before the file is even open
    try:
        if wanted < 0:
            time.sleep(rng.uniform(0.05, 0.6))  # importing, opening, migrating
        else:
            opened = False
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                line = child.stdout.readline()
                if not line:
                    break
                if line.startswith("open"):
                    opened = True
                    if wanted == 0:
                        break
                elif line.startswith("committed"):
                    committed.append(int(line.split()[1]))
                    if len(committed) >= wanted:
                        break
            assert opened or child.poll() is None, child.stderr.read() if child.stderr else ""
            time.sleep(rng.uniform(0.0, 0.06))  # land somewhere inside the next write
    finally:
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=10)
    lines = out.splitlines()
    committed += [int(x.split()[1]) for x in lines if x.startswith("committed")]
    assert child.returncode == -signal.SIGKILL, err  # it was killed, it did not crash
    assert "Traceback" not in err, err
    mid_write = bool(lines) and lines[-1] == "writing"
    return committed, mid_write


def test_kill_minus_nine_mid_write_never_leaves_a_half_cycle(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    db = tmp_path / "records.sqlite3"
    rng = random.Random(20261121)
    acknowledged: list[int] = []
    kills = mid_write = 0
    started = time.monotonic()
    while kills < KILLS and time.monotonic() - started < TIME_BUDGET:
        committed, during_write = _run_and_kill(script, db, kills, rng)
        acknowledged += committed
        mid_write += during_write
        kills += 1
    assert kills >= 10, f"only {kills} kills fitted in the time budget"
    assert mid_write >= kills // 3, f"only {mid_write} of {kills} kills landed mid-write"
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
        for payload, checksum in conn.execute("SELECT payload, checksum FROM dashboard_snapshots"):
            assert hashlib.sha256(payload.encode()).hexdigest() == checksum
        open_issues = conn.execute(
            "SELECT count(*) FROM data_validation_errors WHERE resolved = 0"
        ).fetchone()[0]
        assert open_issues <= 30  # one open row per identity, never duplicated by a crash
    finally:
        conn.close()
    print(
        f"crash-safety: {kills} kills ({mid_write} mid-write), {len(cycles)} cycles committed, "
        "none half-written"
    )
