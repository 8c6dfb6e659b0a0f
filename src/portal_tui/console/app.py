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
import sys
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.driver import Driver
from textual.widget import AwaitMount
from textual.widgets import Header, Static, TabbedContent, TabPane

from portal_tui.console.actions import ConsoleActions
from portal_tui.console.autorefresh import AutoRefreshPolicy
from portal_tui.console.bindings import fixed_bindings, pane_keys, panes
from portal_tui.console.commands import ConsoleCommands
from portal_tui.console.messages import (
    CallsChanged,
    DashboardsUpdated,
    RefreshStateChanged,
)
from portal_tui.console.no_color import readable_no_color
from portal_tui.console.panes.base import Pane
from portal_tui.console.panes.factory import make_pane
from portal_tui.console.preload import preload
from portal_tui.console.relay import FLUSH_INTERVAL, MonitorRelay
from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import header_subtitle
from portal_tui.console.widgets.key_bar import KeyBar
from portal_tui.engine.runtime import Runtime
from portal_tui.vocabulary.errors import ExitCode

RuntimeOpener = Callable[[], Awaitable[Runtime]]
"""Opens a runtime inside the app's own event loop (snapshot tests run the app that way)."""

FIRST_PANE = "overview"
"""The pane on screen at start-up: the only one composed before the first frame."""

PREMOUNT_AFTER = 0.5
"""Seconds after start-up before the other panes are composed, one at a time, in the
background: the first frame does not wait for them, and a pane key later does not
pay for composing its pane (at 50,000 mailboxes that made the first visit of each
pane the slowest keypress)."""

TICK_INTERVAL = 1.0
HEALTH_INTERVAL = 5.0
"""Seconds between reads of the records' verdict (what other processes recorded)."""
"""Seconds between age/countdown redraws and auto-refresh checks."""


class PortalConsole(ConsoleActions):
    """The incident console on one :class:`~portal_tui.engine.runtime.Runtime`."""

    CSS_PATH = "app.tcss"
    TITLE = "portal-tui"
    BINDINGS: ClassVar[list[BindingType]] = fixed_bindings()  # type: ignore[assignment]
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
        readable_no_color(self)
        # No sliding tab underlines or smooth scrolls: over a slow SSH link every frame costs.
        self.animation_level = "none"
        if runtime is None and opener is None:
            raise ValueError("pass a runtime or an opener")
        self._runtime = runtime
        self._opener = opener
        self._auto_override = auto_refresh
        self._startup_refresh = startup_refresh
        self._handle_signals = handle_signals
        self._pane_specs = panes()
        """(pane id, tab label) of every pane: fixed for this app's life."""
        for spec in pane_keys():  # per instance: the panes are the registry's of now
            self.bind(
                spec.key,
                spec.action,
                description=spec.footer,
                show=spec.show,
                key_display=spec.key_display,
            )
        self._dirty: set[str] = {pane for pane, _ in self._pane_specs}
        self._panes: dict[str, Pane] = {}
        """Panes created so far, by tab id (a DOM query walks every widget)."""
        self._mounting: dict[str, AwaitMount] = {}
        """Panes being mounted, by tab id."""
        self._signals: list[signal.Signals] = []
        self.composed = asyncio.Event()
        """Set once every pane is composed (:meth:`panes_composed`) and preload has run."""
        self.exit_line: str | None = None
        """The one line to print on stderr after the screen is given back, if any."""
        if runtime is not None:
            self._setup(runtime)

    def _handle_exception(self, error: Exception) -> None:
        """A module that vanished from disk (a reinstall under the console): one line, exit 3.

        Everything the console imports lazily is preloaded once it has started
        (:mod:`.preload`); this catches what that list would miss. Any other
        error gets Textual's own handling (a traceback: a bug).
        """
        if isinstance(error, ImportError):
            self.exit_line = (
                f"portal-tui: the console's own files changed on disk while it ran "
                f"({type(error).__name__}: {error}), probably a reinstall; start it again"
            )
            self.exit(return_code=ExitCode.UNKNOWN)
            # And stop now, as Textual does for any error: the loop that raised has ended.
            self.panic()  # with nothing to print: the line is printed by run_console
            return
        super()._handle_exception(error)

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, but on a real terminal one that survives the terminal going away."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver  # already loaded by super()

        if driver is LinuxDriver:
            from portal_tui.console.terminal import ConsoleDriver

            return ConsoleDriver
        return driver

    def _setup(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.monitor = runtime.monitor
        enabled = (
            runtime.config.auto_refresh if self._auto_override is None else self._auto_override
        )
        self.state = ConsoleState(
            runtime.monitor.view(cache=False), AutoRefreshPolicy(enabled=enabled)
        )
        if runtime.monitor.store is not None:
            self.state.stored_key = runtime.monitor.store.stored_key
        self.relay = MonitorRelay(runtime.monitor, self.post_message)

    async def on_load(self) -> None:
        """Open the runtime here when given an opener (before anything is composed)."""
        if self._runtime is None and self._opener is not None:
            self._runtime = await self._opener()
            self._setup(self._runtime)

    def compose(self) -> ComposeResult:
        """Header, the PAUSED banner, a tab per pane (only the first pane inside), the key bar.

        The other panes are composed the first time they are shown
        (:meth:`ensure_pane`): composing and styling all eight took half of
        the time to the first frame.
        """
        yield Header()
        yield Static(id="pause-banner", classes="hidden")
        with TabbedContent(id="panes", initial=f"tab-{FIRST_PANE}"):
            for number, (pane_id, label) in enumerate(self._pane_specs, start=1):
                with TabPane(f"{number} {label}", id=f"tab-{pane_id}"):
                    if pane_id == FIRST_PANE:
                        yield self._create_pane(f"tab-{pane_id}")
        yield KeyBar(id="key-bar")

    def _create_pane(self, tab_id: str) -> Pane:
        pane = make_pane(tab_id.removeprefix("tab-"), self.state)
        self._panes[tab_id] = pane
        self._dirty.add(str(pane.id))
        return pane

    async def ensure_pane(self, tab_id: str) -> None:
        """Compose and mount the pane of ``tab_id`` unless it is already (waits for the mount).

        Nothing is mounted once the console is exiting: its tab panes are
        being removed, and a key or the pre-mount timer may still arrive.
        """
        if tab_id not in self._panes:
            if not self.live():
                return
            pane = self._create_pane(tab_id)
            tabs = self._tabs or self.query_one("#panes", TabbedContent)
            self._mounting[tab_id] = tabs.get_pane(tab_id).mount(pane)
        waiting = self._mounting.get(tab_id)
        if waiting is not None:
            await waiting
            self._mounting.pop(tab_id, None)

    async def on_mount(self) -> None:
        """Paint what SQLite holds at once, then revalidate in the background."""
        self._tabs = self.query_one("#panes", TabbedContent)
        self.relay.start()
        await self.monitor.restore()
        self.monitor.alerts.start()  # background delivery passes: retries, reminders, trouble
        self.relay.flush()
        self.fresh_view()
        self._repaint_visible(force=True)
        store = self.monitor.store
        for notice in getattr(store, "notices", []) if store is not None else []:
            self.notify(notice, title="local records", severity="warning", timeout=15)
        self.set_interval(FLUSH_INTERVAL, self.relay.flush, name="coalesce monitor events")
        self.set_interval(TICK_INTERVAL, self.tick, name="ages and auto-refresh")
        self.set_interval(HEALTH_INTERVAL, self.reload_health, name="the records' verdict")
        if self._handle_signals:
            self._install_signal_handlers()
        self.load_acks()
        if self._startup_refresh:
            self.start_refresh(None, force=False, triggered_by="startup")
        self.current_pane().focus_table()
        self.set_timer(PREMOUNT_AFTER, self._premount_next, name="compose the hidden panes")

    def panes_composed(self) -> bool:
        """True once every pane is composed and mounted (about a second after start-up)."""
        return len(self._panes) == len(self._pane_specs) and not self._mounting

    async def _premount_next(self) -> None:
        """Compose one pane not yet shown, then let the loop breathe before the next."""
        if not self.live():
            return
        tabs = [f"tab-{pane_id}" for pane_id, _ in self._pane_specs]
        missing = [tab for tab in tabs if tab not in self._panes]
        if missing:
            await self.ensure_pane(missing[0])
        if self.panes_composed():
            preload()  # from now on nothing the console does reads its package from disk
            self.composed.set()
        else:
            self.call_after_refresh(self._premount_next)

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
        """SIGHUP (the SSH session dropped), SIGTERM, or a failed write: exit, 128 + signal.

        Also called by :class:`~portal_tui.console.terminal.ConsoleDriver`
        when writing to the terminal fails: the SIGHUP may come late, or
        never (a wrapper that is the session leader and does not pass it on).
        """
        self.exit(return_code=128 + int(sig))

    # -- events from the monitor (via the relay) ----------------------------------------

    def on_dashboards_updated(self, message: DashboardsUpdated) -> None:
        """New snapshots: mark the panes that show them dirty; repaint the visible one."""
        self.state.adopt(message.view)
        if not self.live():
            return
        for pane in self._panes.values():
            name = pane.dashboard_name
            if name is None or name in message.dashboards:
                self._dirty.add(str(pane.id))
        self._repaint_visible()

    def health_reloaded(self) -> None:
        """The records' verdict was read again: the header, Overview and Failures show it."""
        self.fresh_view()
        self._dirty.update({"overview", "failures"})
        self._repaint_visible()

    def on_refresh_state_changed(self, message: RefreshStateChanged) -> None:
        """A cycle started or ended: overlays and the header change."""
        self.state.adopt(message.view)
        if not self.live():
            return
        self._dirty.update({"overview", "failures", "consistency"})
        self._repaint_visible()
        self.update_header()
        if not message.running:
            self.load_acks()  # findings opened or resolved: their acknowledgements too
        if not message.running and self.current_pane().id == "history":
            self.load_history()

    def on_calls_changed(self, message: CallsChanged) -> None:
        """Retry statuses changed (coalesced): only live widgets redraw."""
        self.state.adopt(message.view)
        if not self.live():
            return
        pane = self.current_pane()
        if pane.is_mounted:
            pane.calls_changed()
        self.update_header()

    @on(TabbedContent.TabActivated)
    async def _pane_shown(self, event: TabbedContent.TabActivated) -> None:
        # Keys switch panes through show_pane (mounted first); a click on a tab lands here first.
        await self.ensure_pane(self._tabs.active if self._tabs else "")
        if not self.live():
            return
        self.fresh_view()
        self._repaint_visible()
        pane = self.current_pane()
        pane.focus_table()
        if pane.id == "history":
            self.load_history()

    # -- painting -----------------------------------------------------------------------

    def current_pane(self) -> Pane:
        """The pane on screen (it may still be composing: see :meth:`Pane.is_mounted`)."""
        tabs = self._tabs or self.query_one("#panes", TabbedContent)
        pane = self._panes.get(tabs.active)
        if pane is None:  # its tab was activated a moment ago; TabActivated will await it
            pane = self._create_pane(tabs.active)
            self._mounting[tabs.active] = tabs.get_pane(tabs.active).mount(pane)
        return pane

    def _repaint_visible(self, *, force: bool = False) -> None:
        pane = self.current_pane()
        if not pane.is_mounted:
            return  # still composing: it is dirty, and painted once shown
        if force or str(pane.id) in self._dirty:
            self._dirty.discard(str(pane.id))
            pane.repaint()
        self.update_header()

    def tick(self) -> None:
        """Once a second: redraw ages and countdowns; start auto-refreshes that are due."""
        if not self.live():
            return
        self.fresh_view()
        pane = self.current_pane()
        if pane.is_mounted:
            pane.tick()
        self.update_header()
        self.check_auto_refresh()
        self.sweep_between_cycles()

    def fresh_view(self) -> None:
        """Draw from the monitor: a new frozen view (cache counts only for the Overview)."""
        overview = self._tabs is not None and self._tabs.active == "tab-overview"
        self.state.adopt(self.monitor.view(cache=overview))

    def update_header(self) -> None:
        """The subtitle: DEMO, warnings, health, PAUSED, what is refreshing (80 columns)."""
        self.sub_title = header_subtitle(self.state)


def run_console(config_arg: str | None, demo: bool, db_arg: str | None) -> int:
    """Open the runtime, run the console until it quits, close everything; the exit code.

    Config and store errors propagate before the screen is taken, so the
    CLI prints them as one clear line.
    """
    from portal_tui.engine.runtime import open_runtime

    async def main() -> int:
        runtime = await open_runtime(config_arg=config_arg, demo=demo, db_arg=db_arg)
        try:
            app = PortalConsole(runtime)
            with contextlib.suppress(OSError):  # the terminal may be gone already
                await app.run_async()
            if app.exit_line:
                print(app.exit_line, file=sys.stderr)
            return app.return_code or 0
        finally:
            await runtime.aclose()

    return asyncio.run(main())
