"""Panes by id, each module imported when its pane is first made.

The console composes only the pane on screen at start-up; the others (and
what only they draw with: consistency rules, history, mailbox columns) are
imported the first time they are shown, which keeps them off the cold start.
"""

from __future__ import annotations

from portal_tui.console.panes.base import Pane
from portal_tui.console.state import ConsoleState
from portal_tui.vocabulary.names import DashboardName


def make_pane(pane_id: str, state: ConsoleState) -> Pane:
    """A new, unmounted pane for ``pane_id`` (one of :func:`~portal_tui.console.bindings.panes`)."""
    if pane_id == "overview":
        from portal_tui.console.panes.overview import OverviewPane

        return OverviewPane(state)
    if pane_id == "infrastructure":
        from portal_tui.console.panes.infrastructure import InfrastructurePane

        return InfrastructurePane(state)
    if pane_id == "failures":
        from portal_tui.console.panes.failures import FailuresPane

        return FailuresPane(state)
    if pane_id == "consistency":
        from portal_tui.console.panes.consistency import ConsistencyPane

        return ConsistencyPane(state)
    if pane_id == "history":
        from portal_tui.console.panes.history import HistoryPane

        return HistoryPane(state)
    from portal_tui.console.panes.dashboard import DashboardPane

    return DashboardPane(state, DashboardName(pane_id))
