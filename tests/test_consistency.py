"""Consistency rules over real refresh cycles: the simulator's faults make them fire,
clean data keeps them quiet, and a cleared fault resolves them (in memory and in SQLite)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from portal_tui.config import ClientEntry
from portal_tui.consistency import checksums
from portal_tui.consistency.model import OpenFinding
from portal_tui.dashboards.kpi import KpiDashboard
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.simulator import Dataset, DayStats, SimWorkspace
from portal_tui.vocabulary.names import DashboardName
from support import NOW, hand_dataset, registry, rig

KPI, VOLUME, REVENUE, INFRA = (
    DashboardName.KPI,
    DashboardName.VOLUME,
    DashboardName.REVENUE,
    DashboardName.INFRASTRUCTURE,
)


def full_registry() -> list[ClientEntry]:
    """The hand registry plus Initech, so a clean cycle has nothing to report."""
    return [*registry(hand_dataset(), api_user=True), ClientEntry(name="Initech", id=4)]


def by_rule(findings: list[OpenFinding], rule: str) -> list[OpenFinding]:
    return [f for f in findings if f.rule == rule]


async def test_clean_data_is_quiet_across_cycles(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        await r.monitor.refresh(force=True)  # second cycle: checksums and fields compared
        r.clock.advance(30)  # type: ignore[attr-defined]
        await r.monitor.refresh(force=True)
        assert r.monitor.findings == []
        assert await r.store.open_findings() == []
        state = await r.store.consistency_state()
        assert {c.dashboard for c in state.checksums} == set(dashboard_names())
        assert {f.endpoint for f in state.fields} == {"stats", "sending-schedules", "sender-emails"}


async def test_registry_entry_the_api_lacks_and_unregistered_workspace(tmp_path: Path) -> None:
    clients = [*registry(hand_dataset(), api_user=True), ClientEntry(name="Umbrella", id=99)]
    async with rig(tmp_path, clients=clients) as r:
        await r.monitor.refresh([KPI])
        found = {f.subject: f for f in by_rule(r.monitor.findings, "workspace-sets")}
        assert set(found) == {"sim/Umbrella", "sim/Initech"}
        assert "not in the API's workspace list" in found["sim/Umbrella"].message
        assert "no registry entry" in found["sim/Initech"].message
        stored = {(f.rule, f.subject) for f in await r.store.open_findings()}
        assert ("workspace-sets", "sim/Umbrella") in stored


async def test_disabled_entry_still_shown_until_its_dashboard_refreshes(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        disabled = [
            c.model_copy(update={"enabled": False}) if c.name == "globex" else c
            for c in full_registry()
        ]
        r.monitor.config = r.monitor.config.model_copy(update={"clients": disabled})
        await r.monitor.refresh([KPI], force=True)
        shown = by_rule(r.monitor.findings, "disabled-but-shown")
        # KPI was recomputed without Globex; Volume, Revenue, Infrastructure still show it.
        assert {f.scope for f in shown} == {"volume", "revenue", "infrastructure"}
        assert all(f.subject == "sim/Globex" and "disabled" in f.message for f in shown)
        await r.monitor.refresh(force=True)
        assert by_rule(r.monitor.findings, "disabled-but-shown") == []


async def test_duplicate_sender_email_fires_and_resolves_when_the_fault_clears(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, clients=full_registry(), faults="dup@3=1:from=2") as r:
        await r.monitor.refresh([INFRA])
        (dup,) = by_rule(r.monitor.findings, "sender-email-unique")
        assert dup.subject == "a@acme.io" and dup.severity == "error"
        assert "sim/Acme Corp" in dup.message and "sim/Globex" in dup.message
        await r.monitor.refresh([KPI], force=True)  # Infrastructure not judged: stays open
        assert by_rule(r.monitor.findings, "sender-email-unique") == [dup]
        await r.monitor.refresh([INFRA], force=True)
        again = by_rule(r.monitor.findings, "sender-email-unique")
        assert again[0].occurrences == 2 and again[0].first_seen == dup.first_seen
        r.faults.clear()
        r.clock.advance(5)  # type: ignore[attr-defined]
        await r.monitor.refresh([INFRA], force=True)
        assert by_rule(r.monitor.findings, "sender-email-unique") == []
        assert [f for f, _ in r.monitor.consistency.resolved][-1].subject == "a@acme.io"
        history = await r.store.findings_since(NOW - timedelta(hours=1))
        (row,) = [f for f in history if f.rule == "sender-email-unique"]
        assert row.resolved and row.resolved_at is not None and row.occurrences == 2


async def test_pagination_that_ends_early_is_a_count_finding(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry(), faults="early_end@2=5") as r:
        await r.monitor.refresh([INFRA])
        pages = {f.subject: f for f in by_rule(r.monitor.findings, "mailbox-pages")}
        assert set(pages) == {"sim/Acme Corp count"}
        assert "3 mailboxes gathered but meta.total says 8" in pages["sim/Acme Corp count"].message
        assert "shown as incomplete" in pages["sim/Acme Corp count"].message
        r.faults.clear()
        await r.monitor.refresh([INFRA], force=True)
        assert by_rule(r.monitor.findings, "mailbox-pages") == []


async def test_pagination_loop_is_an_anomaly_finding(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry(), faults="loop@2") as r:
        await r.monitor.refresh([INFRA])
        (loop,) = by_rule(r.monitor.findings, "mailbox-pages")
        assert loop.subject == "sim/Acme Corp pagination" and loop.severity == "warning"
        assert "links.next is not null" in loop.message


async def test_schema_drift_new_field_reported_once_with_first_seen(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh([KPI])
        r.faults.add_spec("drift@2/stats=extra:sentiment")
        r.clock.advance(60)  # type: ignore[attr-defined]
        await r.monitor.refresh([KPI], force=True)
        (new,) = by_rule(r.monitor.findings, "schema-drift")
        assert new.subject == "stats.sentiment (new)" and new.severity == "warning"
        assert "first seen 2026-11-21 12:01Z" in new.message and "Acme Corp" in new.message
        r.clock.advance(60)  # type: ignore[attr-defined]
        await r.monitor.refresh([KPI], force=True)
        (again,) = by_rule(r.monitor.findings, "schema-drift")
        assert again.occurrences == 2 and again.first_seen == new.first_seen
        assert "first seen 2026-11-21 12:01Z" in again.message  # the field's first sighting
        r.faults.clear()
        await r.monitor.refresh([KPI], force=True)
        assert by_rule(r.monitor.findings, "schema-drift") == []


async def test_schema_drift_required_field_missing(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh([KPI])
        r.faults.add_spec("drift@2/stats=missing:interested")
        await r.monitor.refresh([KPI], force=True)
        (gone,) = by_rule(r.monitor.findings, "schema-drift")
        assert gone.subject == "stats.interested (missing)" and gone.severity == "error"
        assert "required" in gone.message and "Acme Corp" in gone.message


async def test_schema_drift_optional_field_that_stops(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh([INFRA])  # every mailbox sends "name" (null): now known
        r.faults.add_spec("drift@3/sender-emails=missing:name")
        await r.monitor.refresh([INFRA], force=True)
        (gone,) = by_rule(r.monitor.findings, "schema-drift")
        assert gone.subject == "sender-emails.name (missing)" and gone.severity == "warning"
        assert "in 1 of 3 responses: Globex" in gone.message and "last seen" in gone.message


def _dataset_with_days(extra: dict[int, dict[date, DayStats]]) -> Dataset:
    data = hand_dataset()
    for ws in data.workspaces:
        assert isinstance(ws, SimWorkspace)
        ws.daily.update(extra.get(ws.id, {}))
    return data


async def test_window_sanity_mtd_above_30_days_and_negative_counts(tmp_path: Path) -> None:
    # Acme: a negative day inside the 30-day window but before the month (10-25 already
    # holds 800): 30-day = 1000 + 500 + 800 - 2000 = 300 < MTD 1500 and < 7-day 500.
    # Initech: a negative day this month makes its MTD emails negative.
    dataset = _dataset_with_days(
        {
            2: {date(2026, 10, 24): DayStats(emails_sent=-2000)},
            4: {date(2026, 11, 19): DayStats(emails_sent=-100)},
        }
    )
    async with rig(tmp_path, clients=full_registry(), dataset=dataset) as r:
        await r.monitor.refresh([VOLUME])
        found = {f.subject: f for f in by_rule(r.monitor.findings, "window-sanity")}
        assert set(found) == {
            "sim/Acme Corp emails <= emails_last_30_days",
            "sim/Acme Corp emails_last_7_days <= emails_last_30_days",
            "sim/Initech negative",
        }
        mtd = found["sim/Acme Corp emails <= emails_last_30_days"]
        assert "MTD emails = 1500 exceeds 30-day emails_last_30_days = 300 by 1200" in mtd.message
        assert "emails=-60" in found["sim/Initech negative"].message


async def test_content_checksum_tells_changed_data_from_a_new_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checksums, "FROZEN_AFTER", timedelta(seconds=100))
    monkeypatch.setattr(checksums, "FROZEN_REFRESHES", 2)
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh([KPI])
        first = r.monitor.consistency.checksums["kpi"]
        # Same upstream data, new fetches: same checksum, its changed_at stays put.
        for _ in range(2):
            r.clock.advance(60)  # type: ignore[attr-defined]
            await r.monitor.refresh([KPI], force=True)
        now = r.monitor.consistency.checksums["kpi"]
        assert now.checksum == first.checksum and now.changed_at == first.changed_at
        assert now.unchanged_refreshes == 2
        (frozen,) = by_rule(r.monitor.findings, "content-checksum")
        assert frozen.severity == "info" and "same data, new timestamp" in frozen.message

        # A source change (a new KPI target in the registry) changing rows: no alarm.
        clients = [
            c.model_copy(update={"monthly_kpi": 40}) if c.name == "Acme Corp" else c
            for c in full_registry()
        ]
        r.monitor.config = r.monitor.config.model_copy(update={"clients": clients})
        await r.monitor.refresh([KPI])
        assert r.monitor.consistency.checksums["kpi"].checksum != first.checksum
        assert by_rule(r.monitor.findings, "content-checksum") == []

        # Rows that change while every input stayed the same (served from the cache).
        original = KpiDashboard.compute

        def drifting(self: KpiDashboard, *args: object, **kwargs: object) -> object:
            outcome = original(self, *args, **kwargs)  # type: ignore[arg-type]
            if outcome.row is not None:
                outcome.row = outcome.row.model_copy(update={"projected_replies": 999})
            return outcome

        monkeypatch.setattr(KpiDashboard, "compute", drifting)
        await r.monitor.refresh([KPI])
        (changed,) = by_rule(r.monitor.findings, "content-checksum")
        assert changed.severity == "warning"
        assert "changed while the source says nothing did" in changed.message
        stored = {c.dashboard: c for c in (await r.store.consistency_state()).checksums}
        assert stored["kpi"].checksum == r.monitor.consistency.checksums["kpi"].checksum


async def test_findings_survive_a_restart_with_their_first_seen(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry(), faults="dup@3=1:from=2") as r:
        await r.monitor.refresh([INFRA])
        (before,) = r.monitor.findings
        fresh = PortalMonitor(
            r.monitor.config,
            secrets=r.monitor.fetcher._secrets,
            clock=r.clock,
            store=r.store,
            transports={"sim": r.sim.transport()},
        )
        try:
            await fresh.restore()
            assert fresh.findings == [before]
            r.clock.advance(10)  # type: ignore[attr-defined]
            await fresh.refresh([INFRA], force=True)
            (after,) = fresh.findings
            assert after.first_seen == before.first_seen and after.occurrences == 2
        finally:
            await fresh.aclose()


async def test_a_crashing_rule_is_reported_and_the_refresh_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal_tui.consistency.workspaces import SenderEmailOwnership

    async with rig(tmp_path, clients=full_registry(), faults="dup@3=1:from=2") as r:
        await r.monitor.refresh([INFRA])

        def broken(self: object, ctx: object) -> object:
            raise RuntimeError("boom")

        monkeypatch.setattr(SenderEmailOwnership, "run", broken)
        r.faults.clear()
        outcome = await r.monitor.refresh([INFRA], force=True)
        assert outcome is not None and r.monitor.snapshots[INFRA].failures == []
        rules = {f.rule for f in r.monitor.findings}
        # Its earlier finding is kept (not judged), and the crash is a finding itself.
        assert rules == {"sender-email-unique", "consistency-engine"}
        (crash,) = by_rule(r.monitor.findings, "consistency-engine")
        assert "RuntimeError: boom" in crash.message
