"""Targeted actions and what engineers did: refresh one workspace, retry only what failed,
verify one workspace, acknowledge a finding, and the record of every operator action.

A base class of :class:`~portal_tui.console.actions.ConsoleActions` (so every
action is typed against the app). Each action runs in a worker: keys keep
working while it fetches. Every operator action is written to the records
(``operator_actions``: who is the OS user name) and shows in the History
pane's timeline and in ``export``.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from portal_tui.consistency import OpenFinding
from portal_tui.console.panes.base import Pane
from portal_tui.console.state import ConsoleState
from portal_tui.console.table_model import RowWorkspace
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.targeted import Scope, failed_dashboards, failed_scope, workspace_scope
from portal_tui.store.operator_records import FindingKey
from portal_tui.vocabulary.errors import PortalError
from portal_tui.vocabulary.names import DashboardName


def resolve_workspace(monitor: PortalMonitor, ref: RowWorkspace) -> tuple[str, int] | None:
    """``(instance, workspace id)`` of a row's workspace (looked up by name without an id)."""
    if ref.workspace_id is not None:
        return (ref.instance, ref.workspace_id)
    wanted = ref.workspace.casefold()
    for snap in monitor.snapshots.values():
        for row in snap.rows:
            if row.instance == ref.instance and row.workspace.casefold() == wanted:
                return row.key
        for failure in snap.failures:
            name = (failure.workspace or "").casefold()
            if failure.instance == ref.instance and name == wanted and failure.workspace_id:
                return (failure.instance, failure.workspace_id)
    return None


class OperatorActions(App[int]):
    """Targeted refreshes, verify, acknowledgements, and the operator-action record."""

    monitor: PortalMonitor
    state: ConsoleState

    def live(self) -> bool:
        """False once exiting (provided by :class:`ConsoleActions`)."""
        raise NotImplementedError

    def current_pane(self) -> Pane:
        """The pane on screen (provided by the app)."""
        raise NotImplementedError

    def update_header(self) -> None:
        """Redraw the header's subtitle (provided by the app)."""
        raise NotImplementedError

    # -- the record ---------------------------------------------------------------------

    def record_action(self, action: str, detail: str = "") -> None:
        """Write an operator action to the records in a worker (never blocks a key)."""
        self.run_worker(
            self._record_action(action, detail),
            group="operator",
            description=f"record operator action {action}",
            exit_on_error=False,
        )

    async def _record_action(self, action: str, detail: str) -> None:
        store = self.monitor.store
        if store is None:
            return
        try:
            await store.record_operator_action(action, detail)
        except PortalError as exc:
            self.notify(f"could not record {action}: {exc}", severity="warning", timeout=6)

    def load_acks(self) -> None:
        """Read the acknowledgements of the open findings (after each cycle, after an ack)."""
        self.run_worker(
            self._load_acks(),
            group="acks",
            description="read acknowledgements",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load_acks(self) -> None:
        store = self.monitor.store
        if store is None:
            return
        try:
            self.state.acks = await store.acknowledgements()
        except PortalError:
            return  # the records are busy: the next cycle reads them again
        if self.live():
            for pane in self.query("#consistency"):
                if isinstance(pane, Pane) and pane.is_mounted:
                    pane.repaint()

    def selected_finding(self, pane: Pane) -> OpenFinding | None:
        """The finding of the selected row of the Consistency pane's findings table."""
        if pane.id != "consistency":
            return None
        table = pane.active_table()
        row = table.selected if table is not None and table.id == "findings-table" else None
        if row is None:
            return None
        return next((f for f in self.state.view.findings if "/".join(f.key) == row.key), None)

    # -- targeted refreshes -------------------------------------------------------------

    def action_refresh_workspace(self) -> None:
        """``w``: refresh the selected workspace only, past the cache."""
        pane = self.current_pane()
        ref = pane.selected_workspace()
        if ref is None:
            self.notify("Select a workspace row first (w refreshes one workspace).", timeout=3)
            return
        self.refresh_workspace(ref)

    def refresh_workspace(self, ref: RowWorkspace) -> None:
        """Refresh one workspace on every dashboard, past the cache for it only."""
        key = resolve_workspace(self.monitor, ref)
        if key is None:
            self.notify(f"{ref.workspace}: no workspace id known yet to refresh.", timeout=4)
            return
        scope = workspace_scope(*key)
        what = f"{ref.workspace} ({ref.instance})"
        self.notify(f"Refreshing {what} past the cache; the rest stays as it is…", timeout=3)
        self.record_action("refresh-workspace", what)
        self._start_targeted(scope, None, force=True, what=what)

    def action_retry_failed(self) -> None:
        """``f``: re-fetch only what failed in the last cycle."""
        snapshots = list(self.state.view.snapshots.values())
        scope = failed_scope(snapshots)
        if scope.empty:
            self.notify("Nothing failed in the last cycle: nothing to retry.", timeout=3)
            return
        boards = failed_dashboards(snapshots)
        names = {
            (f.instance, f.workspace_id): f.workspace or ""
            for s in snapshots
            for f in s.failures
            if f.workspace_id is not None
        }
        what = scope.describe(names)
        self.notify(f"Retrying what failed: {what}…", timeout=3)
        self.record_action("retry-failed", f"{what} on {', '.join(b.value for b in boards)}")
        self._start_targeted(scope, boards, force=False, what=what)

    def _start_targeted(
        self, scope: Scope, boards: list[DashboardName] | None, *, force: bool, what: str
    ) -> None:
        self.run_worker(
            self._targeted(scope, boards, force, what),
            group="refresh",
            description=f"targeted refresh of {what}",
            exit_on_error=False,
        )

    async def _targeted(
        self, scope: Scope, boards: list[DashboardName] | None, force: bool, what: str
    ) -> None:
        self.update_header()
        try:
            outcome = await self.monitor.refresh(
                boards, force=force, triggered_by="manual", scope=scope
            )
        except PortalError as exc:
            self.notify(f"refresh of {what} failed: {exc}", severity="error", timeout=10)
            return
        if outcome is None or not self.live():
            return
        if outcome.scope != scope:
            self.notify(f"{what}: joined the refresh already running.", timeout=4)
            return
        failed = sum(
            1 for s in outcome.snapshots.values() for f in s.failures if scope.covers(
                f.instance, f.workspace_id
            )
        )
        self.notify(
            f"Refreshed {what}: {outcome.requests_made} request(s), {failed} failure(s), "
            f"{outcome.duration_ms / 1000:.1f} s",
            severity="warning" if failed else "information",
            timeout=5,
        )

    # -- verify and acknowledge ---------------------------------------------------------

    def verify_workspace(self, ref: RowWorkspace, shown: Callable[[str], None]) -> None:
        """Re-fetch one workspace past the cache and diff it; ``shown`` gets the result text."""
        key = resolve_workspace(self.monitor, ref)
        if key is None:
            self.notify(f"{ref.workspace}: no workspace id known yet to verify.", timeout=4)
            return
        self.record_action("verify", f"{ref.workspace} ({ref.instance})")
        self.run_worker(
            self._verify(key, shown),
            group="verify",
            description=f"verify {ref.workspace}",
            exit_on_error=False,
        )

    async def _verify(self, key: tuple[str, int], shown: Callable[[str], None]) -> None:
        from portal_tui.console.render_operator import verify_lines
        from portal_tui.engine.verification import verify_workspaces

        try:
            run = await verify_workspaces(self.monitor, keys=[key])
        except PortalError as exc:
            shown(f"verify: {exc}")
            return
        if self.live():
            shown("\n".join(verify_lines(run)))
            self.notify(f"verify: {run.status}", timeout=4)

    def acknowledge(self, key: FindingKey, note: str, done: Callable[[bool], None]) -> None:
        """Acknowledge an open finding with ``note`` (recorded as an operator action too)."""
        self.run_worker(
            self._acknowledge(key, note, done),
            group="acks",
            description="acknowledge a finding",
            exit_on_error=False,
        )

    async def _acknowledge(self, key: FindingKey, note: str, done: Callable[[bool], None]) -> None:
        store = self.monitor.store
        ok = False
        if store is not None:
            try:
                ok = await store.acknowledge_finding(key, note)
            except PortalError as exc:
                self.notify(f"could not acknowledge: {exc}", severity="error", timeout=8)
        if ok:
            self.notify(f"Acknowledged {key[0]} {key[2]}.", timeout=3)
            await self._load_acks()
        elif store is not None:
            self.notify("That finding is no longer open: nothing acknowledged.", timeout=5)
        done(ok)
