"""Targeted refreshes (issue 19): one workspace past the cache, and retry only what failed.

The snapshot that results still holds every workspace; the others keep their rows,
row ages and failures as they were, and the records say only what was fetched.
"""

from __future__ import annotations

from pathlib import Path

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.targeted import failed_dashboards, failed_scope, workspace_scope
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.names import DashboardName
from support import rig

ACME = ("sim", 2)
GLOBEX = ("sim", 3)
KPI = DashboardName.KPI


def ages(monitor: object) -> dict[tuple[DashboardName, tuple[str, int]], object]:
    return {
        (name, key): meta.fetched_at
        for name, snap in monitor.snapshots.items()  # type: ignore[attr-defined]
        for key, meta in snap.row_meta.items()
    }


async def test_one_workspace_is_fetched_past_the_cache_and_nothing_else(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.monitor.refresh()
        before = ages(r.monitor)
        counts = {n: len(s.rows) for n, s in r.monitor.snapshots.items()}
        fetched_at = {n: s.fetched_at for n, s in r.monitor.snapshots.items()}
        assert isinstance(r.clock, FakeClock)
        r.clock.advance(30)  # well within every TTL: a plain refresh would fetch nothing
        since = r.clock.now()

        outcome = await r.monitor.refresh(force=True, scope=workspace_scope(*ACME))

        assert outcome is not None and outcome.scope is not None
        calls = await r.store.recent_api_calls(since=since)
        assert calls, "the workspace was fetched past the cache"
        assert {c.workspace for c in calls} == {"Acme Corp"}  # no list, no other workspace
        after = ages(r.monitor)
        assert set(after) == set(before)  # every workspace is still in every dashboard
        for (name, key), when in after.items():
            if key == ACME:
                assert when >= since, (name, key)
            else:
                assert when == before[(name, key)], (name, key)  # not made to look fresh
        assert {n: len(s.rows) for n, s in r.monitor.snapshots.items()} == counts
        # A dashboard's age is its oldest fresh row's: the others did not move.
        assert {n: s.fetched_at for n, s in r.monitor.snapshots.items()} == fetched_at
        cycles = await r.store.recent_cycles(limit=5)
        assert len(cycles) == 2 and cycles[0].requests == len(calls)
        # Recorded like a cycle: the restored snapshot holds every workspace too.
        restored = await r.store.load_snapshots()
        assert {name for name in restored} == {n.value for n in dashboard_names()}


async def test_retry_failed_refetches_only_what_failed(tmp_path: Path) -> None:
    async with rig(tmp_path, faults="5xx@3", attempts=1) as r:
        await r.monitor.refresh()
        snapshots = list(r.monitor.snapshots.values())
        scope = failed_scope(snapshots)
        assert scope.workspaces == {GLOBEX} and not scope.whole_instances
        boards = failed_dashboards(snapshots)
        assert boards and set(boards) <= set(dashboard_names())
        before = ages(r.monitor)
        r.sim.faults.clear()
        assert isinstance(r.clock, FakeClock)
        r.clock.advance(30)
        since = r.clock.now()

        await r.monitor.refresh(boards, scope=scope)

        calls = await r.store.recent_api_calls(since=since)
        assert calls and {c.workspace for c in calls} == {"Globex"}
        assert all(c.success for c in calls)
        assert not any(s.failures for s in r.monitor.snapshots.values())
        after = ages(r.monitor)
        for (name, key), when in before.items():
            if key != GLOBEX:
                assert after[(name, key)] == when
        assert any(key == GLOBEX for _, key in after)  # Globex has rows now
        # Its standing counts one good cycle; nobody else's changed.
        standings = await r.store.standings()
        assert {s.workspace for s in standings if s.failing_since is not None} == set()


async def test_a_targeted_cycle_leaves_the_findings_to_the_next_full_cycle(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, faults="bad_email@2") as r:
        await r.monitor.refresh()
        findings = {f.key for f in r.monitor.findings}
        assert findings
        checked = r.monitor.consistency.last_checked_at
        assert isinstance(r.clock, FakeClock)
        r.clock.advance(30)
        await r.monitor.refresh(force=True, scope=workspace_scope(*GLOBEX))
        assert {f.key for f in r.monitor.findings} == findings
        assert r.monitor.consistency.last_checked_at == checked
        open_rows = await r.store.open_findings()
        assert {(f.rule, f.scope, f.subject) for f in open_rows} == findings
        assert all(f.occurrences == 1 for f in open_rows)  # not counted again


def test_empty_scope_when_nothing_failed() -> None:
    assert failed_scope([]).empty
    assert workspace_scope("sim", 2).describe({("sim", 2): "Acme"}) == "Acme (sim)"


async def test_retry_failed_takes_a_whole_instance_that_was_unreachable(tmp_path: Path) -> None:
    async with rig(tmp_path, attempts=1) as r:
        await r.monitor.refresh()
        assert isinstance(r.clock, FakeClock)
        r.sim.faults.add_spec("down")
        r.clock.advance(3600)  # every TTL lapsed: the next refresh asks the instance
        await r.monitor.refresh(force=True)
        scope = failed_scope(r.monitor.snapshots.values())
        assert scope.whole_instances == {"sim"}
        assert r.monitor.unreachable
        r.sim.faults.clear()
        r.clock.advance(60)  # past the breaker's reset timeout
        since = r.clock.now()
        await r.monitor.refresh(failed_dashboards(r.monitor.snapshots.values()), scope=scope)
        assert not any(s.failures for s in r.monitor.snapshots.values())
        assert not r.monitor.unreachable
        for snap in r.monitor.snapshots.values():
            assert all(not m.stale and m.fetched_at >= since for m in snap.row_meta.values())
