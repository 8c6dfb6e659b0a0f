"""Rules about which workspaces exist, which rows show them, and who owns a mailbox."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import ClassVar

from portal_tui.config import ClientEntry
from portal_tui.consistency.model import (
    CheckContext,
    Finding,
    RuleResult,
    capped,
    mailbox_value,
    subject_of,
)
from portal_tui.dashboards.base import WorkspaceRow
from portal_tui.dashboards.mailboxes import InfrastructureRow, listing
from portal_tui.dashboards.registry import title_of
from portal_tui.vocabulary.names import DashboardName, Severity


class WorkspaceSets:
    """The registry and the API's workspace list name the same workspaces.

    Source of truth: the API's workspace list (``GET /workspaces/v1.1`` with
    the master token) for which workspaces exist; the registry for which are
    clients. Reported per instance: registry entries the API does not list,
    workspaces listed without a registry entry, and two workspaces sharing a
    name (registry matching by name is then ambiguous). When the list could
    not be read this cycle, that is said once and nothing else is judged.
    """

    name: ClassVar[str] = "workspace-sets"
    severity: ClassVar[Severity] = Severity.WARNING
    source: ClassVar[str] = "the API's workspace list (master token) against the registry"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Compare each instance's discovery with its registry entries."""
        result = RuleResult()
        for instance, found in sorted(ctx.outcome.discoveries.items()):
            result.covered.add(instance)
            add = result.findings.append
            if not found.listed:
                add(
                    Finding(
                        self.name,
                        Severity.INFO,
                        instance,
                        "(workspace list)",
                        f"the workspace list of {instance} was not read this cycle; the registry "
                        "and the last snapshots stand in for it, so workspace sets are not judged",
                    )
                )
                continue
            fetched = {ws.name.casefold() for ws in found.workspaces}
            for entry in found.unmatched_registry:
                still = (
                    " (still fetched with its own id and token)"
                    if entry.casefold() in (fetched)
                    else " (not fetched)"
                )
                add(
                    Finding(
                        self.name,
                        self.severity,
                        instance,
                        subject_of(instance, entry),
                        f"registry entry {entry!r} is not in the API's workspace list: renamed, "
                        f"deleted, or invisible to the master token{still}",
                    )
                )
            for name in found.unregistered:
                add(
                    Finding(
                        self.name,
                        self.severity,
                        instance,
                        subject_of(instance, name),
                        f"the API lists {name!r} but it has no registry entry: no KPI, sending "
                        "target or billing, so its progress and revenue read as 0",
                    )
                )
            names: dict[str, list[int]] = defaultdict(list)
            for ws in found.workspaces:
                names[ws.name.casefold()].append(ws.id)
            for ws_name, ids in sorted(names.items()):
                if len(ids) > 1:
                    add(
                        Finding(
                            self.name,
                            self.severity,
                            instance,
                            subject_of(instance, ws_name),
                            f"{len(ids)} workspaces share the name {ws_name!r} (ids "
                            f"{', '.join(map(str, sorted(ids)))}): a registry entry matched by "
                            "name is ambiguous; give it an id",
                        )
                    )
        return result


class DashboardRows:
    """Each refreshed dashboard has exactly one row per workspace the cycle looked at.

    Source of truth: the cycle's workspace set (the API's list joined with the
    registry, or the registry and last snapshots when the list was
    unreadable). A workspace with no row and no reported failure is silently
    missing (the portal once showed 14 of 26 clients with no error); a row
    for a workspace outside the set is extra; two rows for one workspace are
    duplicates. A workspace that failed and has no earlier row is reported
    by its failure, not here.
    """

    name: ClassVar[str] = "dashboard-rows"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the cycle's workspace set (API list joined with the registry)"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Count rows per workspace on every dashboard this cycle computed."""
        result = RuleResult()
        expected = {
            ws.key: ws.name for found in ctx.outcome.discoveries.values() for ws in found.workspaces
        }
        for board in ctx.refreshed:
            snap = ctx.outcome.snapshots[board]
            result.covered.add(board.value)
            down = {f.instance for f in snap.failures if f.workspace_id is None}
            failed = {(f.instance, f.workspace_id) for f in snap.failures}
            counts = Counter(row.key for row in snap.rows)
            names = {row.key: row.workspace for row in snap.rows}
            found: list[Finding] = []
            for key, n in sorted(counts.items()):
                if n > 1:
                    found.append(self._finding(board, key, names[key], f"{n} rows", Severity.ERROR))
                if key not in expected:
                    found.append(
                        self._finding(
                            board,
                            key,
                            names[key],
                            "a row for a workspace this cycle did not look at (not listed by "
                            "the API and not in the registry)",
                            Severity.WARNING,
                        )
                    )
            missing = [
                key
                for key in expected
                if key not in counts and key not in failed and key[0] not in down
            ]
            for key in sorted(missing):
                found.append(
                    self._finding(
                        board,
                        key,
                        expected[key],
                        f"no row and no failure reported: silently missing ({len(counts)} of "
                        f"{len(expected)} workspaces shown)",
                        Severity.ERROR,
                    )
                )
            result.findings.extend(capped(found, rule=self.name, scope=board.value))
        return result

    def _finding(
        self,
        board: DashboardName,
        key: tuple[str, int],
        workspace: str,
        text: str,
        severity: Severity,
    ) -> Finding:
        return Finding(
            self.name,
            severity,
            board.value,
            subject_of(key[0], workspace),
            f"{title_of(board)}: {workspace} (id {key[1]}): {text}",
        )


class DisabledButShown:
    """No dashboard shows a workspace the registry has disabled.

    Source of truth: the registry's ``enabled = false``. Judged on every
    snapshot the monitor holds, refreshed this cycle or not (one restored
    from SQLite, or one not refreshed since the entry was disabled, still
    shows it).
    """

    name: ClassVar[str] = "disabled-but-shown"
    severity: ClassVar[Severity] = Severity.WARNING
    source: ClassVar[str] = "the registry's enabled flag"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Look for rows of disabled registry entries on every current snapshot."""
        result = RuleResult()
        disabled = [c for c in ctx.config.clients if not c.enabled]
        for board, snap in sorted(ctx.snapshots.items()):
            result.covered.add(board.value)
            if not disabled:
                continue
            for row in snap.rows:
                entry = _entry_for(disabled, row, ctx)
                if entry is None:
                    continue
                result.findings.append(
                    Finding(
                        self.name,
                        self.severity,
                        board.value,
                        subject_of(row.instance, row.workspace),
                        f"{title_of(board)} shows {row.workspace}, whose registry entry "
                        f"{entry.name!r} is disabled (enabled = false); refresh "
                        f"{title_of(board)} to drop it, or re-enable the entry",
                    )
                )
        return result


def _entry_for(
    entries: list[ClientEntry], row: WorkspaceRow, ctx: CheckContext
) -> ClientEntry | None:
    first = ctx.config.instances[0].name if ctx.config.instances else None
    for entry in entries:
        if (entry.instance or first) != row.instance:
            continue
        if entry.id == row.workspace_id or (
            entry.id is None and entry.name.casefold() == row.workspace.casefold()
        ):
            return entry
    return None


class SenderEmailOwnership:
    """A sender email address belongs to exactly one workspace, once.

    Source of truth: SPEC section 1 ("a sender email belongs to exactly one
    workspace"), checked over every mailbox of the Infrastructure snapshot
    (addresses compared case-insensitively). Duplicates are reported, never
    de-duplicated. When one of the holders' rows is stale the mailbox may
    just have moved, so the finding is a warning rather than an error.
    """

    name: ClassVar[str] = "sender-email-unique"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "SPEC: a sender email belongs to exactly one workspace"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Index every address of the refreshed Infrastructure snapshot by its holders."""
        result = RuleResult()
        snap = ctx.outcome.snapshots.get(DashboardName.INFRASTRUCTURE)
        if snap is None:
            return result
        scope = DashboardName.INFRASTRUCTURE.value
        result.covered.add(scope)
        first: dict[str, InfrastructureRow] = {}
        holders: dict[str, list[InfrastructureRow]] = {}  # only addresses seen twice or more
        for row in snap.rows:
            if not isinstance(row, InfrastructureRow):
                continue
            for mailbox in row.mailboxes:
                address = str(mailbox_value(mailbox, "address") or "").strip().casefold()
                if address in first:
                    holders.setdefault(address, [first[address]]).append(row)
                else:
                    first[address] = row
        found: list[Finding] = []
        for address, rows in holders.items():
            distinct = {r.key: r for r in rows}
            who = [subject_of(r.instance, r.workspace) for r in distinct.values()]
            stale = [
                r.workspace
                for r in distinct.values()
                if (meta := snap.row_meta.get(r.key)) is not None and meta.stale
            ]
            if len(distinct) == 1:
                text = f"listed {len(rows)} times in {who[0]}"
                severity = Severity.WARNING
            else:
                text = f"in {len(distinct)} workspaces: {listing(sorted(who))}"
                severity = Severity.WARNING if stale else self.severity
            if stale:
                text += f" ({listing(sorted(stale))} shown from stale data: it may have moved)"
            found.append(
                Finding(self.name, severity, scope, address, f"sender email {address} {text}")
            )
        result.findings.extend(capped(found, rule=self.name, scope=scope))
        return result
