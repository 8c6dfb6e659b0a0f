"""The mailbox table's rows, made on demand from the snapshot's own mailbox records.

At 50,000 mailboxes a row object holding its eleven display strings, its
sort values, its tones and its search text cost about 1 KB each: ~55 MB
per table, twice over while a new table was built beside the old one, and
~0.5 s of CPU on a thread that held the GIL against the keys at the end of
every refresh. The table draws only the lines on screen, so a
:class:`MailboxLine` keeps just a reference to the snapshot's
:class:`~portal_tui.dashboards.mailboxes.MailboxRow` (which the monitor holds
anyway) and its workspace, and makes the texts when they are asked for:
a drawn line, a sort (its values), a filter (its search text).
"""

from __future__ import annotations

from typing import Any

from portal_tui.console.format import NONE
from portal_tui.console.table_model import RowWorkspace, Tone
from portal_tui.dashboards.mailboxes import MailboxRow
from portal_tui.dashboards.snapshot import DashboardSnapshot

_TONES_STALE: tuple[Tone, Tone] = ("muted", "warn")


class _Workspace:
    """What every mailbox line of one workspace shares."""

    __slots__ = ("label", "prefix", "ref", "stale")

    def __init__(self, ref: RowWorkspace, stale: bool) -> None:
        self.ref = ref
        self.stale = stale
        self.label = f"◐ {ref.workspace}" if stale else ref.workspace
        self.prefix = f"{ref.instance}/{ref.workspace_id}/"


class MailboxLine:
    """One mailbox as a table row (the :class:`~portal_tui.console.table_model.Row` protocol),
    its texts computed when read."""

    __slots__ = ("_index", "_mb", "_ws")

    target: None = None

    def __init__(self, ws: _Workspace, mb: MailboxRow, index: int) -> None:
        self._ws = ws
        self._mb = mb
        self._index = index

    @property
    def key(self) -> str:
        """``instance/workspace id/mailbox id/position`` (positions tell duplicates apart)."""
        return f"{self._ws.prefix}{self._mb.id}/{self._index}"

    @property
    def workspace(self) -> RowWorkspace:
        """The mailbox's workspace, for the detail screen."""
        return self._ws.ref

    @property
    def cells(self) -> tuple[str, ...]:
        """Address, workspace, status, limit, sent, replied, bounced, reply %, provider,
        reseller, price."""
        mb = self._mb
        connected = mb.status == "Connected"
        return (
            mb.address,
            self._ws.label,
            f"✔ {mb.status}" if connected else f"✗ {mb.status}",
            str(mb.daily_limit),
            str(mb.sent),
            str(mb.replied),
            str(mb.bounced),
            f"{mb.reply_rate:.1f}%",
            mb.provider,
            mb.reseller or NONE,
            f"${mb.price:,.2f}" + (" ?" if mb.needs_review else ""),
        )

    @property
    def sort_values(self) -> tuple[Any, ...]:
        """The raw values, column by column."""
        mb = self._mb
        return (
            mb.address,
            self._ws.ref.workspace,
            mb.status,
            mb.daily_limit,
            mb.sent,
            mb.replied,
            mb.bounced,
            mb.reply_rate,
            mb.provider,
            mb.reseller or "",
            mb.price,
        )

    @property
    def search(self) -> str:
        """What the filter matches: address, workspace, status, provider, reseller."""
        mb = self._mb
        return (
            f"{mb.address} {self._ws.ref.workspace} {mb.status} {mb.provider} "
            f"{mb.reseller or ''}"
        ).casefold()

    def tone(self, index: int) -> Tone:
        """Stale workspaces dim the address and mark the workspace; the status says its
        state."""
        if index == 2:
            return "good" if self._mb.status == "Connected" else "bad"
        if index < 2 and self._ws.stale:
            return _TONES_STALE[index]
        return ""


def mailbox_lines(snap: DashboardSnapshot | None) -> list[MailboxLine]:
    """Every mailbox of every Infrastructure row (up to 50,000 and more), stale ones marked."""
    if snap is None:
        return []
    lines: list[MailboxLine] = []
    append = lines.append
    for ws in snap.rows:
        meta = snap.row_meta.get((ws.instance, ws.workspace_id))
        shared = _Workspace(
            RowWorkspace(ws.instance, ws.workspace, ws.workspace_id),
            meta is not None and meta.stale,
        )
        for index, mb in enumerate(getattr(ws, "mailboxes", ())):
            append(MailboxLine(shared, mb, index))
    return lines
