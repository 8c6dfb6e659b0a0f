"""A frozen view of the monitor at one instant: what a face draws from.

The console hands its panes a :class:`MonitorView` built once per event (a
coalesced update, a cycle starting or ending, the 1 Hz tick). Everything in
it is a frozen value, a tuple or a read-only copy of a mapping: a pane
drawing from an old view draws exactly what it drew before, whatever the
monitor has done since. Snapshots are shared, not copied: a published
:class:`~portal_tui.dashboards.snapshot.DashboardSnapshot` is never changed
(each cycle builds new ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from portal_tui.config import Config
from portal_tui.consistency import ConsistencyChecker, OpenFinding
from portal_tui.consistency.model import Rule
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.engine.alert_delivery import DeliveryTrouble
from portal_tui.engine.readmodel import DashboardState
from portal_tui.engine.verdict import Verdict
from portal_tui.fetch.breaker import BreakerStatus
from portal_tui.fetch.cache import CacheStats
from portal_tui.fetch.events import RetryStatus
from portal_tui.shared.tier import TierStatus
from portal_tui.store.health_records import RecordedHealth
from portal_tui.store.records import WorkspaceState
from portal_tui.vocabulary.freshness import Freshness
from portal_tui.vocabulary.names import DashboardName


@dataclass(frozen=True, slots=True)
class Loading:
    """A cold refresh in progress: ``done`` of ``total`` workspaces completed."""

    done: int
    total: int

    @property
    def label(self) -> str:
        """``loading 12/27``."""
        return f"loading {self.done}/{self.total}"


@dataclass(frozen=True, slots=True)
class BoardView:
    """One dashboard at the view's instant."""

    name: DashboardName
    snapshot: DashboardSnapshot | None
    """The last complete snapshot (restored or refreshed); None before any."""
    freshness: Freshness
    ttl: float
    refreshing: bool
    preview: DashboardSnapshot | None = None
    """During a cold refresh (no snapshot yet): the rows of the workspaces completed so
    far. Never recorded, never judged: only drawn."""
    loading: Loading | None = None

    @property
    def shown(self) -> DashboardSnapshot | None:
        """What a dashboard pane draws: the snapshot, else the cold refresh's preview."""
        return self.snapshot if self.snapshot is not None else self.preview


@dataclass(frozen=True, slots=True)
class MonitorView:
    """Everything the console draws, as of ``at``."""

    serial: int
    """Views built by this monitor before this one, plus one: a later view has a larger one."""
    at: datetime
    boards: Mapping[DashboardName, BoardView]
    health: Verdict
    restored_health: RecordedHealth | None
    health_trend: tuple[int, ...]
    failing: tuple[tuple[str, str, WorkspaceState], ...]
    """Workspaces FAILING after hysteresis (instance, workspace, state), from the records."""
    findings: tuple[OpenFinding, ...]
    rules: tuple[Rule, ...]
    last_checked: datetime | None
    """When this process's rules last judged a cycle (a targeted one is not judged); None
    before one."""
    unreachable: Mapping[str, str]
    sources: Mapping[str, Mapping[str, int]]
    breakers: tuple[BreakerStatus, ...]
    calls: tuple[RetryStatus, ...]
    """Requests in flight or waiting to retry."""
    on_the_wire: int
    cache: CacheStats | None
    """The cache's counts (None when the view was built without them: they cost a pass
    over every cached response)."""
    shared: TierStatus
    demo: bool
    instances: tuple[str, ...]
    tls_off: tuple[str, ...]
    plaintext_token: tuple[str, ...]
    alert_trouble: tuple[DeliveryTrouble, ...] = ()
    """Per alert target, the events not delivered (as the records held after the last pass)."""

    @property
    def snapshots(self) -> Mapping[DashboardName, DashboardSnapshot]:
        """The complete snapshots, by dashboard (previews are not among them)."""
        return MappingProxyType(
            {n: b.snapshot for n, b in self.boards.items() if b.snapshot is not None}
        )

    @property
    def refreshing(self) -> frozenset[DashboardName]:
        """Dashboards with a cycle in flight."""
        return frozenset(n for n, b in self.boards.items() if b.refreshing)

    @property
    def multi_instance(self) -> bool:
        """More than one instance configured: tables show an Instance column."""
        return len(self.instances) > 1

    def board(self, name: DashboardName) -> BoardView:
        """One dashboard's view."""
        return self.boards[name]

    def snapshot(self, name: DashboardName) -> DashboardSnapshot | None:
        """The complete snapshot of ``name``, if any."""
        board = self.boards.get(name)
        return board.snapshot if board is not None else None

    def freshness(self, name: DashboardName) -> Freshness:
        """State, overlays and age of ``name`` at the view's instant."""
        return self.boards[name].freshness

    def ttl(self, name: DashboardName) -> float:
        """The dashboard's TTL in seconds."""
        return self.boards[name].ttl


PreviewOf = Callable[[DashboardName], "tuple[DashboardSnapshot | None, Loading] | None"]
"""A cold dashboard's preview rows and progress while a cycle fetches it, else None."""


def build_view(
    state: DashboardState,
    consistency: ConsistencyChecker,
    config: Config,
    *,
    serial: int,
    refreshing: Set[DashboardName],
    preview: PreviewOf,
    breakers: Iterable[BreakerStatus],
    calls: Iterable[RetryStatus],
    on_the_wire: int,
    cache: CacheStats | None,
    shared: TierStatus,
    demo: bool,
    alert_trouble: tuple[DeliveryTrouble, ...] = (),
) -> MonitorView:
    """The view of the read model ``state`` and the live network figures given, now."""
    boards: dict[DashboardName, BoardView] = {}
    for name in dashboard_names():
        snap = state.snapshots.get(name)
        board = BoardView(
            name,
            snap,
            state.freshness(name, refreshing=name in refreshing),
            state.ttl(name),
            name in refreshing,
        )
        cold = preview(name) if snap is None else None
        if cold is not None:
            board = replace(board, preview=cold[0], loading=cold[1])
        boards[name] = board
    health = state.health()
    instances = config.instances
    return MonitorView(
        serial=serial,
        at=health.at,
        boards=MappingProxyType(boards),
        health=health,
        restored_health=state.restored_health,
        health_trend=state.health_trend,
        failing=tuple(state.failing_workspaces(health)),
        findings=tuple(consistency.findings),
        rules=tuple(consistency.rules),
        last_checked=consistency.last_checked_at,  # a targeted cycle is not judged
        unreachable=MappingProxyType(dict(state.unreachable)),
        sources=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in state.sources.items()}),
        breakers=tuple(breakers),
        calls=tuple(calls),
        on_the_wire=on_the_wire,
        cache=cache,
        shared=shared,
        demo=demo,
        instances=tuple(i.name for i in instances),
        tls_off=tuple(i.name for i in instances if not i.verify_tls),
        plaintext_token=tuple(i.name for i in instances if i.plaintext_token),
        alert_trouble=alert_trouble,
    )


__all__ = ["BoardView", "Loading", "MonitorView", "build_view"]
