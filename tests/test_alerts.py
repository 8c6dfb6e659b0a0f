"""The alert outbox and its senders: events with their cause, claims, retries, filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.alert_receiver import receiver

from portal_tui.config.alerts import AlertTarget
from portal_tui.config.model import Config
from portal_tui.engine.alerting import AlertSender, wants
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord, WorkspaceObservation
from portal_tui.vocabulary.clock import FakeClock

START = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
TOKEN = "tok-0123456789abcdef-secret"


def seen(at: datetime, *, failed: bool, workspace: str = "Cobalt Roofing", wid: int = 7):
    return WorkspaceObservation(
        "bison",
        wid,
        workspace,
        ("kpi", "volume", "revenue", "infrastructure") if failed else (),
        f"401 with Bearer {TOKEN}" if failed else "",
        at,
    )


async def cycles(store: Store, n: int, *, failed: bool, start: int = 0, **kw: object) -> None:
    for i in range(start, start + n):
        at = START + timedelta(minutes=i)
        obs = [seen(at, failed=failed, **kw)]  # type: ignore[arg-type]
        await store.record(CycleRecord("check", at, at, observations=obs))


async def test_a_transition_commits_its_event_titled_and_redacted(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock, redact_values=[TOKEN]) as s:
        await cycles(s, 1, failed=True)
        assert await s.alert_events() == []  # one failure is a blip: no event
        await cycles(s, 3, failed=True, start=1)
        [failing] = await s.alert_events()
        assert failing.kind == "FAILING"
        assert failing.title.startswith("FAILING Cobalt Roofing (bison): 401")
        assert failing.title.endswith("on 4 dashboards")
        assert "since 2026-12-03 03:00:00 UTC" in failing.body
        assert "portal-tui export" in failing.body
        assert TOKEN not in failing.title + failing.body
        await cycles(s, 2, failed=False, start=4)
        recovered, _ = await s.alert_events()
        assert recovered.kind == "RECOVERED" and recovered.title.startswith("RECOVERED ")


async def test_a_health_level_change_is_one_event(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as s:
        levels = ["OK", "WARNING", "WARNING", "CRITICAL", "OK", "OK"]
        for i, level in enumerate(levels):
            at = START + timedelta(minutes=i)
            cid = await s.record_cycle(CycleRecord("check", at, at))
            why = (f"reason {i}",) if level != "OK" else ()
            await s.record_health(cid, 100 - 10 * i, level, why)
        kinds = [e.kind for e in reversed(await s.alert_events())]
        assert kinds == ["WARNING", "CRITICAL", "OK"]  # a first OK cycle says nothing


async def test_two_senders_on_one_file_send_each_event_once(tmp_path: Path) -> None:
    clock = FakeClock(START)
    path = tmp_path / "r.sqlite3"
    stores = [await Store.open(path, clock=clock) for _ in range(2)]
    try:
        for w in range(6):  # six workspaces fail: six FAILING events
            for i in range(2):
                at = START + timedelta(minutes=i)
                obs = [seen(at, failed=True, workspace=f"W{w}", wid=w)]
                await stores[w % 2].record(CycleRecord("check", at, at, observations=obs))
        with receiver() as hook:
            target = AlertTarget(url=hook.url, name="hook")
            senders = [AlertSender([target], store=s, clock=clock, env={}) for s in stores]
            await asyncio.gather(*(s.deliver() for s in senders), *(s.deliver() for s in senders))
            await asyncio.gather(*(s.deliver() for s in senders))  # nothing left
            titles = hook.titles()
        assert len(titles) == 6 == len(set(titles))
        assert all(e.delivered_at is not None for e in await stores[0].alert_events())
    finally:
        for s in stores:
            await s.close()


async def test_one_pass_sends_more_events_than_one_claim_takes(tmp_path: Path) -> None:
    """A claim takes a batch (50); the pass claims again until the outbox is empty,
    so ``check`` delivers a burst of findings before it exits, not only the first 50."""
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        for w in range(60):  # sixty workspaces fail twice: sixty FAILING events
            for i in range(2):
                at = START + timedelta(minutes=i)
                obs = [seen(at, failed=True, workspace=f"W{w:02}", wid=w)]
                await store.record(CycleRecord("check", at, at, observations=obs))
        with receiver() as hook:
            sender = AlertSender(
                [AlertTarget(url=hook.url, name="hook")], store=store, clock=clock, env={}
            )
            delivered = await sender.deliver()
            titles = hook.titles()
        assert len(delivered) == len(titles) == len(set(titles)) == 60
        assert await store.alert_events(undelivered_only=True) == []


async def test_repeated_failure_is_recorded_and_raises_delivery_failing(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as s:
        await cycles(s, 2, failed=True)
        with receiver() as hook:
            hook.fail_next = [500] * 6
            target = AlertTarget(url=hook.url, name="hook")
            sender = AlertSender([target], store=s, clock=clock, env={}, backoff=0.01)
            assert await sender.deliver() == []  # three tries in the pass, all refused
            events = {e.kind: e for e in await s.alert_events()}
            failing = events["FAILING"]
            assert failing.delivered_at is None and failing.attempts == 3
            assert "500" in (failing.last_error or "")
            assert "DELIVERY_FAILING" in events  # raised once, with the failure
            # DELIVERY_FAILING itself is refused three times; it raises no further one.
            assert await sender.deliver() == []
            assert [e.kind for e in await s.alert_events()].count("DELIVERY_FAILING") == 1
            assert await sender.deliver() == []  # both leased out until their retry time
            clock.advance(3600)
            delivered = await sender.deliver()  # the receiver answers 200 again
            assert {e.kind for e in delivered} == {"FAILING", "DELIVERY_FAILING"}
            assert [e.kind for e in await s.alert_events(undelivered_only=True)] == []
            assert sorted(t.split()[0] for t in hook.titles()) == ["DELIVERY_FAILING", "FAILING"]


async def test_alert_test_reports_each_target(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as s:
        with receiver() as hook:
            targets = [
                AlertTarget(url=hook.url, name="hook"),
                AlertTarget(url_env="PORTAL_ALERT_UNSET", name="unset"),
            ]
            results = await AlertSender(targets, store=s, clock=clock, env={}).test()
        assert [(r.target, r.ok) for r in results] == [("hook", True), ("unset", False)]
        assert "PORTAL_ALERT_UNSET is not set" in (results[1].error or "")
        assert hook.titles() == ["TEST portal-tui alerts: this target works"]


def test_targets_filters_and_urls() -> None:
    assert not wants(AlertTarget(url="json://h/x", events=["FAILING"]), "RECOVERED")
    assert not wants(AlertTarget(url="json://h/x", send_on_resolved=False), "OK")
    assert not wants(AlertTarget(url="json://h/x", min_severity="critical"), "WARNING")
    assert wants(AlertTarget(url="json://h/x", min_severity="critical"), "FAILING")
    for bad in ("slack://T000/B000/XXXX", "json://user:pw@h/x", "json://h/x?token=abc"):
        with pytest.raises(ValidationError, match="url_env"):
            AlertTarget(url=bad)
    with pytest.raises(ValidationError, match="exactly one"):
        AlertTarget(url="json://h/x", url_env="X")
    config = Config(alerts=[AlertTarget(url_env="PORTAL_SLACK_URL")])
    assert config.alerts[0].label == "PORTAL_SLACK_URL"


async def test_delivery_trouble_shows_in_export_and_doctor(tmp_path: Path) -> None:
    from portal_tui.config import Secrets
    from portal_tui.reports.doctor import check_alerts
    from portal_tui.reports.doctor_report import Level
    from portal_tui.reports.export import build_report
    from portal_tui.reports.export_markdown import render_markdown
    from portal_tui.reports.records_file import RecordsLocation

    clock = FakeClock(START)
    path = tmp_path / "r.sqlite3"
    async with await Store.open(path, clock=clock) as s:
        await cycles(s, 2, failed=True)
        with receiver() as hook:
            hook.fail_next = [503] * 3
            target = AlertTarget(url=hook.url, name="hook")
            await AlertSender([target], store=s, clock=clock, env={}, backoff=0.01).deliver()
        report = await build_report(
            s, RecordsLocation(path, "--db"), now=clock.now(), since=timedelta(hours=1)
        )
    failing = next(a for a in report["alerts"] if a["kind"] == "FAILING")
    assert failing["delivered_at"] is None and failing["attempts"] == 3
    assert "503" in failing["last_error"]
    text = render_markdown(report)
    assert "NOT delivered after 3 attempt(s)" in text
    config = Config(alerts=[target, AlertTarget(url_env="ALERTS_UNSET_URL", name="slack")])
    check = await check_alerts(path, config, Secrets({}))
    assert check.level is Level.WARNING
    assert "1 without its URL" in check.summary and "event(s) undelivered" in check.summary
    assert any("503" in d for d in check.details)


async def test_health_verdicts_recorded_out_of_order_announce_each_change_once(
    tmp_path: Path,
) -> None:
    """Process A records cycle 2, process B cycle 3, and B's verdict lands before A's."""
    clock = FakeClock(START)
    path = tmp_path / "r.sqlite3"
    a, b = [await Store.open(path, clock=clock) for _ in range(2)]
    try:
        ids = []
        for i, store in enumerate((a, a, b)):
            at = START + timedelta(minutes=i)
            ids.append(await store.record_cycle(CycleRecord("check", at, at)))
        await a.record_health(ids[0], 100, "OK", ())
        await b.record_health(ids[2], 70, "WARNING", ("stale",))
        await a.record_health(ids[1], 70, "WARNING", ("stale",))  # older: not announced
        assert [e.kind for e in await a.alert_events()] == ["WARNING"]
    finally:
        await a.close()
        await b.close()


async def test_a_new_error_finding_is_one_event_and_a_repeat_is_none(tmp_path: Path) -> None:
    from portal_tui.store.consistency_records import ConsistencyRecord, FindingRecord

    def record(*findings: FindingRecord) -> ConsistencyRecord:
        return ConsistencyRecord(findings=findings, covered=frozenset({("totals", "kpi")}))

    error = FindingRecord("totals", "error", "kpi", "bison/Cobalt", f"sum off; token {TOKEN}")
    note = FindingRecord("totals", "warning", "kpi", "bison/Acme", "slightly off")
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock, redact_values=[TOKEN]) as s:
        for i in range(3):  # seen three cycles in a row: new once
            at = START + timedelta(minutes=i)
            await s.record(CycleRecord("check", at, at, consistency=record(error, note)))
        [finding] = await s.alert_events()
    assert finding.kind == "FINDING"
    assert finding.title == "FINDING totals (error): bison/Cobalt"
    assert "portal-tui export" in finding.body and TOKEN not in finding.body
