"""REMINDER messages: a lasting failure is announced again, once per period per target."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

from tests.alert_receiver import receiver
from tests.support import file_at_version
from tests.test_alerts import START, TOKEN, cycles

from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.alerting import AlertSender
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord
from portal_tui.vocabulary.clock import FakeClock


def reminders(titles: list[str]) -> list[str]:
    return [t for t in titles if t.startswith("REMINDER ")]


async def test_a_lasting_failure_is_reminded_once_per_period_across_processes(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    path = tmp_path / "r.sqlite3"
    a, b = [await Store.open(path, clock=clock, redact_values=[TOKEN]) for _ in range(2)]
    try:
        with receiver() as hook, receiver() as quiet:
            every = AlertTarget(url=hook.url, name="hook", reminder_minutes=30)
            never = AlertTarget(url=quiet.url, name="quiet")  # no reminder_minutes
            senders = [
                AlertSender([every, never], store=s, clock=clock, env={}) for s in (a, b)
            ]
            await cycles(a, 2, failed=True)  # FAILING, confirmed at 03:01
            clock.set_now(START + timedelta(minutes=2))
            await senders[0].deliver()
            assert [t.split()[0] for t in hook.titles()] == ["FAILING"]
            clock.set_now(START + timedelta(minutes=30))  # 29 minutes after the message
            await asyncio.gather(*(s.deliver() for s in senders))
            assert reminders(hook.titles()) == []
            clock.set_now(START + timedelta(minutes=31))  # 30 minutes: due, in both processes
            await asyncio.gather(*(s.deliver() for s in senders), *(s.deliver() for s in senders))
            [first] = reminders(hook.titles())
            assert first.startswith(
                "REMINDER Cobalt Roofing (bison) still FAILING since 2026-12-03 03:00:00 UTC: 401"
            )
            [body] = [b for b in hook.accepted if str(b["title"]).startswith("REMINDER")]
            assert "Still failing since 2026-12-03 03:00:00 UTC" in str(body["message"])
            assert "portal-tui export" in str(body["message"])
            clock.set_now(START + timedelta(minutes=60))  # 29 minutes after the reminder
            await senders[1].deliver()
            assert len(reminders(hook.titles())) == 1
            clock.set_now(START + timedelta(minutes=61))  # the next period
            await asyncio.gather(*(s.deliver() for s in senders))
            assert len(reminders(hook.titles())) == 2
            # Recovered: no reminder after it, however long the wait.
            await cycles(b, 2, failed=False, start=62)
            clock.set_now(START + timedelta(hours=5))
            await asyncio.gather(*(s.deliver() for s in senders))
            kinds = [t.split()[0] for t in hook.titles()]
            assert kinds == ["FAILING", "REMINDER", "REMINDER", "RECOVERED"]
            # The target without reminder_minutes heard of the failure and the recovery only.
            assert [t.split()[0] for t in quiet.titles()] == ["FAILING", "RECOVERED"]
            every_post = [str(body) for _, body in hook.posts + quiet.posts]
        assert not any(TOKEN in text for text in every_post)
        events = await a.alert_events()
        assert [e.target for e in events if e.kind == "REMINDER"] == ["hook", "hook"]
        assert all(e.delivered_at is not None for e in events)
    finally:
        await a.close()
        await b.close()


async def test_a_lasting_critical_health_level_is_reminded(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as s:
        with receiver() as hook:
            target = AlertTarget(url=hook.url, name="hook", reminder_minutes=15)
            sender = AlertSender([target], store=s, clock=clock, env={})
            cid = await s.record_cycle(CycleRecord("check", START, START))
            await s.record_health(cid, 20, "CRITICAL", ("3 dashboards in error",))
            await sender.deliver()
            clock.advance(15 * 60)
            await sender.deliver()
            later = START + timedelta(minutes=16)
            cid = await s.record_cycle(CycleRecord("check", later, later))
            await s.record_health(cid, 100, "OK", ())
            clock.advance(3600)
            await sender.deliver()
            titles = hook.titles()
    assert [t.split()[0] for t in titles] == ["CRITICAL", "REMINDER", "OK"]
    assert titles[1] == "REMINDER portal health still CRITICAL since 2026-12-03 03:00:00 UTC"


async def test_a_version_9_outbox_keeps_its_rows_and_takes_reminders(tmp_path: Path) -> None:
    path = tmp_path / "v9.sqlite3"
    with file_at_version(path, 9) as raw:
        raw.execute(
            "INSERT INTO alert_outbox (kind, subject, title, body, created_at, delivered_at)"
            " VALUES ('FAILING', 'W (i)', 'FAILING W (i): 401 on 1 dashboard', 'b', 1.0, 2.0)"
        )
    raw.close()
    clock = FakeClock(START)
    async with await Store.open(path, clock=clock) as store:
        [kept] = await store.alert_events()
        assert kept.title.startswith("FAILING W (i)") and kept.target is None
        assert kept.delivered_at is not None
    with sqlite3.connect(path) as raw:
        # A reminder names its one target; every other event names none.
        raw.execute(
            "INSERT INTO alert_outbox (kind, subject, title, body, created_at, target)"
            " VALUES ('REMINDER', 'W (i)', 'REMINDER W (i)', 'b', 3.0, 'hook')"
        )
        for bad in (
            "INSERT INTO alert_outbox (kind, subject, title, body, created_at)"
            " VALUES ('REMINDER', 's', 't', 'b', 4.0)",
            "INSERT INTO alert_outbox (kind, subject, title, body, created_at, target)"
            " VALUES ('FAILING', 's', 't', 'b', 4.0, 'hook')",
        ):
            try:
                raw.execute(bad)
            except sqlite3.IntegrityError:
                continue
            raise AssertionError(f"accepted: {bad}")
