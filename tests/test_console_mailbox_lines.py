"""The mailbox table's rows are made on demand from the snapshot's mailboxes (issue 20)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from portal_tui.console.columns import MAILBOX_COLUMNS
from portal_tui.console.mailbox_lines import MailboxLine, mailbox_lines
from portal_tui.console.table_model import TableView
from portal_tui.dashboards.mailboxes import InfrastructureRow, MailboxRow
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta
from portal_tui.vocabulary.names import DashboardName

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _mailbox(mid: int, address: str, workspace: str, status: str = "Connected", **kw: object):
    values: dict[str, object] = dict(
        id=mid, address=address, workspace=workspace, status=status, daily_limit=40,
        sent=120, replied=7, unique_replied=6, bounced=2, reply_rate=5.0, provider="Google",
        reseller="Acme Mail", price=3.5, needs_review=False,
    )  # fmt: skip
    values.update(kw)
    return MailboxRow(**values)  # type: ignore[arg-type]


def _snapshot() -> DashboardSnapshot:
    rows = [
        InfrastructureRow.model_construct(
            instance="demo",
            workspace_id=1,
            workspace="Acme",
            mailboxes=(
                _mailbox(11, "b@acme.io", "Acme"),
                _mailbox(12, "a@acme.io", "Acme", status="Disconnected", sent=900),
            ),
        ),
        InfrastructureRow.model_construct(
            instance="demo",
            workspace_id=2,
            workspace="Bolt",
            mailboxes=(
                _mailbox(21, "c@bolt.io", "Bolt", reseller=None, needs_review=True, price=0.0),
            ),
        ),
    ]
    return DashboardSnapshot(
        name=DashboardName.INFRASTRUCTURE,
        rows=list(rows),
        row_meta={("demo", 2): RowMeta(NOW, stale=True, error="5xx 503")},
    )


def test_lines_show_what_the_old_rows_showed() -> None:
    lines = mailbox_lines(_snapshot())
    assert [line.key for line in lines] == ["demo/1/11/0", "demo/1/12/1", "demo/2/21/0"]
    assert lines[0].cells == (
        "b@acme.io", "Acme", "✔ Connected", "40", "120", "7", "2", "5.0%", "Google",
        "Acme Mail", "$3.50",
    )  # fmt: skip
    assert lines[1].cells[2] == "✗ Disconnected" and lines[1].tone(2) == "bad"
    stale = lines[2]
    assert stale.cells[1] == "◐ Bolt" and stale.cells[9] == "—" and stale.cells[10] == "$0.00 ?"
    assert [stale.tone(i) for i in range(4)] == ["muted", "warn", "good", ""]
    assert lines[0].tone(0) == "" and lines[0].target is None
    assert stale.workspace.workspace == "Bolt" and stale.workspace.workspace_id == 2
    assert stale.search == "c@bolt.io bolt connected google "
    assert len(lines[0].cells) == len(MAILBOX_COLUMNS)
    assert mailbox_lines(None) == []


def test_lines_sort_and_filter_in_the_table_view() -> None:
    view = TableView(MAILBOX_COLUMNS)
    view.set_rows(mailbox_lines(_snapshot()))
    view.set_filter("acme")
    assert [r.cells[0] for r in view.rows] == ["b@acme.io", "a@acme.io"]
    view.set_filter("")
    view.cycle_sort()  # address, ascending
    assert [r.cells[0] for r in view.rows] == ["a@acme.io", "b@acme.io", "c@bolt.io"]
    for _ in range(4):
        view.cycle_sort()  # ... sent, largest first
    assert view.sort_description.startswith("Sent")
    assert [r.cells[4] for r in view.rows] == ["900", "120", "120"]


def test_a_line_keeps_references_not_texts() -> None:
    """A line is a few references: the snapshot's mailbox and what its workspace shares."""
    lines = mailbox_lines(_snapshot())
    assert not hasattr(lines[0], "__dict__")
    assert sys.getsizeof(lines[0]) <= 72
    assert isinstance(lines[0], MailboxLine)
    assert lines[0].workspace is lines[1].workspace  # one per workspace, shared
