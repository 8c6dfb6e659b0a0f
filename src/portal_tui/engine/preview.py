"""Rows as each workspace completes, for a dashboard refreshed cold (no snapshot yet).

A first refresh at 27 workspaces takes ~14 s; without this the dashboard shows
nothing until every workspace is in. :class:`ColdPreview` counts, per
dashboard without a snapshot, the workspaces whose responses have all landed
(``loading 12/27``) and, when a face asks, computes their rows: incrementally
(each workspace once), at most once per :data:`PREVIEW_INTERVAL` of the
injected clock and for at most :data:`PREVIEW_SLICE` each time, so a
1,000-workspace cold start is not a full compute per workspace. Nothing asks
in ``check``: there it costs only the counting.

A preview is only drawn: it is never recorded, judged or checked for
consistency. The cycle's own snapshot replaces it when the cycle ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portal_tui.dashboards.base import ComputeContext, Need, WorkspaceRow
from portal_tui.dashboards.registry import dashboard_for
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta
from portal_tui.engine.compute import error_text, gather
from portal_tui.engine.view import Loading
from portal_tui.fetch.cache import CacheResult
from portal_tui.fetch.fetcher import Fetched
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import UpstreamError
from portal_tui.vocabulary.names import DashboardName

PREVIEW_INTERVAL = 1.0
"""Seconds of clock time between two builds of a dashboard's preview."""

PREVIEW_SLICE = 0.01
"""Seconds of computing rows per build at most (the console shares the loop): at 1,000
workspaces the rows of a second's completions took 0.24 s in one go; past the slice the
rest waits for the next build."""

ProgressListener = Callable[[DashboardName, int, int], None]
"""Called with ``(dashboard, done, total)`` each time a workspace completes."""


@dataclass(slots=True)
class _Board:
    needs: Mapping[str, Need]
    ctx: ComputeContext
    total: int
    done: list[WorkspaceRef] = field(default_factory=list)
    """Workspaces whose every response landed, in the order they did."""
    computed: int = 0
    """How many of ``done`` have their row (or lack of one) in ``rows``."""
    rows: list[WorkspaceRow] = field(default_factory=list)
    meta: dict[tuple[str, int], RowMeta] = field(default_factory=dict)
    built: DashboardSnapshot | None = None
    built_at: float | None = None


class ColdPreview:
    """The preview of the dashboards a cycle refreshes without a snapshot to show."""

    def __init__(
        self, names: Iterable[DashboardName], clock: Clock, on_progress: ProgressListener
    ) -> None:
        self.names = tuple(names)
        self._clock = clock
        self._on_progress = on_progress
        self._boards: dict[DashboardName, _Board] = {}
        self._results: dict[RequestKey, CacheResult[Fetched] | BaseException] = {}
        self._waiting: dict[RequestKey, list[tuple[DashboardName, WorkspaceRef]]] = {}
        self._left: dict[tuple[DashboardName, tuple[str, int]], int] = {}
        self._unreachable: Mapping[str, UpstreamError] = {}
        self._now: datetime | None = None

    def start(
        self,
        refs: Sequence[WorkspaceRef],
        contexts: Mapping[DashboardName, tuple[Mapping[str, Need], ComputeContext]],
        unreachable: Mapping[str, UpstreamError],
        now: datetime,
    ) -> None:
        """The cycle's plan is known: ``refs`` to fetch, each dashboard's needs and context."""
        self._unreachable = unreachable
        self._now = now
        for name in self.names:
            needs, ctx = contexts[name]
            self._boards[name] = _Board(needs, ctx, total=len(refs))
            for ws in refs:
                keys = {
                    RequestKey(ws.instance, ws.id, need.endpoint, need.params)
                    for need in needs.values()
                }
                self._left[(name, ws.key)] = len(keys)
                for key in keys:
                    self._waiting.setdefault(key, []).append((name, ws))
            self._on_progress(name, 0, len(refs))

    def landed(self, key: RequestKey, result: CacheResult[Fetched] | BaseException) -> None:
        """One planned request finished (a value, or the error it ended on)."""
        self._results[key] = result
        for name, ws in self._waiting.pop(key, ()):
            left = self._left[(name, ws.key)] - 1
            self._left[(name, ws.key)] = left
            if left == 0:
                board = self._boards[name]
                board.done.append(ws)
                self._on_progress(name, len(board.done), board.total)

    def progress(self, name: DashboardName) -> Loading | None:
        """``done`` of ``total`` workspaces for ``name``; None when it is not previewed."""
        board = self._boards.get(name)
        return Loading(len(board.done), board.total) if board is not None else None

    def snapshot(self, name: DashboardName) -> DashboardSnapshot | None:
        """The rows of the workspaces completed so far (rebuilt at most once per
        :data:`PREVIEW_INTERVAL`, computing only the workspaces new since the last build)."""
        board = self._boards.get(name)
        if board is None or not board.done:
            return None
        now = self._clock.monotonic()
        built, at = board.built, board.built_at
        if built is not None and at is not None and (
            board.computed == len(board.done) or now - at < PREVIEW_INTERVAL
        ):
            return built
        dashboard = dashboard_for(name)
        started = time.perf_counter()
        for ws in board.done[board.computed :]:
            if time.perf_counter() - started > PREVIEW_SLICE:
                break
            board.computed += 1
            got = gather(ws, board.needs, self._results, self._unreachable)
            if got.complete and got.fetched_at is not None:
                row = dashboard.compute(ws, got.values, board.ctx).row
                if row is not None:
                    board.rows.append(row)
                    board.meta[ws.key] = RowMeta(
                        got.fetched_at, got.error is not None, error_text(got.error)
                    )
        board.built = DashboardSnapshot(
            name=name,
            rows=list(dashboard.rank(board.rows)),
            row_meta=dict(board.meta),
            refreshed_at=self._now,
            workspaces_expected=board.total,
        )
        board.built_at = now
        return board.built
