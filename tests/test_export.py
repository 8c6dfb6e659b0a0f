"""``portal-tui export`` on records written by real refresh cycles: content, formats,
atomic files, and no network or token needed."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.cli import main
from portal_tui.reports import export as export_module
from portal_tui.reports.export import build_report
from portal_tui.reports.export_markdown import render_markdown
from portal_tui.reports.records_file import RecordsLocation
from portal_tui.simulator import DayStats
from portal_tui.store import SCHEMA_VERSION
from support import NOW, hand_dataset, rig
from test_consistency import full_registry


async def incident_records(tmp_path: Path) -> Path:
    """A records file after an incident: Globex's token revoked (failing after two
    cycles) and a mailbox of Acme's also listed under Initech."""
    async with rig(tmp_path, clients=full_registry(), faults="revoked@3,dup@4=1:from=2") as r:
        await r.monitor.refresh()
        for _ in range(2):
            r.clock.advance(60)  # type: ignore[attr-defined]
            await r.monitor.refresh(force=True)
        return r.store.path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("export touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


async def report_for(
    path: Path, *, since: timedelta = timedelta(hours=1), after: float = 180.0
) -> dict[str, Any]:
    """The report ``after`` seconds past :data:`NOW` (the rig's first cycle)."""
    from portal_tui.store.database import Store
    from portal_tui.vocabulary.clock import FakeClock

    now = NOW + timedelta(seconds=after)
    async with await Store.open(path, clock=FakeClock(now)) as store:
        return await build_report(store, RecordsLocation(path, "--db"), now=now, since=since)


async def test_report_holds_what_an_incident_timeline_needs(tmp_path: Path) -> None:
    report = await report_for(await incident_records(tmp_path))
    assert report["schema"] == 1 and report["kind"] == "portal-tui.incident-report"
    assert report["database"]["schema_version"] == SCHEMA_VERSION
    # Three cycles of 401s on Globex: > 5 failed calls in 5 min.
    assert report["health"]["score"] == 50 and report["health"]["status"] == "CRITICAL"
    assert any("failed API calls" in r for r in report["health"]["reasons"])
    kpi = report["dashboards"]["kpi"]
    assert kpi["status"] == "partial" and kpi["state"] == "fresh" and kpi["rows"] == 2
    assert kpi["ttl_seconds"] == 120 and kpi["age_seconds"] == pytest.approx(60, abs=1)
    (globex,) = report["failing_workspaces"]
    assert globex["workspace"] == "Globex" and globex["instance"] == "sim"
    assert globex["error_type"] == "4xx" and globex["status_code"] == 401
    assert set(globex["dashboards"]) == {"kpi", "volume", "revenue", "infrastructure"}
    assert globex["state"] == "failing" and globex["failed_calls"] > 0
    rules = {(f["rule"], f["subject"]) for f in report["consistency_findings"]}
    assert ("sender-email-unique", "a@acme.io") in rules
    (api,) = report["api"]["by_instance"]
    assert api["instance"] == "sim" and api["errors"] == {"4xx": api["failed"]}
    assert report["api"]["errors"][0] == {
        "instance": "sim",
        "error_type": "4xx",
        "status_code": 401,
        "count": api["failed"],
    }
    assert [(t["workspace"], t["to"]) for t in report["transitions"]] == [("Globex", "failing")]
    kinds = [e["kind"] for e in report["timeline"]]
    assert {"transition", "finding_opened", "cycle"} <= set(kinds)
    times = [e["at"] for e in report["timeline"]]
    assert times == sorted(times)
    assert json.loads(json.dumps(report)) == report  # JSON-ready all the way down


async def test_markdown_pastes_into_a_chat(tmp_path: Path) -> None:
    text = render_markdown(await report_for(await incident_records(tmp_path)))
    lines = text.splitlines()
    assert lines[0].startswith("*portal-tui incident report*: 2026-11-21 12:03Z")
    assert lines[1] == "*Health 50/100 (CRITICAL)*"
    assert "```" in lines and "*Failing workspaces (1)*" in lines
    assert any(
        line.startswith("- `sim/Globex` (kpi, volume, revenue, infrastructure)") for line in lines
    )
    assert any("`sender-email-unique` `a@acme.io`" in line for line in lines)
    assert any(line.startswith("- `sim`: ") and "4xx ×" in line for line in lines)
    assert not any(line.startswith("#") for line in lines)  # Slack would show it raw
    assert max(len(line) for line in lines) < 320


async def test_a_clean_database_reports_health_100(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        path = r.store.path
    report = await report_for(path, after=30)
    trend = report["health"].pop("trend")
    assert [(point["score"], point["level"]) for point in trend] == [(100, "OK")]
    assert report["health"] == {
        "score": 100,
        "status": "OK",
        "reasons": ["all dashboards fresh, no recent failures"],
    }
    assert report["failing_workspaces"] == [] and report["consistency_findings"] == []
    assert "*Failing workspaces*: none in the latest snapshots" in render_markdown(report)


def _config_without_tokens(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "portal.toml"
    config.write_text(
        "[[instances]]\nname = 'sim'\nbase_url = 'https://bison.invalid/api'\n"
        "master_token_env = 'PORTAL_TUI_TEST_UNSET_TOKEN'\n"
        f"[storage]\npath = '{db}'\n"
    )
    return config


def test_cli_export_works_offline_and_without_tokens(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_network: None,
) -> None:
    import asyncio

    db = asyncio.run(incident_records(tmp_path))
    config = _config_without_tokens(tmp_path, db)
    monkeypatch.delenv("PORTAL_TUI_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # Records are stamped 2026-11-21 12:00 on a fake clock; the CLI uses the real one.
    args = ["export", "--config", str(config), "--since", "3000d"]
    assert main([*args, "--format", "json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["failing_workspaces"][0]["workspace"] == "Globex"
    assert report["database"]["path"] == str(db)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("*portal-tui incident report*") and "`sim/Globex`" in text


def test_cli_export_writes_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    db = asyncio.run(incident_records(tmp_path))
    out = tmp_path / "reports" / "incident.md"
    out.parent.mkdir()
    out.write_text("the previous report\n")
    args = ["export", "--db", str(db), "--since", "3000d", "-o", str(out)]
    assert main(args) == 0
    assert out.read_text().startswith("*portal-tui incident report*")
    assert "wrote" in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == ["incident.md"]
    assert (out.stat().st_mode & 0o777) == 0o666 & ~_umask()

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module.os, "replace", broken)
    assert main([*args, "--format", "json"]) == 3
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_text().startswith("*portal-tui incident report*")  # old file untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["incident.md"]  # no temp left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_cli_export_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    assert main(["export", "--db", str(missing)]) == 3
    assert "no local records at" in capsys.readouterr().err
    assert not missing.exists()  # never created by a read-only command
    with pytest.raises(SystemExit) as info:
        main(["export", "--db", str(missing), "--since", "yesterday"])
    assert info.value.code == 3 and "invalid time span 'yesterday'" in capsys.readouterr().err
    assert main(["export", "--db", str(missing), "-o", str(tmp_path / "no" / "dir.md")]) == 3


def test_cli_export_demo_reads_the_demo_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    db = asyncio.run(incident_records(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    demo = tmp_path / "xdg" / "portal-tui" / "demo.sqlite3"
    demo.parent.mkdir(parents=True)
    shutil.copy(db, demo)
    assert main(["export", "--demo", "--format", "json", "--since", "3000d"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["demo"] is True and report["database"]["path"] == str(demo)


def test_negative_day_does_not_break_the_report(tmp_path: Path) -> None:
    # Crafted odd data flows through to the report as findings, not as a crash.
    import asyncio

    async def go() -> dict[str, Any]:
        data = hand_dataset()
        data.workspaces[0].daily[NOW.date() - timedelta(days=28)] = DayStats(  # type: ignore[attr-defined]
            emails_sent=-5000
        )
        async with rig(tmp_path, clients=full_registry(), dataset=data) as r:
            await r.monitor.refresh()
            path = r.store.path
        return await report_for(path)

    report = asyncio.run(go())
    assert any(f["rule"] == "window-sanity" for f in report["consistency_findings"])


async def test_an_instance_down_from_the_start_is_still_reported(tmp_path: Path) -> None:
    # No row ever arrived, so no snapshot exists: the API log alone tells who fails.
    async with rig(tmp_path, clients=full_registry(), faults="down", attempts=1) as r:
        await r.monitor.refresh()
        path = r.store.path
    report = await report_for(path, after=30)
    assert report["health"]["score"] == 30
    assert report["dashboards"]["kpi"]["status"] == "error"
    assert report["dashboards"]["kpi"]["state"] == "no data"
    (down,) = report["failing_workspaces"]
    assert down["instance"] == "sim" and down["workspace"] is None
    assert down["error_type"] == "network" and down["dashboards"] == []
    assert down["since"] is None and down["failed_calls"] >= 1
    assert "- instance `sim` (no snapshot): network: " in render_markdown(report)


async def test_acknowledgements_and_operator_actions_are_exported(tmp_path: Path) -> None:
    """Issue 19: an acknowledged finding says who and why; operator actions are in the
    report and its timeline, in JSON and in Markdown."""
    path = await incident_records(tmp_path)
    from portal_tui.store.database import Store
    from portal_tui.vocabulary.clock import FakeClock

    async with await Store.open(path, clock=FakeClock(NOW + timedelta(seconds=150))) as store:
        (finding, *_) = await store.open_findings()
        key = (finding.rule, finding.scope, finding.subject)
        assert await store.acknowledge_finding(key, "expected: migration OPS-9", who="alice")
        await store.record_operator_action("clear-cache", "every cache: 12 response(s)", who="bob")
    report = await report_for(path)
    (acked,) = [f for f in report["consistency_findings"] if f["acknowledged"]]
    assert acked["subject"] == finding.subject
    assert acked["acknowledged"]["by"] == "alice"
    assert acked["acknowledged"]["note"] == "expected: migration OPS-9"
    assert [(a["who"], a["action"]) for a in report["operator_actions"]] == [
        ("alice", "acknowledge"),
        ("bob", "clear-cache"),
    ]
    operator = [e["text"] for e in report["timeline"] if e["kind"] == "operator"]
    assert operator == [
        f"alice acknowledge: {finding.rule} {finding.subject}: expected: migration OPS-9",
        "bob clear-cache: every cache: 12 response(s)",
    ]
    markdown = render_markdown(report)
    assert "acknowledged by alice: expected: migration OPS-9" in markdown
    assert "operator: bob clear-cache" in markdown
