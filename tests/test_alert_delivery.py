"""Alert delivery off the cycle: a background task, a per-attempt timeout, a deadline."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from tests.alert_receiver import receiver
from tests.support import rig
from tests.test_alerts import START, cycles

from portal_tui.cli.alerts_cmds import deliver_before_exit
from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.alert_delivery import AlertDelivery
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock


async def test_a_dead_webhook_does_not_hold_up_the_cycle(tmp_path: Path) -> None:
    with receiver() as hook:
        hook.open.clear()  # the webhook takes the POST and does not answer
        target = AlertTarget(url=hook.url, name="hook", failure_threshold=1)
        async with rig(tmp_path, alerts=[target]) as r:
            r.faults.add_spec("revoked@3")
            outcome = await r.monitor.refresh(force=True)  # returns with the send in flight
            assert outcome is not None
            await asyncio.to_thread(hook.arrived.wait, 10)
            events = await r.store.alert_events()
            assert "FAILING" in {e.kind for e in events}
            assert all(e.delivered_at is None for e in events)
            assert hook.accepted == []
            hook.open.set()  # the webhook answers at last
            await r.monitor.alerts.idle()
            events = await r.store.alert_events()
            assert all(e.delivered_at is not None for e in events)
    assert sorted(hook.titles()) == sorted(e.title for e in events)


async def test_an_attempt_times_out_is_retried_recorded_and_shown(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        await cycles(store, 2, failed=True)
        with receiver() as hook:
            hook.open.clear()
            target = AlertTarget(url=hook.url, name="hook")
            delivery = AlertDelivery(
                [target],
                store=store,
                clock=clock,
                env={},
                attempts=2,
                backoff=0.01,
                attempt_timeout=0.2,  # a socket timeout: real time, per attempt
            )
            delivery.kick()
            await delivery.idle()
            events = {e.kind: e for e in await store.alert_events()}
            assert events["FAILING"].attempts == 2 and events["FAILING"].delivered_at is None
            assert "connection error" in (events["FAILING"].last_error or "").lower()
            [trouble] = delivery.trouble
            assert trouble.target == "hook" and trouble.undelivered == 1
            assert trouble.line().startswith("alerts: 1 undelivered to hook (last error ")
            assert trouble.line().endswith("since 2026-12-03 03:01 UTC)")
            err = io.StringIO()
            await deliver_before_exit_on(delivery, err)
            assert "alerts: 1 undelivered to hook" in err.getvalue()
            # Later the webhook answers: the next pass, once the lease lapsed, delivers.
            hook.open.set()
            clock.advance(3600)
            delivery.kick()
            await delivery.idle()
            assert delivery.trouble == ()
            assert all(e.delivered_at is not None for e in await store.alert_events())


async def deliver_before_exit_on(delivery: AlertDelivery, err: io.StringIO) -> None:
    class Monitor:
        alerts = delivery

    await deliver_before_exit(Monitor(), err=err)  # type: ignore[arg-type]


async def test_drain_is_bounded_by_its_deadline(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        await cycles(store, 2, failed=True)
        with receiver() as hook:
            hook.open.clear()
            target = AlertTarget(url=hook.url, name="hook")
            delivery = AlertDelivery(
                [target], store=store, clock=clock, env={}, attempt_timeout=30.0
            )
            delivery.kick()
            await asyncio.to_thread(hook.arrived.wait, 10)
            assert await delivery.drain(5.0) is False  # the injected clock's 5 s passed
            await delivery.aclose()  # the send in flight is abandoned; its lease holds
            [event] = await store.alert_events()
            assert event.delivered_at is None


async def test_a_dead_target_raises_one_delivery_failing_not_one_per_event(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        await cycles(store, 2, failed=True, workspace="Cobalt", wid=1)
        await cycles(store, 2, failed=True, workspace="Acme", wid=2)
        with receiver() as hook:
            hook.fail_next = [500] * 6
            target = AlertTarget(url=hook.url, name="hook")
            delivery = AlertDelivery([target], store=store, clock=clock, env={}, backoff=0.01)
            delivery.kick()
            await delivery.idle()
        kinds = [e.kind for e in await store.alert_events()]
    assert sorted(kinds) == ["DELIVERY_FAILING", "FAILING", "FAILING"]


async def test_a_pass_stops_sending_before_its_lease_could_lapse(tmp_path: Path) -> None:
    """Past its lease another process could claim an event and send it too: a slow pass
    leaves what it cannot finish in time to a later pass (here each event costs 1 s)."""
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        for w in range(10):
            await cycles(store, 2, failed=True, workspace=f"W{w}", wid=w)
        with receiver() as hook:
            hook.fail_next = [500] * 100
            target = AlertTarget(url=hook.url, name="hook")
            delivery = AlertDelivery(
                [target],
                store=store,
                clock=clock,
                env={},
                lease=10,
                deadline=2,
                attempt_timeout=0.5,
            )  # a budget of 3 s per event: events may start until 7 s into the 10 s lease
            delivery.kick()
            await delivery.idle()
        events = [e for e in await store.alert_events() if e.kind == "FAILING"]
        # What it never started is released, not leased: another process claims it now.
        others = await store.claim_alerts("another process", 60)
    tried = [e for e in events if e.attempts]
    assert 0 < len(tried) < len(events)
    assert all(e.attempts == 2 for e in tried) and len(hook.posts) == 2 * len(tried)
    untried = {e.id for e in events if not e.attempts}
    assert {e.id for e in others} == untried


async def test_a_pass_cut_short_gives_back_what_it_did_not_start(tmp_path: Path) -> None:
    """``check``'s drain deadline (or quitting) ends a pass mid-batch: the message in flight
    keeps its lease (it may still arrive), the rest are released for any process at once."""
    clock = FakeClock(START)
    async with await Store.open(tmp_path / "r.sqlite3", clock=clock) as store:
        for w in range(3):
            await cycles(store, 2, failed=True, workspace=f"W{w}", wid=w)
        with receiver() as hook:
            hook.open.clear()  # the first POST hangs
            target = AlertTarget(url=hook.url, name="hook")
            delivery = AlertDelivery(
                [target], store=store, clock=clock, env={}, attempt_timeout=30.0
            )
            delivery.kick()
            await asyncio.to_thread(hook.arrived.wait, 10)
            assert await delivery.drain(5.0) is False
            await delivery.aclose()
            first, *rest = sorted(await store.alert_events(), key=lambda e: e.id)
            claimed = await store.claim_alerts("another process", 60)
            hook.open.set()
    assert [e.id for e in claimed] == [e.id for e in rest] and len(rest) == 2
    assert first.delivered_at is None and first.id not in {e.id for e in claimed}
