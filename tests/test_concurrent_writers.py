"""Two consoles and a cron ``check`` on one SQLite file, at the same time, for a while.

Two "console" processes each run the real monitor against an in-process
simulator and refresh the dashboards in a loop (``triggered_by=auto``; KPI,
Volume and Revenue every time, Infrastructure every fourth, as their TTLs do),
reading the file between refreshes as the console does (snapshots, the
health view, recent calls, history); two more processes record small
cycles in a tight loop, the write pressure of many consoles, so writers
really meet on the lock. Once every one of them has recorded a cycle, the
real command line runs ``portal-tui check --json --db SAME`` six times, two
seconds apart, against ``portal-tui simulate`` over loopback HTTP, the way
cron would, overlapping with each other and with the consoles. The writers
stop once every check has ended and they have done enough work (each console
5 refreshes, the loops 100 cycles): what they report, not a timer, decides, so
a busy machine only makes the test take longer.

Then: no "database is locked" (or any other error) reached anyone's output,
every check exited with a verdict (0, 1 or 2, never 3), the file is sound,
and nothing was lost: the file holds exactly the cycles and API attempts the
writers say they recorded. The concurrent-writer time is printed (the README
records it).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

CONSOLES = 2
WRITERS = 2  # record_cycle loops: the write pressure of many consoles in one
CHECKS = 6  # cron checks
CHECK_EVERY = 2.0  # seconds between cron starts
CONSOLE_CYCLES, WRITER_CYCLES = 5, 100  # at least: each console; the loops together
CONSOLE_CAP = 300.0  # a console stops by itself after this, whatever happens (a lost parent)
SIM_TOKEN_ENV = "PORTAL_TUI_SIM_MASTER_TOKEN"

CONSOLE = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from datetime import timedelta
    from pathlib import Path

    from portal_tui.vocabulary.clock import SystemClock
    from portal_tui.config import RetryConfig
    from portal_tui.vocabulary.names import DashboardName
    from portal_tui.engine.monitor import PortalMonitor
    from portal_tui.simulator.demo import build_demo
    from portal_tui.store.database import Store

    db, stop, cap, seed = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    progress = Path(sys.argv[5])

    async def main() -> None:
        clock = SystemClock()
        setup = build_demo(clock=clock, workspaces=6, seed=seed,
                           faults="latency=fixed:0.002,5xx=0.05,revoked@" + "{revoked}")
        retry = RetryConfig(attempts=2, backoff_initial=0.01, jitter=0.0)
        config = setup.config.model_copy(update={"retry": retry})
        store = await Store.open(db, clock=clock, redact_values=setup.tokens.values())
        monitor = PortalMonitor(config, secrets=setup.secrets(), clock=clock, store=store,
                                transports={"demo": setup.simulator.transport()})
        await monitor.restore()  # paint from what the other console last saw
        cycles = calls = 0
        started = time.monotonic()
        quick = [DashboardName.KPI, DashboardName.VOLUME, DashboardName.REVENUE]
        while time.monotonic() - started < cap and not stop.exists():
            # As auto-refresh does: the 2-5 min dashboards often, Infrastructure (10 min) less.
            names = None if cycles % 4 == 0 else quick
            outcome = await monitor.refresh(names, force=True, triggered_by="auto")
            cycles += 1
            calls += len(outcome.api_calls)
            progress.write_text(str(cycles))
            await store.load_snapshots()
            await store.health_summary()
            await store.recent_api_calls(limit=50)
            await store.workspace_history(clock.now() - timedelta(minutes=10))
            await asyncio.sleep(0.05)  # a breath: far busier than a real console, not a spin
        await monitor.aclose()
        await store.close()
        print(json.dumps({"cycles": cycles, "calls": calls,
                          "seconds": time.monotonic() - started}))

    asyncio.run(main())
    """
)


# A console's writes without its fetching: a small cycle (20-40 attempts) recorded in a
# tight loop, so writers really do meet on the lock (manual trigger, to count apart).
WRITER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from datetime import UTC, datetime
    from pathlib import Path

    from portal_tui.vocabulary.clock import SystemClock
    from portal_tui.fetch.events import ApiCallRecord
    from portal_tui.store import CycleRecord, Store

    db, stop, cap = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    progress = Path(sys.argv[4])

    async def main() -> None:
        store = await Store.open(db, clock=SystemClock())
        cycles = calls = 0
        started = time.monotonic()
        while time.monotonic() - started < cap and not stop.exists():
            at = datetime.now(UTC)
            rows = [ApiCallRecord("sim", "stats", "GET", f"ws-{i % 9}", 200, 9.0, True, None,
                                  None, 1, "manual", at) for i in range(20 + cycles % 20)]
            await store.record_cycle(CycleRecord("manual", at, at, ["kpi"], rows))
            cycles += 1
            calls += len(rows)
            progress.write_text(str(cycles))
            await asyncio.sleep(0.02)  # leave some CPU to the consoles and the checks
        await store.close()
        print(json.dumps({"cycles": cycles, "calls": calls,
                          "seconds": time.monotonic() - started}))

    asyncio.run(main())
    """
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def _simulate(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    """``portal-tui simulate`` on a free loopback port: (process, base URL, master token)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal_tui.cli",
            "simulate",
            "--port",
            str(port),
            "--workspaces",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    seen = ""
    deadline = time.monotonic() + 20
    while "Press Ctrl-C" not in seen and time.monotonic() < deadline:
        seen += server.stdout.readline()
    token = re.search(rf"{SIM_TOKEN_ENV}='([^']+)'", seen)
    assert token, seen
    return server, f"http://127.0.0.1:{port}/api", token.group(1)


def _cycles_so_far(progress: list[Path]) -> list[int]:
    """The cycles each console and loop says it has recorded (a file each writes)."""
    counts = []
    for path in progress:
        try:
            counts.append(int(path.read_text() or 0))
        except (FileNotFoundError, ValueError):  # not yet written, or caught mid-write
            counts.append(0)
    return counts


def _wait_for(what: str, done: Callable[[], bool], processes: list[subprocess.Popen[str]]) -> None:
    """Poll ``done`` until true; fail if a writer died or the cap passed first."""
    deadline = time.monotonic() + CONSOLE_CAP - 30
    while not done():
        dead = [p.args for p in processes if p.poll() is not None]
        assert not dead, f"a writer ended before {what}: {dead}"
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def test_two_consoles_and_cron_checks_share_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    stop = tmp_path / "stop"
    env = _env(tmp_path)
    server, base_url, token = _simulate(env)
    env[SIM_TOKEN_ENV] = token
    config = tmp_path / "cron.toml"
    config.write_text(
        f"[[instances]]\nname = 'simulator'\nbase_url = '{base_url}'\n"
        f"master_token_env = '{SIM_TOKEN_ENV}'\n"
    )
    script = tmp_path / "console.py"
    from portal_tui.simulator import build_demo

    revoked = build_demo(workspaces=6).dataset.workspaces[3].id
    script.write_text(CONSOLE.replace("{revoked}", str(revoked)))
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    progress = [tmp_path / f"progress-{i}" for i in range(CONSOLES + WRITERS)]
    started = time.monotonic()
    consoles = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(db),
                str(stop),
                str(CONSOLE_CAP),
                str(7 + i),
                str(progress[i]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(CONSOLES)
    ] + [
        subprocess.Popen(
            [sys.executable, str(writer), str(db), str(stop), str(CONSOLE_CAP), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for path in progress[CONSOLES:]
    ]
    checks: list[tuple[subprocess.Popen[str], float]] = []
    try:
        _wait_for("every writer's first cycle", lambda: min(_cycles_so_far(progress)) > 0, consoles)
        for n in range(CHECKS):
            # Against the simulate server over loopback HTTP, as a real cron check would go
            # upstream (`check --demo` spends ~12 s sleeping between its demo retries).
            command = ["check", "--config", str(config), "--json", "--db", str(db)]
            cron = subprocess.Popen(
                [sys.executable, "-m", "portal_tui.cli", *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            checks.append((cron, time.monotonic()))
            if n < CHECKS - 1:
                time.sleep(CHECK_EVERY)  # pacing, as cron's schedule: nothing waits on it
        results = []
        for cron, began in checks:
            out, err = cron.communicate(timeout=90)
            results.append((cron.returncode, out, err, time.monotonic() - began))

        def enough() -> bool:
            counts = _cycles_so_far(progress)
            return min(counts[:CONSOLES]) >= CONSOLE_CYCLES and sum(counts[CONSOLES:]) >= (
                WRITER_CYCLES
            )

        _wait_for("enough cycles", enough, consoles)
    finally:
        stop.touch()
        outputs = [c.communicate(timeout=60) for c in consoles]
        server.terminate()
        server.wait(timeout=10)
    elapsed = time.monotonic() - started

    # Nobody saw a lock, or any error at all.
    for code, out, err, _ in results:
        assert code in (0, 1, 2), f"check exited {code}: {err}"
        assert "locked" not in (out + err).lower() and "Traceback" not in err, err
        assert "local database error" not in err
    for console, (out, err) in zip(consoles, outputs, strict=True):
        assert console.returncode == 0, err
        assert "locked" not in (out + err).lower() and "Traceback" not in err, err

    # Nothing lost: the file holds exactly what every writer recorded.
    console_stats = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    reports = [json.loads(out) for _, out, _, _ in results]
    cycles = sum(s["cycles"] for s in console_stats) + len(reports)
    calls = sum(s["calls"] for s in console_stats) + sum(
        r["requests"]["attempts_logged"] for r in reports
    )
    assert all(s["cycles"] >= CONSOLE_CYCLES for s in console_stats), console_stats
    assert sum(s["cycles"] for s in console_stats[CONSOLES:]) >= WRITER_CYCLES, console_stats
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM refresh_cycles").fetchone()[0] == cycles
        assert conn.execute("SELECT count(*) FROM api_health_logs").fetchone()[0] == calls
        by_trigger = dict(
            conn.execute("SELECT triggered_by, count(*) FROM refresh_cycles GROUP BY 1")
        )
        hammered = sum(s["cycles"] for s in console_stats[CONSOLES:])
        assert by_trigger == {
            "auto": cycles - len(reports) - hammered,
            "manual": hammered,
            "check": len(reports),
        }
        snapshots = conn.execute("SELECT count(*) FROM dashboard_snapshots").fetchone()[0]
        assert snapshots == 4
    finally:
        conn.close()
    writer_seconds = sum(s["seconds"] for s in console_stats) + sum(r[3] for r in results)
    print(
        f"concurrent writers: {CONSOLES} consoles + {WRITERS} record loops + {len(checks)} "
        "cron checks for "
        f"{elapsed:.0f} s = {writer_seconds / 60:.2f} concurrent-writer minutes; {cycles} "
        f"cycles, {calls} API attempts recorded, none lost"
    )
