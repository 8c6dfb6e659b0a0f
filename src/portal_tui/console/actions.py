"""What the keys do, and the workers that refresh and read history.

A base class of the app (not a mixin), so every action is typed against
the app it runs in. Refreshes and cache clears never block the UI: a
refresh runs in a worker (group ``refresh``), history reads in another
(group ``history``); clearing the cache only drops dictionary entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from textual import events
from textual.widgets import Static, TabbedContent
from textual.worker import Worker

from portal_tui.console.bindings import panes
from portal_tui.console.messages import WorkspaceStateChanged
from portal_tui.console.operator_actions import OperatorActions
from portal_tui.console.panes.base import Pane
from portal_tui.console.relay import MonitorRelay
from portal_tui.console.state import HISTORY_WINDOW_HOURS, ConsoleState
from portal_tui.console.widgets.key_bar import KeyBar
from portal_tui.dashboards.registry import dashboard_names, title_of
from portal_tui.engine.memory import QUIET_AFTER, between_cycles
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.runtime import Runtime
from portal_tui.vocabulary.errors import PortalError
from portal_tui.vocabulary.names import DashboardName

PAUSED_BANNER = " ⏸ PAUSED · auto-refresh is off on this console · data keeps ageing · p resumes "


class ConsoleActions(OperatorActions):
    """The console's actions; :class:`~portal_tui.console.app.PortalConsole` adds the rest."""

    runtime: Runtime
    monitor: PortalMonitor
    state: ConsoleState
    relay: MonitorRelay

    def current_pane(self) -> Pane:
        """The pane on screen (provided by the app)."""
        raise NotImplementedError

    def update_header(self) -> None:
        """Redraw the header's subtitle (provided by the app)."""
        raise NotImplementedError

    def health_reloaded(self) -> None:
        """The records' verdict was read again: repaint what shows it (provided by the app)."""
        raise NotImplementedError

    _tabs: TabbedContent | None = None
    """The pane tabs, once mounted (found once: a DOM query walks every widget)."""

    _last_input: float | None = None
    """When the operator last pressed a key or used the mouse (the monitor's clock)."""

    async def on_event(self, event: events.Event) -> None:
        """Every event reaches the app first: note when the operator last did something."""
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            self._last_input = self.monitor.clock.monotonic()
        await super().on_event(event)

    def sweep_between_cycles(self) -> None:
        """The 1 s tick's share of :mod:`portal_tui.engine.memory`: never during a cycle;
        a full sweep a cycle left owing once the operator has been quiet a moment."""
        now = self.monitor.clock.monotonic()
        last = self._last_input
        quiet = last is None or now - last >= QUIET_AFTER
        between_cycles(now, busy=bool(self.monitor.refreshing), quiet=quiet)

    def live(self) -> bool:
        """False once exiting: timers and late messages may still arrive as panes go away."""
        tabs = self._tabs
        return (
            self.is_running and self.return_code is None and tabs is not None and tabs.is_attached
        )

    # -- refreshing ---------------------------------------------------------------------

    def start_refresh(
        self, names: Iterable[DashboardName] | None, *, force: bool, triggered_by: str
    ) -> Worker[None]:
        """Refresh ``names`` (default all) in a worker; joins a refresh already running."""
        wanted = list(names) if names is not None else list(dashboard_names())
        self.state.policy.attempted(wanted, self.monitor.clock.now())
        if triggered_by == "manual":
            self.state.manual_refreshes += 1
        label = ", ".join(d.value for d in wanted)
        return self.run_worker(
            self._refresh(wanted, force, triggered_by),
            group="refresh",
            description=f"{triggered_by} refresh of {label}" + (" (forced)" if force else ""),
            exit_on_error=False,
        )

    async def _refresh(self, names: list[DashboardName], force: bool, triggered_by: str) -> None:
        self.update_header()
        try:
            outcome = await self.monitor.refresh(names, force=force, triggered_by=triggered_by)
        except PortalError as exc:
            self.notify(f"refresh failed: {exc}", severity="error", timeout=10)
            return
        if triggered_by == "manual" and outcome is not None:
            failed = sum(len(s.failures) for s in outcome.snapshots.values())
            boards = ", ".join(title_of(n) for n in outcome.dashboards)
            self.notify(
                f"Refreshed {boards}: {outcome.requests_made} requests, {failed} failure(s), "
                f"{outcome.duration_ms / 1000:.1f} s",
                timeout=4,
            )

    def check_auto_refresh(self) -> None:
        """Start a background refresh of every dashboard whose TTL lapsed."""
        boards = [self.state.board_clock(name) for name in dashboard_names()]
        due = self.state.policy.due(boards, self.state.now)
        if due:
            self.start_refresh(due, force=False, triggered_by="auto")

    def reload_health(self) -> None:
        """Read the records' verdict again (other consoles and cron ``check``s write too)."""
        self.run_worker(
            self._reload_health(),
            group="health",
            description="read the recorded verdict",
            exclusive=True,
            exit_on_error=False,
        )

    def fresh_view(self) -> None:
        """Draw from the monitor as it is now (provided by the app)."""
        raise NotImplementedError

    async def _reload_health(self) -> None:
        await self.monitor.reload_health()
        if self.live():
            self.health_reloaded()

    def load_history(self) -> None:
        """Read the History pane's rows from SQLite in a worker."""
        self.run_worker(
            self._load_history(),
            group="history",
            description="read API history",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load_history(self) -> None:
        store = self.monitor.store
        state = self.state
        if store is not None:
            since = self.monitor.clock.now() - timedelta(hours=HISTORY_WINDOW_HOURS)
            try:
                state.history = await store.workspace_history(since)
                state.operator_actions = await store.operator_actions(since)
                state.history_error = None
            except PortalError as exc:
                state.history_error = str(exc)
            state.history_loaded_at = self.monitor.clock.now()
        if not self.live():
            return
        for pane in self.query("#history"):
            if isinstance(pane, Pane):
                pane.repaint()

    # -- notifications ------------------------------------------------------------------

    def on_workspace_state_changed(self, message: WorkspaceStateChanged) -> None:
        """Notify when a workspace starts failing or recovers (hysteresis already applied)."""
        if message.to_state == "failing":
            boards = ", ".join(message.dashboards) or "all dashboards"
            self.notify(
                f"✗ {message.workspace} ({message.instance}) is FAILING on {boards}: "
                f"{message.reason}",
                title="workspace failing",
                severity="error",
                timeout=10,
            )
        else:
            self.notify(
                f"✔ {message.workspace} ({message.instance}) recovered: {message.reason}",
                title="workspace recovered",
                severity="information",
                timeout=8,
            )

    # -- key actions --------------------------------------------------------------------

    async def ensure_pane(self, tab_id: str) -> None:
        """Mount the pane of ``tab_id`` if it is not yet (provided by the app)."""
        raise NotImplementedError

    async def action_show_pane(self, pane_id: str) -> None:
        """``1``-``8``: show a pane (composed first, if this is its first showing)."""
        await self.ensure_pane(f"tab-{pane_id}")
        if not self.live():
            return
        self.query_one("#panes", TabbedContent).active = f"tab-{pane_id}"

    def action_refresh_pane(self) -> None:
        """``r``: refresh what this pane shows, now."""
        pane = self.current_pane()
        name = pane.dashboard_name
        if name is not None:
            self.start_refresh([name], force=True, triggered_by="manual")
            self.record_action("force-refresh", title_of(name))
            self.notify(f"Refreshing {title_of(name)} now (TTL bypassed)…", timeout=3)
        elif pane.id == "history":
            self.load_history()
            self.notify("Re-reading API history from SQLite…", timeout=3)
        else:
            self.start_refresh(None, force=False, triggered_by="manual")
            self.notify(
                "Revalidating every dashboard (responses within their TTL are reused; R forces)…",
                timeout=4,
            )

    def action_refresh_all(self) -> None:
        """``R``: force-refresh every dashboard."""
        self.start_refresh(None, force=True, triggered_by="manual")
        self.record_action("force-refresh", "every dashboard")
        self.notify("Force-refreshing every dashboard…", timeout=3)

    def action_clear_pane(self) -> None:
        """``c``: clear this dashboard's cached responses."""
        name = self.current_pane().dashboard_name
        if name is None:
            self.notify(
                "c clears a dashboard pane's cache (panes 2-5); C clears every cache.", timeout=4
            )
            return
        dropped = self.monitor.clear_cache(name)
        self.record_action("clear-cache", f"{title_of(name)}: {dropped} response(s)")
        self.notify(
            f"Cleared {dropped} cached response(s) of {title_of(name)}; its data stays on "
            "screen until the next refresh.",
            timeout=4,
        )

    def action_clear_all(self) -> None:
        """``C``: clear every cache, after a confirmation."""

        def answered(yes: bool | None) -> None:
            if yes:
                dropped = self.monitor.clear_cache(None)
                self.record_action("clear-cache", f"every cache: {dropped} response(s)")
                self.notify(f"Cleared all caches ({dropped} response(s)).", timeout=4)
            else:
                self.notify("Caches kept.", timeout=2)

        # Screens are imported on first use: off the cold start.
        from portal_tui.console.screens.confirm import ConfirmScreen

        self.push_screen(
            ConfirmScreen(
                "Clear EVERY cached response?\n\nThe panes keep their data; the next refresh "
                "of each dashboard fetches everything from the upstream again."
            ),
            answered,
        )

    def action_toggle_pause(self) -> None:
        """``p``: pause or resume auto-refresh; PAUSED shows in a banner and the header."""
        policy = self.state.policy
        policy.paused = not policy.paused
        self.record_action("pause" if policy.paused else "resume", "auto-refresh")
        banner = self.query_one("#pause-banner", Static)
        banner.update(PAUSED_BANNER)
        banner.set_class(not policy.paused, "hidden")
        self.query_one(KeyBar).set_paused(policy.paused)
        self.update_header()
        pane = self.current_pane()
        if pane.is_mounted:
            pane.tick()
        self.notify("Auto-refresh PAUSED" if policy.paused else "Auto-refresh resumed", timeout=3)
        if not policy.paused:
            self.check_auto_refresh()

    def action_filter(self) -> None:
        """``/``: filter the active table."""
        if not self.current_pane().start_filter():
            self.notify("Nothing to filter on this pane.", timeout=3)

    def action_sort(self) -> None:
        """``s``: sort the active table by its next column."""
        table = self.current_pane().active_table()
        if table is None:
            self.notify("Nothing to sort on this pane.", timeout=3)
            return
        self.notify(f"Sorted by {table.cycle_sort()}", timeout=2)

    def action_sort_reverse(self) -> None:
        """``S``: the same sort the other way round (``s`` picks the column)."""
        table = self.current_pane().active_table()
        if table is None:
            self.notify("Nothing to sort on this pane.", timeout=3)
            return
        self.notify(f"Sorted by {table.reverse_sort()}", timeout=2)

    async def action_detail(self) -> None:
        """``enter``: the selected workspace's detail (Overview: jump to the dashboard)."""
        pane = self.current_pane()
        finding = self.selected_finding(pane)
        if finding is not None:
            from portal_tui.console.screens.finding import FindingScreen

            self.push_screen(FindingScreen(self.state, finding, self.monitor.store))
            return
        ref = pane.selected_workspace()
        if ref is not None:
            from portal_tui.console.screens.detail import WorkspaceDetailScreen

            self.push_screen(WorkspaceDetailScreen(self.state, ref))
            return
        target = pane.selected_target()
        if target is not None and target in dict(panes()):
            await self.action_show_pane(target)
            return
        self.notify("Select a workspace row first.", timeout=3)

    def action_copy(self) -> None:
        """``y``: copy the selected row, or on Overview the incident summary (OSC 52)."""
        pane = self.current_pane()
        text = pane.copy_text()
        if not text:
            self.notify("Nothing selected to copy.", timeout=3)
            return
        self.copy_to_clipboard(text)
        what = "incident summary" if pane.id == "overview" else "row"
        self.notify(f"Copied the {what} ({len(text)} characters, OSC 52).", timeout=3)

    def action_help(self) -> None:
        """``?``: the help screen."""
        from portal_tui.console.screens.help import HelpScreen

        self.push_screen(HelpScreen())
