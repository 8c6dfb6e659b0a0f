"""Every dashboard, in pane order, and what follows from their declarations.

Adding a fifth dashboard is writing its module (see
:class:`~portal_tui.dashboards.base.Dashboard`) and listing its object in
:data:`DASHBOARDS`. Everything else reads the registry: the compute order (a
topological sort of the declared dependencies), the ``[ttl]`` names and
defaults, the CLI's ``--dashboard`` choices, the console's tabs and panes.

The functions below read :data:`REGISTRY` when called, so a test can register
a dashboard with one line (``monkeypatch.setattr(registry, "REGISTRY",
Registry((*DASHBOARDS, TOY)))``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portal_tui.config import Config
from portal_tui.dashboards.base import Dashboard
from portal_tui.dashboards.infrastructure import INFRASTRUCTURE
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.revenue import REVENUE
from portal_tui.dashboards.volume import VOLUME
from portal_tui.vocabulary.names import DashboardName

DASHBOARDS: tuple[Dashboard[Any], ...] = (KPI, VOLUME, REVENUE, INFRASTRUCTURE)
"""The dashboards, in the console's pane order."""


class RegistryError(ValueError):
    """The dashboards' declarations contradict each other (a bug, found at import)."""


class Registry:
    """A set of dashboards, checked: unique names, known dependencies, no cycle."""

    def __init__(self, dashboards: Sequence[Dashboard[Any]]) -> None:
        self.dashboards: tuple[Dashboard[Any], ...] = tuple(dashboards)
        self._by_name: dict[str, Dashboard[Any]] = {}
        names: list[DashboardName] = []
        for board in self.dashboards:
            name = DashboardName(board.name)  # checks the name's form
            if name in self._by_name:
                raise RegistryError(f"two dashboards are called {name!r}")
            self._by_name[name] = board
            names.append(name)
        for board in self.dashboards:
            unknown = [d for d in board.depends_on if d not in self._by_name]
            if unknown:
                raise RegistryError(
                    f"dashboard {board.name!r} depends on unknown {', '.join(map(repr, unknown))}"
                )
        self.names: tuple[DashboardName, ...] = tuple(names)
        self.compute_order: tuple[DashboardName, ...] = _topological(self.dashboards)

    def get(self, name: DashboardName | str) -> Dashboard[Any]:
        """The dashboard called ``name`` (any case); KeyError names the known ones."""
        board = self._by_name.get(name.casefold())
        if board is None:
            known = ", ".join(self.names)
            raise KeyError(f"unknown dashboard {name!r} (known: {known})")
        return board


def _topological(dashboards: Sequence[Dashboard[Any]]) -> tuple[DashboardName, ...]:
    """Names in an order where each comes after what it depends on.

    Among those ready, a dashboard others read goes first, then pane order:
    which keeps the order the cycle has always computed in (Infrastructure,
    KPI, Volume, Revenue) and with it the order snapshots are recorded and
    listed in. Raises :class:`RegistryError` naming a dependency cycle.
    """
    pane: dict[str, int] = {board.name: index for index, board in enumerate(dashboards)}
    read = {dependency for board in dashboards for dependency in board.depends_on}
    waiting: dict[str, set[str]] = {b.name: set(b.depends_on) for b in dashboards}
    order: list[DashboardName] = []
    while waiting:
        ready = [name for name, needs in waiting.items() if not needs]
        if not ready:
            raise RegistryError(f"dashboard dependencies form a cycle: {_cycle(waiting)}")
        first = min(ready, key=lambda name: (name not in read, pane[name]))
        order.append(DashboardName(first))
        del waiting[first]
        for needs in waiting.values():
            needs.discard(first)
    return tuple(order)


def _cycle(waiting: Mapping[str, set[str]]) -> str:
    """``a -> b -> a``: one cycle among dashboards that all wait on another."""
    path = [next(iter(waiting))]
    while True:
        step = min(waiting[path[-1]])
        if step in path:
            return " -> ".join([*path[path.index(step) :], step])
        path.append(step)


REGISTRY = Registry(DASHBOARDS)
"""The registry every face and the engine read (checked at import)."""


def dashboard_for(name: DashboardName | str) -> Dashboard[Any]:
    """The dashboard called ``name`` (``"kpi"``, ``"Volume"``, ...).

    Raises :class:`KeyError` naming the known dashboards for an unknown name.
    """
    return REGISTRY.get(name)


def dashboards() -> tuple[Dashboard[Any], ...]:
    """Every dashboard, in pane order."""
    return REGISTRY.dashboards


def dashboard_names() -> tuple[DashboardName, ...]:
    """Names of every dashboard, in pane order."""
    return REGISTRY.names


def compute_order() -> tuple[DashboardName, ...]:
    """Names of every dashboard, each after the ones it depends on."""
    return REGISTRY.compute_order


def title_of(name: str) -> str:
    """What ``name`` is called on screen; an unregistered name (an old record) as is."""
    try:
        return REGISTRY.get(name).title
    except KeyError:
        return name


def default_ttls() -> dict[str, float]:
    """Each dashboard's default TTL, by name: what ``[ttl]`` accepts (see ``load_config``)."""
    return {board.name: board.default_ttl for board in REGISTRY.dashboards}


def ttl_of(config: Config, name: DashboardName) -> float:
    """``name``'s TTL in seconds: the config's, else the dashboard's default."""
    return config.ttl.seconds(name, dashboard_for(name).default_ttl)


def ttls(config: Config) -> Mapping[DashboardName, float]:
    """Every dashboard's TTL under ``config``, by name."""
    return {name: ttl_of(config, name) for name in REGISTRY.names}


def pane_position(name: str) -> int:
    """``name``'s place in pane order (to sort by); an unregistered name sorts last."""
    names = REGISTRY.names
    return names.index(name) if name in names else len(names)
