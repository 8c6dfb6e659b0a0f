"""``portal-tui watch`` and ``alert test``: the schedule with no screen, alerts, a clean stop."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alert_receiver import receiver
from portal_tui.cli.alerts_cmds import watch_loop
from portal_tui.cli.main import main
from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.monitor import RefreshFinished
from support import rig


async def test_watch_refreshes_alerts_and_stops(tmp_path: Path) -> None:
    with receiver() as hook:
        target = AlertTarget(url=hook.url, name="hook", failure_threshold=1)
        async with rig(tmp_path, alerts=[target]) as r:
            r.faults.add_spec("revoked@3")
            finished = asyncio.Event()
            r.monitor.subscribe(
                lambda event: finished.set() if isinstance(event, RefreshFinished) else None
            )
            stop = asyncio.Event()
            err = io.StringIO()
            loop = asyncio.ensure_future(watch_loop(r.monitor, stop, err=err, tick=1.0))
            await finished.wait()
            stop.set()
            cycles = await asyncio.wait_for(loop, 30)
            await r.monitor.alerts.idle()  # delivery runs in the background
            events = await r.store.alert_events()
    assert cycles == 1
    [line] = err.getvalue().splitlines()
    assert "refreshed kpi,volume,revenue,infrastructure" in line
    assert "1 workspace(s) failing" in line and "alert(s) undelivered" in line
    assert any(t.startswith("FAILING Globex (sim)") for t in hook.titles())
    assert sorted(hook.titles()) == sorted(e.title for e in events)


def test_watch_stops_cleanly_on_sigterm_mid_cycle(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    db = tmp_path / "w.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal_tui.cli", "watch", "--demo", "--db", str(db)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the start line: the first cycle is now in flight
    assert "portal-tui watch: started" in first
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert "stopped after" in rest and "Traceback" not in rest


def test_alert_test_reports_each_target_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with receiver() as hook:
        config = tmp_path / "portal.toml"
        base = (
            "[[instances]]\nname = 'a'\nbase_url = 'https://bison.example/api'\n"
            "master_token_env = 'ALERT_TEST_MASTER'\n"
            f"[[alerts]]\nname = 'hook'\nurl = '{hook.url}'\n"
        )
        config.write_text(base)
        monkeypatch.setenv("ALERT_TEST_MASTER", "master-token-0123456789")
        monkeypatch.delenv("ALERT_TEST_UNSET_URL", raising=False)
        db = str(tmp_path / "r.sqlite3")
        assert main(["alert", "test", "--config", str(config), "--db", db]) == 0
        assert hook.titles() == ["TEST portal-tui alerts: this target works"]
        config.write_text(base + "[[alerts]]\nname = 'slack'\nurl_env = 'ALERT_TEST_UNSET_URL'\n")
        assert main(["alert", "test", "--config", str(config), "--db", db]) == 2
        assert len(hook.titles()) == 2  # the working target still got its message
    out = capsys.readouterr().out
    assert "hook: ok" in out
    assert "slack: FAILED: env var ALERT_TEST_UNSET_URL is not set" in out
