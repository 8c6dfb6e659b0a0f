"""The console app: composes the panes, wires the monitor's events, runs the timers.

What happens where: :mod:`.actions` holds what the keys do and the workers
that refresh (so this file stays about lifecycle); :mod:`.relay` turns
monitor events into coalesced messages; panes draw. Start-up paints the
snapshots restored from SQLite at once, then revalidates in a worker:
never a blank or a loading screen, and keys work throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import Header, Static, TabbedContent, TabPane

from portal_tui.console.actions import ConsoleActions
from portal_tui.console.autorefresh import AutoRefreshPolicy
from portal_tui.console.bindings import PANES, app_bindings
from portal_tui.console.commands import ConsoleCommands
from portal_tui.console.messages import (
    CallsChanged,
    DashboardsUpdated,
    RefreshStateChanged,
    WorkspaceStateChanged,
)
from portal_tui.console.panes.base import Pane
from portal_tui.console.panes.consistency import ConsistencyPane
from portal_tui.console.panes.dashboard import DashboardPane
from portal_tui.console.panes.failures import FailuresPane
from portal_tui.console.panes.history import HistoryPane
from portal_tui.console.panes.infrastructure import InfrastructurePane
from portal_tui.console.panes.overview import OverviewPane
from portal_tui.console.relay import FLUSH_INTERVAL, MonitorRelay
from portal_tui.console.render_status import HEALTH_SYMBOLS
from portal_tui.console.state import ConsoleState
from portal_tui.console.widgets.key_bar import KeyBar
from portal_tui.dashboards.base import DashboardName
from portal_tui.runtime import Runtime

RuntimeOpener = Callable[[], Awaitable[Runtime]]
"""Opens a runtime inside the app's own event loop (snapshot tests run the app that way)."""

TICK_INTERVAL = 1.0
"""Seconds between age/countdown redraws and auto-refresh checks."""


class PortalConsole(ConsoleActions):
    """The incident console on one :class:`~portal_tui.runtime.Runtime`."""

    CSS_PATH = "app.tcss"
    TITLE = "portal-tui"
    BINDINGS: ClassVar[list[BindingType]] = app_bindings()  # type: ignore[assignment]
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    def __init__(
        self,
        runtime: Runtime | None = None,
        *,
        opener: RuntimeOpener | None = None,
        auto_refresh: bool | None = None,
        startup_refresh: bool = True,
        handle_signals: bool = True,
    ) -> None:
        """Pass an open ``runtime`` (closed by its owner), or an ``opener`` (closed here).

        ``auto_refresh`` overrides the config's ``auto_refresh``;
        ``startup_refresh=False`` only paints what SQLite holds.
        """
        super().__init__()
        # No sliding tab underlines or smooth scrolls: over a slow SSH link every frame costs.
        self.animation_level = "none"
        if runtime is None and opener is None:
            raise ValueError("pass a runtime or an opener")
        self._runtime = runtime
        self._opener = opener
        self._auto_override = auto_refresh
        self._startup_refresh = startup_refresh
        self._handle_signals = handle_signals
        self._dirty: set[str] = {pane for pane, _ in PANES}
        self._panes: dict[str, Pane] = {}
        """Panes by tab id (filled by compose; a DOM query walks every widget)."""
        self._signals: list[signal.Signals] = []
        if runtime is not None:
            self._setup(runtime)

    def _setup(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.monitor = runtime.monitor
        enabled = (
            runtime.config.auto_refresh if self._auto_override is None else self._auto_override
        )
        self.state = ConsoleState(runtime.monitor, AutoRefreshPolicy(enabled=enabled))
        self.relay = MonitorRelay(runtime.monitor, self.post_message)

    async def on_load(self) -> None:
        """Open the runtime here when given an opener (before anything is composed)."""
        if self._runtime is None and self._opener is not None:
            self._runtime = await self._opener()
            self._setup(self._runtime)

    def compose(self) -> ComposeResult:
        """Header, the PAUSED banner, the eight panes as tabs, the key bar."""
        yield Header()
        yield Static(id="pause-banner", classes="hidden")
        with TabbedContent(id="panes", initial="tab-overview"):
            for number, (pane_id, label) in enumerate(PANES, start=1):
                with TabPane(f"{number} {label}", id=f"tab-{pane_id}"):
                    pane = self._make_pane(pane_id)
                    self._panes[f"tab-{pane_id}"] = pane
                    yield pane
        yield KeyBar(id="key-bar")

    def _make_pane(self, pane_id: str) -> Pane:
        if pane_id == "overview":
            return OverviewPane(self.state)
        if pane_id == "infrastructure":
            return InfrastructurePane(self.state)
        if pane_id == "failures":
            return FailuresPane(self.state)
        if pane_id == "consistency":
            return ConsistencyPane(self.state)
        if pane_id == "history":
            return HistoryPane(self.state)
        return DashboardPane(self.state, DashboardName(pane_id))

    async def on_mount(self) -> None:
        """Paint what SQLite holds at once, then revalidate in the background."""
        self._tabs = self.query_one("#panes", TabbedContent)
        self.relay.start()
        await self.monitor.restore()
        self.relay.flush()
        self._repaint_visible(force=True)
        store = self.monitor.store
        for notice in getattr(store, "notices", []) if store is not None else []:
            self.notify(notice, title="local records", severity="warning", timeout=15)
        self.set_interval(FLUSH_INTERVAL, self.relay.flush, name="coalesce monitor events")
        self.set_interval(TICK_INTERVAL, self.tick, name="ages and auto-refresh")
        if self._handle_signals:
            self._install_signal_handlers()
        if self._startup_refresh:
            self.start_refresh(None, force=False, triggered_by="startup")
        self.current_pane().focus_table()

    async def on_unmount(self) -> None:
        """Stop listening; close the runtime if this app opened it."""
        self._remove_signal_handlers()
        self._tabs = None
        if getattr(self, "relay", None) is not None:
            self.relay.stop()
        if self._opener is not None and self._runtime is not None:
            await self._runtime.aclose()

    # -- the terminal going away --------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.terminal_gone, sig)
                self._signals.append(sig)

    def _remove_signal_handlers(self) -> None:
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for sig in self._signals:
                loop.remove_signal_handler(sig)
        self._signals.clear()

    def terminal_gone(self, sig: int = signal.SIGHUP) -> None:
        """SIGHUP (the SSH session dropped) or SIGTERM: exit cleanly, 128 + signal."""
        self.exit(return_code=128 + int(sig))

    # -- events from the monitor (via the relay) ----------------------------------------

    def on_dashboards_updated(self, message: DashboardsUpdated) -> None:
        """New snapshots: mark the panes that show them dirty; repaint the visible one."""
        if not self.live():
            return
        for pane in self._panes.values():
            name = pane.dashboard_name
            if name is None or name in message.dashboards:
                self._dirty.add(str(pane.id))
        self._repaint_visible()

    def on_refresh_state_changed(self, message: RefreshStateChanged) -> None:
        """A cycle started or ended: overlays and the header change."""
        if not self.live():
            return
        self._dirty.update({"overview", "failures", "consistency"})
        self._repaint_visible()
        self.update_header()
        if not message.running and self.current_pane().id == "history":
            self.load_history()

    def on_calls_changed(self, message: CallsChanged) -> None:
        """Retry statuses changed (coalesced): only live widgets redraw."""
        if not self.live():
            return
        self.current_pane().calls_changed()
        self.update_header()

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

    @on(TabbedContent.TabActivated)
    def _pane_shown(self, event: TabbedContent.TabActivated) -> None:
        self._repaint_visible()
        pane = self.current_pane()
        pane.focus_table()
        if pane.id == "history":
            self.load_history()

    # -- painting -----------------------------------------------------------------------

    def current_pane(self) -> Pane:
        """The pane on screen."""
        tabs = self._tabs or self.query_one("#panes", TabbedContent)
        pane = self._panes.get(tabs.active)
        return pane if pane is not None else self.query_one(f"#{tabs.active} Pane", Pane)

    def _repaint_visible(self, *, force: bool = False) -> None:
        pane = self.current_pane()
        if force or str(pane.id) in self._dirty:
            self._dirty.discard(str(pane.id))
            pane.repaint()
        self.update_header()

    def tick(self) -> None:
        """Once a second: redraw ages and countdowns; start auto-refreshes that are due."""
        if not self.live():
            return
        self.current_pane().tick()
        self.update_header()
        self.check_auto_refresh()

    def update_header(self) -> None:
        """The subtitle: DEMO, health, PAUSED, what is refreshing (short: 80 columns)."""
        health = self.monitor.health()
        parts = ["DEMO"] if self.state.demo else []
        parts.append(f"health {health.score} {HEALTH_SYMBOLS[health.status]} {health.status}")
        if self.state.policy.paused:
            parts.append("⏸ PAUSED")
        refreshing = self.monitor.refreshing
        if refreshing:
            parts.append(f"↻ refreshing {len(refreshing)}/{len(DashboardName)}")
        self.sub_title = " · ".join(parts)


def run_console(config_arg: str | None, demo: bool, db_arg: str | None) -> int:
    """Open the runtime, run the console until it quits, close everything; the exit code.

    Config and store errors propagate before the screen is taken, so the
    CLI prints them as one clear line.
    """
    from portal_tui.runtime import open_runtime

    async def main() -> int:
        runtime = await open_runtime(config_arg=config_arg, demo=demo, db_arg=db_arg)
        try:
            app = PortalConsole(runtime)
            with contextlib.suppress(OSError):  # the terminal may be gone already
                await app.run_async()
            return app.return_code or 0
        finally:
            await runtime.aclose()

    return asyncio.run(main())
