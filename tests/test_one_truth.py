"""One truth from the records: every face and every process gives the same verdict (issue 15).

Three ``check`` runs in separate processes against a simulator over real
loopback HTTP with a workspace whose token is revoked; then ``check``,
``export``, ``doctor`` and the console's first frame on that file must agree,
the records must hold one FAILING transition, and "failing since" must be the
first run's failure, whoever recorded it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal_tui.console.app import PortalConsole
from portal_tui.engine.runtime import open_runtime
from portal_tui.vocabulary.names import DashboardName
from support import rig

EXE = [sys.executable, "-m", "portal_tui.cli"]
REVOKED = 2
"""The simulated workspace whose api token is revoked (401 on every dashboard)."""
FAULT = f"revoked@{REVOKED}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    base.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return base


@pytest.fixture
def simulated(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """``simulate`` over loopback HTTP with one revoked workspace; a config pointing at it."""
    port = _free_port()
    server = subprocess.Popen(
        [*EXE, "simulate", "--port", str(port), "--workspaces", "4", "--faults", FAULT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        seen = ""
        while "Press Ctrl-C" not in seen:
            line = server.stdout.readline()
            assert line, seen  # the simulator died before listening
            seen += line
        token = re.search(r"PORTAL_TUI_SIM_MASTER_TOKEN='([^']+)'", seen)
        ids = re.search(r"workspace ids: ([\d, ]+)", seen)
        assert token and ids, seen
        registry = "".join(
            f"[[clients]]\nname = 'client {i}'\nid = {i}\nmonthly_kpi = 1000\n"
            f"monthly_sending_target = 50000\nprice_per_lead = 100.0\n"
            for i in ids.group(1).split(", ")
        )
        config = tmp_path / "sim.toml"
        config.write_text(
            "[[instances]]\nname = 'simulator'\n"
            f"base_url = 'http://127.0.0.1:{port}/api'\n"
            "master_token_env = 'PORTAL_TUI_SIM_MASTER_TOKEN'\nsender_emails_per_page = 15\n"
            "[retry]\nbackoff_initial = 0.05\njitter = 0\n"
            f"[storage]\npath = '{tmp_path / 'records.db'}'\n" + registry
        )
        yield config, {**env, "PORTAL_TUI_SIM_MASTER_TOKEN": token.group(1)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, env=env, timeout=120)


async def test_check_export_doctor_and_the_console_agree_from_the_records(
    simulated: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    config, env = simulated
    db = tmp_path / "records.db"
    runs = [run(["check", "--json", "--config", str(config)], env) for _ in range(3)]
    for result in runs:
        assert "Traceback" not in result.stderr
        assert json.loads(result.stdout)["status"] == "WARNING", result.stdout
    with sqlite3.connect(db) as raw:
        first_failure = raw.execute("SELECT min(finished_at) FROM refresh_cycles").fetchone()[0]
        transitions = raw.execute(
            "SELECT workspace, from_state, to_state FROM workspace_state_transitions"
        ).fetchall()
        levels = [r[0] for r in raw.execute("SELECT health_level FROM refresh_cycles")]
    checked = json.loads(runs[-1].stdout)["health"]
    [failing] = checked["failing_workspaces"]
    name = failing["workspace"]  # the API's name for workspace REVOKED
    assert failing["confirmed"] and failing["dashboards"]
    # Three processes, each seeing one failure: one FAILING transition between them.
    assert transitions == [(name, "ok", "failing")]
    assert levels == ["WARNING", "WARNING", "WARNING"]
    first = datetime.fromtimestamp(first_failure, UTC)
    assert datetime.fromisoformat(failing["since"]) == first  # the first run's failure

    export = run(["export", "--format", "json", "--db", str(db), "--config", str(config)], env)
    assert export.returncode == 0, export.stderr
    report = json.loads(export.stdout)
    assert (report["health"]["status"], report["health"]["score"]) == ("WARNING", checked["score"])
    [exported] = [f for f in report["failing_workspaces"] if f["workspace"] == name]
    assert exported["state"] == "failing"
    assert datetime.fromisoformat(exported["since"]) == first
    assert [p["level"] for p in report["health"]["trend"]] == ["WARNING"] * 3

    doctor = run(["doctor", "--json", "--config", str(config)], env)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    recorded = checks["recorded health"]
    assert recorded["level"] == "warning"
    assert recorded["summary"].startswith("WARNING (health ")

    # The console's first frame, before any refresh of its own: the records' verdict,
    # labelled restored, and the failing workspace named.
    os.environ["PORTAL_TUI_SIM_MASTER_TOKEN"] = env["PORTAL_TUI_SIM_MASTER_TOKEN"]
    try:
        runtime = await open_runtime(config_arg=str(config), demo=False, db_arg=str(db))
    finally:
        del os.environ["PORTAL_TUI_SIM_MASTER_TOKEN"]
    app = PortalConsole(runtime, auto_refresh=False, startup_refresh=False, handle_signals=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert "WARNING" in app.sub_title and "restored" in app.sub_title, app.sub_title
            health = runtime.monitor.health()
            assert (health.level, health.score) == ("WARNING", checked["score"])
            assert [f.workspace for f in health.failing] == [name]
    finally:
        await runtime.aclose()


async def test_attempts_retried_and_recovered_are_not_failed_calls(tmp_path: Path) -> None:
    """Two workspaces answer 503 three times, then 200: every request recovers, so
    the level is not CRITICAL and the retries are one informational reason."""
    faults = "fail_first@2=3:status=503,fail_first@3=3:status=503"
    async with rig(tmp_path, faults=faults, threshold=50) as r:
        outcome = await r.monitor.refresh(force=True)
        assert outcome is not None
        assert sum(1 for c in outcome.api_calls if not c.success) > 5  # attempts that failed
        assert outcome.requests_failed == 0
        health = r.monitor.health()
        assert health.level != "CRITICAL" and health.score == 100, health.reasons
        assert any("retried" in reason and "all recovered" in reason for reason in health.reasons)
        assert (await r.store.health_summary()).failed_calls_5m == 0  # the SQL view agrees


async def test_two_processes_reading_the_records_at_one_instant_agree(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="revoked@3") as r:
        for _ in range(2):
            await r.monitor.refresh(force=True)
        now = r.clock.now()
        other = await type(r.store).open(r.store.path, clock=r.clock)
        try:
            from portal_tui.engine.verdict import verdict_from_records

            mine, theirs = await verdict_from_records(r.store, now), await verdict_from_records(
                other, now
            )
        finally:
            await other.close()
        assert mine == theirs
        assert mine.failing and mine.failing[0].confirmed
        assert r.monitor.health() == mine
        assert DashboardName.KPI.value in mine.failing[0].dashboards

