"""The event loop stays free while a big cycle is judged, recorded and started (issue 5).

The consistency rules and the cycle's record run in a worker thread, their
verdict applied on the loop; a cycle starts its requests in batches, so the
loop gets a turn between them.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path
from typing import ClassVar

from portal_tui.consistency import ConsistencyChecker, default_rules
from portal_tui.consistency.model import CheckContext, Finding, RuleResult
from portal_tui.engine.cycle import START_BATCH, RefreshCycle
from portal_tui.fetch.cache import CacheResult
from portal_tui.fetch.fetcher import CallContext, Fetched
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName, Severity
from support import rig


class _Probe:
    """A rule that notes the thread it ran on and always finds one thing."""

    name: ClassVar[str] = "probe"
    severity: ClassVar[Severity] = Severity.INFO
    source: ClassVar[str] = "the test"

    def __init__(self) -> None:
        self.threads: list[int] = []

    def run(self, ctx: CheckContext) -> RuleResult:
        self.threads.append(threading.get_ident())
        result = RuleResult(covered={"all"})
        result.findings.append(Finding(self.name, Severity.INFO, "all", "x", "seen"))
        return result


async def test_rules_run_in_a_worker_thread_and_their_verdict_is_applied(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        probe = _Probe()
        r.monitor.consistency.rules.append(probe)
        await r.monitor.refresh()
        assert probe.threads and threading.get_ident() not in probe.threads
        assert "probe" in {f.rule for f in r.monitor.findings}
        stored = await r.store.consistency_state()
        assert "probe" in {f.rule for f in stored.findings}  # in the cycle's transaction


async def test_evaluate_changes_nothing_a_reader_sees_until_commit(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        outcome = await r.monitor.refresh([DashboardName.KPI])
        assert outcome is not None
    checker = ConsistencyChecker([*default_rules(), _Probe()])
    verdict = checker.evaluate(outcome, outcome.snapshots, r.monitor.config)
    assert checker.findings == [] and checker.checksums == {}
    assert checker.last_checked_at is None
    record = checker.commit(verdict)
    assert "probe" in {f.rule for f in checker.findings}
    assert set(checker.checksums) == {"kpi"}
    assert {f.rule for f in record.findings} == {f.rule for f in checker.findings}
    assert ("probe", "all") in record.covered


class _Counting(RefreshCycle):
    """A cycle whose requests only count how many were started."""

    started = 0

    async def _get(
        self, key: RequestKey, ws: WorkspaceRef, tags: set[str], ctx: CallContext, force: bool
    ) -> CacheResult[Fetched]:
        type(self).started += 1
        await asyncio.Event().wait()  # never answers: only the start matters here
        raise AssertionError


async def test_a_cycle_starts_its_requests_in_batches(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        m = r.monitor
        cycle = _Counting(m.config, m.fetcher, m.cache, m.clock, previous={}, failing_since={})
        ws = WorkspaceRef("sim", 1, "w", None)
        plan = {
            RequestKey("sim", n, Endpoint.SCHEDULES): (ws, {"kpi"}) for n in range(3 * START_BATCH)
        }
        seen: list[int] = []
        all_started = asyncio.Event()

        def watch() -> None:  # once per loop iteration
            seen.append(_Counting.started)
            if _Counting.started < len(plan):
                asyncio.get_running_loop().call_soon(watch)
            else:
                all_started.set()

        asyncio.get_running_loop().call_soon(watch)
        task = asyncio.ensure_future(cycle._fetch_planned(plan, CallContext("t", ()), False))
        await all_started.wait()
        task.cancel()
        steps = [b - a for a, b in itertools.pairwise(seen)]
        assert max(steps) <= START_BATCH < len(plan)
