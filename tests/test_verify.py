"""``portal-tui verify`` (issue 19): re-fetch past the cache, diff with the recorded rows,
record the result, exit by the check convention. Nothing is mocked: the real monitor,
fetcher and SQLite file against the simulator, in-process and over loopback HTTP."""

from __future__ import annotations

import io
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from portal_tui.cli import main
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.verification import VerifyError, verify_workspaces
from portal_tui.reports.verify import print_verify, print_verify_json, run_verify
from portal_tui.simulator import DayStats, SimWorkspace
from portal_tui.vocabulary.names import DashboardName
from support import rig
from test_consistency import full_registry

GLOBEX = ("sim", 3)


def globex(r: object) -> SimWorkspace:
    ws = r.sim.dataset.workspace(3)  # type: ignore[attr-defined]
    assert isinstance(ws, SimWorkspace)
    return ws


async def test_clean_data_matches_and_the_run_is_recorded_without_touching_the_cache(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        cache_before = r.monitor.cache.stats()
        requests_before = r.sim.counters.requests
        run = await run_verify(r.monitor, sample=10, rng=random.Random(1))
        assert run.status == "OK" and int(run.exit_code) == 0
        assert [s[2] for s in run.sampled] == ["Acme Corp", "Globex", "Initech"]
        assert len(run.verdicts) == 12  # 3 workspaces x 4 dashboards
        assert {v.status for v in run.verdicts} == {"match"}
        # Past the cache: the upstream was asked again, the cache neither read nor filled.
        assert r.sim.counters.requests > requests_before
        after = r.monitor.cache.stats()
        assert (after.hits, after.misses, after.entries) == (
            cache_before.hits,
            cache_before.misses,
            cache_before.entries,
        )
        stored = await r.store.verify_results(run.run_at)
        assert len(stored) == 12 and {s.status for s in stored} == {"match"}


async def test_a_sample_is_random_but_bounded(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        one = await verify_workspaces(r.monitor, sample=1, rng=random.Random(7), record=False)
        assert len(one.sampled) == 1 and one.candidates == 3
        assert {v.dashboard for v in one.verdicts} == set(dashboard_names())


async def test_data_changed_after_the_recorded_cycle_is_a_divergence(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        globex(r).daily[date(2026, 11, 20)] = DayStats(
            emails_sent=100, total_leads_contacted=10, interested=2
        )
        run = await run_verify(r.monitor, workspace="GLOBEX")
        assert run.status == "DIVERGENCE" and int(run.exit_code) == 2
        by_board = {v.dashboard: v for v in run.verdicts}
        kpi = by_board[DashboardName.KPI]
        assert kpi.status == "differs"
        diffs = {d.field: (d.recorded, d.fetched) for d in kpi.differences}
        assert diffs["emails_sent"] == (2000, 2100)
        assert diffs["leads_generated"] == (25, 27)
        assert "the upstream moved on since" in kpi.message  # counts that only grew
        assert by_board[DashboardName.INFRASTRUCTURE].status == "match"
        doc = json.loads(_printed(print_verify_json, run))
        assert doc["status"] == "DIVERGENCE" and doc["exit_code"] == 2
        kpi_json = next(x for x in doc["results"] if x["dashboard"] == "kpi")
        assert {"field": "emails_sent", "recorded": 2000, "fetched": 2100} in kpi_json[
            "differences"
        ]
        text = _printed(print_verify, run)
        assert text.startswith("portal-tui verify: DIVERGENCE — 1 of 3 workspace(s)")
        assert "      emails_sent 2000 → 2100" in text
        stored = await r.store.verify_results(run.run_at)
        assert {"field": "emails_sent", "recorded": 2000, "fetched": 2100} in next(
            s.differences for s in stored if s.dashboard == "kpi"
        )


async def test_a_count_lower_than_shown_is_not_explained_by_new_activity(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        r.faults.add_spec("decrease@3=interested:0.5")
        run = await run_verify(r.monitor, workspace="3")
        kpi = next(v for v in run.verdicts if v.dashboard is DashboardName.KPI)
        assert "leads_generated 25 → 12" in kpi.message
        assert "not explained by new activity" in kpi.message


async def test_a_workspace_that_cannot_be_refetched_is_a_warning(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        r.faults.add_spec("revoked@3")
        run = await run_verify(r.monitor, workspace="Globex")
        assert run.status == "WARNING" and int(run.exit_code) == 1
        assert {v.status for v in run.verdicts} == {"unverified"}
        assert all("re-fetch failed: 4xx 401" in v.message for v in run.verdicts)


async def test_nothing_recorded_and_unknown_workspaces_are_usage_errors(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        with pytest.raises(VerifyError, match="nothing recorded to verify"):
            await run_verify(r.monitor)
        await r.monitor.refresh()
        with pytest.raises(VerifyError, match="no recorded row for workspace 'Umbrella'"):
            await run_verify(r.monitor, workspace="Umbrella")


async def test_over_loopback_http_clean_then_a_planted_divergence(tmp_path: Path) -> None:
    async with rig(tmp_path, http=True, clients=full_registry()) as r:
        await r.monitor.refresh()
        clean = await run_verify(r.monitor, sample=3)
        assert clean.status == "OK", [v.message for v in clean.verdicts]
        r.faults.add_spec("bad_email@2")  # Acme's first mailbox loses its @
        run = await run_verify(r.monitor, workspace="acme corp")
        infra = next(v for v in run.verdicts if v.dashboard is DashboardName.INFRASTRUCTURE)
        assert infra.status == "differs" and int(run.exit_code) == 2
        assert [(d.field, d.recorded, d.fetched) for d in infra.differences] == [
            ("mailboxes[a at acme.io].address", "a@acme.io", "a at acme.io")
        ]
        others = {v.dashboard: v.status for v in run.verdicts if v is not infra}
        assert set(others.values()) == {"match"}


def test_cli_exits_3_when_nothing_is_recorded_or_the_sample_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = str(tmp_path / "empty.sqlite3")
    assert main(["verify", "--demo", "--db", db]) == 3
    assert "nothing recorded to verify in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--sample", "0", "--demo", "--db", db])
    assert exited.value.code == 3
    assert "invalid sample size '0'" in capsys.readouterr().err


def _printed(printer: object, run: object) -> str:
    out = io.StringIO()
    printer(run, out)  # type: ignore[operator]
    return out.getvalue()


async def test_verify_results_and_baselines_go_with_retention(tmp_path: Path) -> None:
    async with rig(tmp_path, clients=full_registry()) as r:
        await r.monitor.refresh()
        run = await run_verify(r.monitor, sample=1, rng=random.Random(3))
        assert await r.store.verify_results(run.run_at)
        assert (await r.store.consistency_state()).baselines
        kept = await r.store.prune(now=run.run_at + timedelta(days=29))
        assert kept["verify_results"] == kept["consistency_baselines"] == 0
        gone = await r.store.prune(now=run.run_at + timedelta(days=31))
        assert gone["verify_results"] == 4  # one workspace x 4 dashboards
        assert gone["consistency_baselines"] > 0
        assert await r.store.verify_results(run.run_at) == []
        assert not (await r.store.consistency_state()).baselines
