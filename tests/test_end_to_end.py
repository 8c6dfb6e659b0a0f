"""The real monitor, fetcher, cache, store and simulator together.

In-process tests run on virtual time (FakeClock), so retries, Retry-After and
the breaker's wait cost nothing; the ``http`` variants run the same checks
over real loopback HTTP against the simulator's server.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.fetch.breaker import BreakerState
from portal_tui.simulator import LatencyModel
from portal_tui.vocabulary.freshness import FreshnessState, Overlay
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationErrorType
from support import NOW, hand_dataset, rig

KPI, VOLUME, REVENUE, INFRA = (
    DashboardName.KPI,
    DashboardName.VOLUME,
    DashboardName.REVENUE,
    DashboardName.INFRASTRUCTURE,
)
ACME = ("sim", 2)
GLOBEX = ("sim", 3)


def row(snap: DashboardSnapshot, key: tuple[str, int]) -> object:
    matches = [r for r in snap.rows if r.key == key]
    assert matches, f"no row for {key} in {snap.name}"
    return matches[0]


def failures_for(snap: DashboardSnapshot, workspace: str | None) -> list[str]:
    return [f.label for f in snap.failures if f.workspace == workspace]


# -- every dashboard number for a known workspace, computed by hand -----------------------


@pytest.mark.parametrize("http", [False, True], ids=["in-process", "http"])
async def test_every_dashboard_number_matches_hand_arithmetic(tmp_path: Path, http: bool) -> None:
    async with rig(tmp_path, http=http) as r:
        outcome = await r.monitor.refresh()
        assert outcome is not None
        snaps = r.monitor.snapshots
        # Today 2026-11-21: day = 21, dim = 30.
        # MTD (11-01..11-21): emails 1000 + 500 = 1500, interested 6 + 4 = 10, bounced 30.
        # 7 days (11-14..11-21): 500 / 4.   30 days (10-22..11-21): 1000 + 500 + 800 = 2300 / 15.
        # Last month (10-01..10-31): 800 + 300 = 1100 / 5 + 2 = 7.
        kpi = row(snaps[KPI], ACME)
        assert kpi.leads_generated == 10  # type: ignore[attr-defined]
        assert kpi.projected_replies == 14  # round(10 / 21 * 30) = round(14.2857)
        assert kpi.monthly_kpi == 30
        assert kpi.current_progress == pytest.approx(10 / 30)
        assert kpi.replies_progress == pytest.approx(14 / 30)
        assert kpi.positive_replies_last_7_days == 4
        assert kpi.positive_replies_last_30_days == 15
        assert kpi.positive_replies_current_month == 10
        assert kpi.positive_replies_last_month == 7
        assert kpi.emails_sent == 1500
        assert kpi.bounced == 30

        vol = row(snaps[VOLUME], ACME)
        assert vol.emails == 1500  # type: ignore[attr-defined]
        assert vol.emails_today == 200  # 120 + 80
        assert vol.emails_tomorrow == 150
        assert vol.emails_last_7_days == 500
        assert vol.emails_last_30_days == 2300
        assert vol.target == 6000
        assert vol.projection == 2143  # round(1500 / 21 * 30) = round(2142.857)
        assert vol.target_percentage == pytest.approx(25.0)  # 1500 / 6000
        assert vol.projected_percentage == pytest.approx(2143 / 6000 * 100)
        assert vol.daily_quota == 200  # round(6000 / 30)
        assert vol.expected_by_now == 4200  # 200 * 21
        assert vol.is_on_track is False
        assert vol.status == "Behind"  # 35.7 % < 80 %

        infra = row(snaps[INFRA], ACME)
        assert infra.mailbox_count == 3  # type: ignore[attr-defined]
        assert infra.connected == 2 and infra.not_connected == 1  # b@ is Not connected
        assert infra.daily_capacity == 90  # 30 + 40 + 20
        assert infra.zero_reply_mailboxes == 1  # b@: 60 sent, 0 replies
        assert infra.mailbox_cost == pytest.approx(6.91)  # 3 + 3 + 0.91
        assert infra.complete is True
        mailbox = next(m for m in infra.mailboxes if m.address == "a@acme.io")
        assert mailbox.reply_rate == pytest.approx(5.0)  # 5 / 100 * 100
        assert mailbox.price == pytest.approx(3.0)

        rev = row(snaps[REVENUE], ACME)
        assert rev.leads == 10  # type: ignore[attr-defined]
        assert rev.revenue == pytest.approx(1000.0)  # 10 * 100
        assert rev.mailbox_costs == pytest.approx(6.91)
        assert rev.costs == pytest.approx(206.91)  # 6.91 + 200
        assert rev.profit == pytest.approx(793.09)
        assert rev.profit_margin == pytest.approx(79.309)
        assert rev.kpi_progress == pytest.approx(100 * 10 / 30)
        assert rev.leads_remaining == 20

        globex = row(snaps[REVENUE], GLOBEX)
        assert globex.revenue == pytest.approx(4000.0)  # type: ignore[attr-defined]  # retainer
        # KPI and Revenue read the same MTD response: they can never disagree.
        for key in (ACME, GLOBEX):
            assert row(snaps[KPI], key).leads_generated == row(snaps[REVENUE], key).leads  # type: ignore[attr-defined]
        assert snaps[KPI].warnings["Initech"] == ["no registry entry"]


async def test_one_request_per_distinct_key_and_dashboards_share_responses(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        outcome = await r.monitor.refresh()
        assert outcome is not None
        # 3 workspaces x (4 stats windows + 2 schedules + 1 mailbox page at per_page 2 ...)
        assert outcome.requests_made == r.sim.counters.requests
        stats_calls = r.sim.counters.by_endpoint["stats"]
        assert stats_calls == 3 * 4  # KPI, Volume and Revenue share the 4 windows
        pages = r.sim.counters.by_endpoint["sender-emails"]
        assert pages == 2 + 1 + 1  # Acme's 3 mailboxes at 2 per page
        # Initech has no registry entry, so it goes through the master token: one switch
        # for its session of 7 requests. Needed = made: nothing asked twice, nothing retried.
        assert r.sim.counters.switches == 1
        assert outcome.requests_made == outcome.requests_needed == 1 + 12 + 6 + 4 + 1


async def test_concurrent_refreshes_share_one_call_per_key(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await asyncio.gather(
            r.monitor.refresh([KPI]), r.monitor.refresh([VOLUME]), r.monitor.refresh([KPI])
        )
        assert r.sim.counters.by_endpoint["stats"] == 3 * 4


async def test_cache_ttl_serves_hits_and_force_refetches(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.monitor.refresh([KPI])
        before = r.sim.counters.requests
        await r.monitor.refresh([KPI])
        assert r.sim.counters.requests == before  # everything within KPI's 120 s TTL
        await r.monitor.refresh([KPI], force=True)
        assert r.sim.counters.by_endpoint["stats"] == 2 * 3 * 4


# -- failures are failures, never zeros ---------------------------------------------------


@pytest.mark.parametrize("http", [False, True], ids=["in-process", "http"])
async def test_revoked_token_fails_the_workspace_and_keeps_the_old_value_stale(
    tmp_path: Path, http: bool
) -> None:
    async with rig(tmp_path, http=http) as r:
        await r.monitor.refresh([KPI])
        before = row(r.monitor.snapshots[KPI], GLOBEX)
        r.faults.add_spec("revoked@3")
        await r.monitor.refresh([KPI], force=True)
        snap = r.monitor.snapshots[KPI]
        assert failures_for(snap, "Globex") == ["4xx 401"]
        kept = row(snap, GLOBEX)
        assert kept == before  # the last good value, not a zero
        assert snap.row_meta[GLOBEX].stale
        assert "401" in (snap.row_meta[GLOBEX].error or "")
        assert not snap.row_meta[ACME].stale  # siblings unaffected
        logs = await r.store.recent_api_calls(failures_only=True)
        assert {(c.workspace, c.error_type, c.status_code) for c in logs} == {
            ("Globex", "4xx", 401)
        }
        assert all(c.attempt == 1 for c in logs)  # 4xx is never retried


async def test_first_ever_failure_shows_no_row_and_never_zero(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="revoked@3") as r:
        await r.monitor.refresh([KPI])
        snap = r.monitor.snapshots[KPI]
        assert GLOBEX not in {x.key for x in snap.rows}
        assert failures_for(snap, "Globex") == ["4xx 401"]
        assert snap.error is None  # one workspace failing does not fail the dashboard


async def test_429_waits_for_retry_after_then_succeeds(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="429@2/stats=1:retry_after=7:first=1") as r:
        start = r.clock.monotonic()
        await r.monitor.refresh([KPI])
        snap = r.monitor.snapshots[KPI]
        assert snap.failures == []
        waited = r.clock.monotonic() - start
        assert waited >= 7.0  # not the 1 s backoff
        logs = await r.store.recent_api_calls(workspace="Acme Corp")
        assert [c.error_type for c in logs if not c.success] == ["rate_limited"]


async def test_429_over_http_with_http_date(tmp_path: Path) -> None:
    async with rig(tmp_path, http=True, faults="429@2/stats=1:retry_after_date=1:first=1") as r:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await r.monitor.refresh([KPI])
        assert r.monitor.snapshots[KPI].failures == []
        assert loop.time() - start >= 0.5  # an HTTP date ~1 s ahead (whole seconds)


async def test_breaker_opens_fails_fast_and_recovers(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="5xx=1", attempts=1, threshold=3, concurrency=1) as r:
        await r.monitor.refresh([KPI])
        status = r.monitor.breakers()[0]
        assert status.state is BreakerState.OPEN and status.next_probe_at is not None
        snap = r.monitor.snapshots[KPI]
        assert snap.error is not None
        logs = await r.store.recent_api_calls(failures_only=True, limit=1000)
        kinds = [c.error_type for c in logs]
        assert kinds.count("5xx") == 3 and "breaker_open" in kinds
        r.faults.clear()
        await r.clock.sleep(31)  # type: ignore[attr-defined]
        await r.monitor.refresh([KPI], force=True)
        assert r.monitor.breakers()[0].state is BreakerState.CLOSED
        assert r.monitor.snapshots[KPI].error is None


async def test_stale_data_carries_its_age_and_error_overlay(tmp_path: Path) -> None:
    async with rig(tmp_path, attempts=1) as r:
        await r.monitor.refresh([KPI])
        good_at = r.monitor.snapshots[KPI].fetched_at
        await r.clock.sleep(700)  # type: ignore[attr-defined]
        r.faults.add_spec("down")
        await r.monitor.refresh([KPI], force=True)
        snap = r.monitor.snapshots[KPI]
        assert snap.fetched_at == good_at
        fresh = r.monitor.freshness(KPI)
        assert fresh.state is FreshnessState.VERY_STALE  # 700 s > max(600, 2 x 120)
        assert Overlay.ERROR in fresh.overlays
        assert fresh.age == pytest.approx(700, abs=5)
        assert all(m.stale for m in snap.row_meta.values())
        assert "stale" in fresh.label and "error" in fresh.label


async def test_unreachable_instance_reported_once(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="down", attempts=2) as r:
        await r.monitor.refresh()
        for snap in r.monitor.snapshots.values():
            assert [(f.workspace, f.request) for f in snap.failures] == [
                (None, "upstream unreachable")
            ]
        assert r.monitor.unreachable.keys() == {"sim"}
        assert any("unreachable" in reason for reason in r.monitor.health().reasons)
        logs = await r.store.recent_api_calls(limit=1000)
        assert len(logs) == 2  # the listing's two attempts, not N workspace failures


@pytest.mark.parametrize("http", [False, True], ids=["in-process", "http"])
async def test_instance_down_then_back_recovers_without_restart(tmp_path: Path, http: bool) -> None:
    async with rig(tmp_path, http=http, attempts=1) as r:
        await r.monitor.refresh([KPI])
        r.faults.add_spec("down")
        await r.monitor.refresh([KPI], force=True)
        assert r.monitor.unreachable
        assert len(r.monitor.snapshots[KPI].rows) == 3  # last good rows still shown
        r.faults.clear()
        await r.monitor.refresh([KPI], force=True)
        assert not r.monitor.unreachable
        assert r.monitor.snapshots[KPI].failures == []
        assert not any(m.stale for m in r.monitor.snapshots[KPI].row_meta.values())


# -- each simulator fault lands in the right state and record ------------------------------

FAULTS = [
    # spec, dashboard, expected failure label on Acme, api_health_logs error_type
    ("hang@2/stats", KPI, "timeout", "timeout"),
    ("reset@2/stats", KPI, "network", "network"),
    ("malformed@2/stats", KPI, "validation 200", "validation"),
    ("truncate@2/stats", KPI, "validation 200", "validation"),
    ("drift@2/stats=missing:interested", KPI, "validation 200", "validation"),
    ("drift@2/stats=wrong_type:emails_sent", KPI, "validation 200", "validation"),
    ("5xx@2/stats=1:codes=503", KPI, "5xx 503", "5xx"),
    ("429@2/stats=1:retry_after=1", KPI, "rate_limited 429", "rate_limited"),
    ("revoked@2", KPI, "4xx 401", "4xx"),
    ("empty@2/stats", KPI, "validation 200", "validation"),
    ("fail_first@2/sending-schedules=99:status=502", VOLUME, "5xx 502", "5xx"),
    ("malformed@2/sender-emails", INFRA, "validation 200", "validation"),
]


@pytest.mark.parametrize(("spec", "board", "label", "logged"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_fault_lands_in_state_and_record(
    tmp_path: Path, spec: str, board: DashboardName, label: str, logged: str
) -> None:
    async with rig(tmp_path, threshold=1000) as r:  # the breaker has its own test
        await r.monitor.refresh([board])
        r.faults.add_spec(spec)
        await r.monitor.refresh([board], force=True)
        snap = r.monitor.snapshots[board]
        assert failures_for(snap, "Acme Corp") == [label]
        assert snap.row_meta[ACME].stale  # last good data kept, with its age
        assert not snap.row_meta[GLOBEX].stale
        assert snap.error is None
        logs = await r.store.recent_api_calls(failures_only=True, limit=1000)
        assert {c.error_type for c in logs} == {logged}
        assert {c.workspace for c in logs} == {"Acme Corp"}
        assert r.monitor.freshness(board).state is FreshnessState.FRESH


async def test_schema_drift_recorded_field_by_field(tmp_path: Path) -> None:
    async with rig(
        tmp_path, faults="drift@2/stats=missing:interested,drift@3/stats=wrong_type:bounced"
    ) as r:
        await r.monitor.refresh([KPI])
        issues = {
            (i.workspace, i.field_name, i.error_type) for i in r.monitor.snapshots[KPI].issues
        }
        assert ("Acme Corp", "stats.data.interested", ValidationErrorType.MISSING_FIELD) in issues
        assert ("Globex", "stats.data.bounced", ValidationErrorType.INVALID_TYPE) in issues
        stored = await r.store.open_validation_errors("kpi")
        assert {(e.workspace, e.field_name, e.error_type) for e in stored} >= {
            ("Acme Corp", "stats.data.interested", "missing_field"),
            ("Globex", "stats.data.bounced", "invalid_type"),
        }
        r.faults.clear()
        await r.monitor.refresh([KPI], force=True)
        assert await r.store.open_validation_errors("kpi") == []  # resolved once it stops


async def test_duplicate_sender_emails_flagged_on_both_workspaces(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="dup@3=1:from=2") as r:
        await r.monitor.refresh([INFRA])
        warnings = r.monitor.snapshots[INFRA].warnings
        assert any("duplicate address across workspaces" in w for w in warnings["Globex"])
        assert any("duplicate address across workspaces" in w for w in warnings["Acme Corp"])


async def test_pagination_that_ends_early_is_flagged_incomplete(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="early_end@2=5") as r:
        await r.monitor.refresh([INFRA])
        snap = r.monitor.snapshots[INFRA]
        acme = row(snap, ACME)
        assert acme.complete is False  # type: ignore[attr-defined]
        assert any("incomplete mailbox fetch: 3 of 8" in w for w in snap.warnings["Acme Corp"])


async def test_pagination_that_loops_is_reported_and_not_followed(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="loop@2") as r:
        await r.monitor.refresh([INFRA])
        snap = r.monitor.snapshots[INFRA]
        acme = row(snap, ACME)
        # Pages are fetched by number up to meta.last_page, so a links.next that points
        # back cannot loop us; the data is whole, and the anomaly is said.
        assert acme.mailbox_count == 3 and acme.complete  # type: ignore[attr-defined]
        assert r.sim.counters.by_endpoint["sender-emails"] == 2 + 1 + 1
        assert any(
            "last page 2 links.next is not null (points at page 1)" in w
            for w in snap.warnings["Acme Corp"]
        )


async def test_pagination_over_http_follows_pages(tmp_path: Path) -> None:
    async with rig(tmp_path, http=True, per_page=1) as r:
        await r.monitor.refresh([INFRA])
        acme = row(r.monitor.snapshots[INFRA], ACME)
        assert acme.mailbox_count == 3 and acme.complete  # type: ignore[attr-defined]
        assert r.sim.counters.by_endpoint["sender-emails"] == 3 + 1 + 1


# -- master token: switch + fetch under a lock, never mixed --------------------------------


@pytest.mark.parametrize("http", [False, True], ids=["in-process", "http"])
async def test_master_token_mode_never_mixes_workspaces(tmp_path: Path, http: bool) -> None:
    # Every workspace through the one master token, with switch latency so that an
    # unlocked switch/fetch pair would interleave (the simulator's own tests prove it does).
    latency = LatencyModel.uniform(0.001, 0.02) if http else LatencyModel.uniform(0.5, 3.0)
    async with rig(tmp_path, http=http, api_user=False, concurrency=5, latency=latency) as r:
        await r.monitor.refresh([KPI], force=True)
        snap = r.monitor.snapshots[KPI]
        assert snap.failures == []
        sim = r.sim
        for ws in hand_dataset().workspaces:
            mine = row(snap, ("sim", ws.id))
            expected = sim.stats_payload(ws.id, "2026-11-01", "2026-11-21")
            assert mine.leads_generated == expected["interested"]  # type: ignore[attr-defined]
            assert mine.emails_sent == expected["emails_sent"]  # type: ignore[attr-defined]
        # One switch per workspace: its requests share one session of the token.
        assert sim.counters.switches == len(hand_dataset().workspaces)
        distinct = {row(snap, ("sim", w.id)).emails_sent for w in hand_dataset().workspaces}  # type: ignore[attr-defined]
        assert len(distinct) == 3


# -- records, hysteresis, restore ---------------------------------------------------------


async def test_cycle_is_recorded_and_snapshots_restore(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.monitor.refresh()
        cycles = await r.store.recent_cycles()
        assert len(cycles) == 1 and set(cycles[0].dashboards) == set(dashboard_names())
        snaps = await r.store.load_snapshots()
        assert set(snaps) == set(dashboard_names())
        from portal_tui.engine.monitor import PortalMonitor

        fresh = PortalMonitor(
            r.monitor.config,
            secrets=r.monitor.fetcher._secrets,
            clock=r.clock,
            store=r.store,
        )
        assert await fresh.restore() == 4
        assert fresh.snapshots[KPI].restored
        assert [x.model_dump() for x in fresh.snapshots[KPI].rows] == [
            x.model_dump() for x in r.monitor.snapshots[KPI].rows
        ]
        assert fresh.freshness(KPI).state is FreshnessState.FRESH
        await fresh.aclose()


async def test_workspace_transitions_need_a_run_of_failures_then_recover(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        events: list[object] = []
        r.monitor.subscribe(events.append)
        from portal_tui.engine.monitor import WorkspaceTransition

        r.faults.add_spec("revoked@3")
        await r.monitor.refresh([KPI], force=True)
        assert not [
            e for e in events if isinstance(e, WorkspaceTransition)
        ]  # one blip pages nobody
        await r.monitor.refresh([KPI], force=True)
        flips = [e for e in events if isinstance(e, WorkspaceTransition)]
        assert [(f.workspace, f.to_state.value) for f in flips] == [("Globex", "failing")]
        r.faults.clear()
        await r.monitor.refresh([KPI], force=True)
        await r.monitor.refresh([KPI], force=True)
        flips = [e for e in events if isinstance(e, WorkspaceTransition)]
        assert [f.to_state.value for f in flips] == ["failing", "recovered"]
        stored = await r.store.state_transitions(NOW - timedelta(hours=1))
        assert [(t.workspace, t.to_state) for t in stored] == [
            ("Globex", "failing"),
            ("Globex", "recovered"),
        ]


async def test_health_score_follows_the_spec(tmp_path: Path) -> None:
    async with rig(tmp_path, attempts=1) as r:
        await r.monitor.refresh()
        assert r.monitor.health().score == 100
        r.monitor.fetcher._instances["sim"].breaker._threshold = 1000
        r.faults.add_spec("5xx@2=1,5xx@3=1")
        await r.monitor.refresh(force=True)
        health = r.monitor.health()
        assert health.score == 50 and "failed API calls" in health.reasons[0]
        r.faults.add_spec("down")
        await r.monitor.refresh(force=True)
        assert r.monitor.health().score == 30
