"""Refresh scheduling: which dashboards have a cycle in flight, and joining one.

A refresh asked for a dashboard already refreshing joins that cycle rather
than starting another; the dashboards not yet refreshing get a cycle of
their own. It announces each cycle (:class:`RefreshStarted`, and
:class:`RefreshFinished` once the cycle no longer counts as refreshing).
A caller that gives up (a console worker cancelled) leaves its cycle to
finish: the cycle records what it learned either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.events import MonitorEvent, RefreshFinished, RefreshStarted
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome
    from portal_tui.engine.targeted import Scope

CycleRunner = Callable[
    [list[DashboardName], bool, str, "Scope | None"], Coroutine[Any, Any, "CycleOutcome"]
]
"""Runs one cycle: ``(dashboards, force, triggered_by, scope)`` → its outcome."""


@dataclass(slots=True)
class _Inflight:
    dashboards: frozenset[DashboardName]
    task: asyncio.Future[CycleOutcome] | None = None


class RefreshScheduler:
    """Starts cycles through ``run`` and lets later callers join the ones in flight."""

    def __init__(self, run: CycleRunner, emit: Callable[[MonitorEvent], None]) -> None:
        self._run = run
        self._emit = emit
        self._inflight: list[_Inflight] = []

    @property
    def refreshing(self) -> set[DashboardName]:
        """Dashboards with a cycle in flight."""
        return {d for f in self._inflight for d in f.dashboards}

    async def refresh(
        self,
        names: Iterable[DashboardName] | None = None,
        *,
        force: bool = False,
        triggered_by: str = "manual",
        scope: Scope | None = None,
    ) -> CycleOutcome | None:
        """Refresh ``names`` (default all); a dashboard already refreshing is joined.
        ``scope``: only those workspaces (:mod:`portal_tui.engine.targeted`).

        Returns the outcome of the cycle started here, else of the last one joined.
        """
        every = dashboard_names()
        wanted = [n for n in every if n in set(names or every)]
        busy = self.refreshing
        joined = [f.task for f in self._inflight if f.task and f.dashboards & set(wanted)]
        todo = [n for n in wanted if n not in busy]
        if not todo:
            results: list[CycleOutcome] = await asyncio.gather(*joined)
            return results[-1] if results else None
        flight = _Inflight(frozenset(todo))
        run = self._fly(flight, todo, force, triggered_by, scope)
        task = asyncio.get_running_loop().create_task(run)
        flight.task = task
        self._inflight.append(flight)
        self._emit(RefreshStarted(tuple(todo)))
        # shield: a caller that gives up (a worker cancelled) leaves the cycle to finish.
        outcome = await asyncio.shield(task)
        if joined:
            await asyncio.gather(*joined, return_exceptions=True)
        return outcome

    async def _fly(
        self,
        flight: _Inflight,
        todo: list[DashboardName],
        force: bool,
        triggered_by: str,
        scope: Scope | None,
    ) -> CycleOutcome:
        try:
            outcome = await self._run(todo, force, triggered_by, scope)
        finally:
            self._inflight.remove(flight)
        # After the flight is gone: a listener asking what is refreshing sees it ended.
        self._emit(RefreshFinished(outcome.dashboards, outcome))
        return outcome

    async def cancel_all(self) -> None:
        """Cancel every cycle in flight and wait for them to unwind."""
        tasks = [flight.task for flight in self._inflight if flight.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
