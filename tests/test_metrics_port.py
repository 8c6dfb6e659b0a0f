"""``watch --metrics-port``: /metrics over loopback, built from the records at scrape time."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as parse_text

from portal_tui.cli.main import main


def scrape(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    return env


def test_watch_serves_metrics_from_the_records_and_stops(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite3"
    command = ["watch", "--demo", "--db", str(db), "--metrics-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal_tui.cli", *command],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()
        found = re.search(r"/metrics on http://127\.0\.0\.1:(\d+)", first)
        assert found, first
        base = f"http://127.0.0.1:{found[1]}"
        cycle = proc.stderr.readline()  # one line per cycle: the first one is recorded
        assert "refreshed kpi" in cycle, cycle
        status, kind, text = scrape(f"{base}/metrics")
        assert status == 200 and kind.startswith("application/openmetrics-text")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert {"portal_tui_health_score", "portal_tui_dashboard_age_seconds"} <= set(families)
        [score] = families["portal_tui_health_score"].samples
        assert 0 <= score.value <= 100
        assert any(
            s.labels.get("dashboard") == "kpi"
            for s in families["portal_tui_dashboard_age_seconds"].samples
        )
        # A client asking for the classic text format gets it; other paths are not served.
        status, kind, text = scrape(f"{base}/metrics", accept="text/plain")
        assert status == 200 and kind.startswith("text/plain")
        assert "portal_tui_health_score" in {f.name for f in parse_text(text)}
        assert scrape(f"{base}/")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        code = proc.wait(timeout=30)
    assert code == 0 and "stopped after" in rest and "Traceback" not in rest


def test_a_metrics_port_in_use_is_one_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["watch", "--demo", "--db", str(tmp_path / "w.sqlite3")]
        assert main([*args, "--metrics-port", str(port)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"portal-tui watch: cannot serve /metrics on 127.0.0.1:{port}: ")
    assert "in use" in err and "Traceback" not in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error
        main(["watch", "--demo", "--metrics-port", "99999"])
    assert usage.value.code == 3
    assert "not a port number" in capsys.readouterr().err
