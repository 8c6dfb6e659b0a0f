"""Every dashboard, in pane order, and lookup by name.

Adding a fifth dashboard is writing its module and listing its object here
(and a member in :class:`~portal_tui.dashboards.base.DashboardName`).
"""

from __future__ import annotations

from typing import Any

from portal_tui.dashboards.base import Dashboard
from portal_tui.dashboards.infrastructure import INFRASTRUCTURE
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.revenue import REVENUE
from portal_tui.dashboards.volume import VOLUME
from portal_tui.vocabulary.names import DashboardName

DASHBOARDS: tuple[Dashboard[Any], ...] = (KPI, VOLUME, REVENUE, INFRASTRUCTURE)
"""The dashboards in the console's pane order (the order of :class:`DashboardName`)."""

_BY_NAME: dict[DashboardName, Dashboard[Any]] = {d.name: d for d in DASHBOARDS}


def dashboard_for(name: DashboardName | str) -> Dashboard[Any]:
    """The dashboard called ``name`` (``"kpi"``, ``"Volume"``, ...).

    Raises :class:`KeyError` naming the known dashboards for an unknown name.
    """
    try:
        key = DashboardName(name.casefold() if isinstance(name, str) else name)
    except ValueError:
        known = ", ".join(d.value for d in DashboardName)
        raise KeyError(f"unknown dashboard {name!r} (known: {known})") from None
    return _BY_NAME[key]


def dashboard_names() -> tuple[DashboardName, ...]:
    """Names of every dashboard, in pane order."""
    return tuple(d.name for d in DASHBOARDS)
