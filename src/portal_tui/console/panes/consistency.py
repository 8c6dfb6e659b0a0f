"""Consistency: the open findings of the core's consistency rules, and the rules themselves.

The rules run after every refresh cycle (in the core); this pane only shows
what they found. No finding means the rules found nothing *in the dashboards
refreshed so far* — the bar says when the last check ran.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from portal_tui.console.format import fmt_clock
from portal_tui.console.panes.base import Bar, Pane, toned
from portal_tui.console.render_checks import (
    FINDING_COLUMNS,
    RULE_COLUMNS,
    finding_rows,
    findings_summary,
    rule_rows,
)
from portal_tui.console.render_operator import ACK_COLUMN, with_acks
from portal_tui.console.state import ConsoleState
from portal_tui.console.widgets.row_table import RowTable


class ConsistencyPane(Pane):
    """Pane 7: findings on top (most severe first), the rules below."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, id="consistency")

    def compose(self) -> ComposeResult:
        """Bar, findings, rules, filter box."""
        yield Bar(id="consistency-bar", classes="bar")
        yield RowTable(
            (*FINDING_COLUMNS, ACK_COLUMN),
            empty_text="✔ no open findings",
            id="findings-table",
            classes="upper",
        )
        yield Static("Rules (run after every refresh cycle)", classes="caption")
        yield RowTable(RULE_COLUMNS, empty_text="no rules", id="rules-table")
        yield from self.compose_filter()

    def repaint(self) -> None:
        """Findings and rules as of the view."""
        super().repaint()
        view = self.state.view
        findings = view.findings
        instances = list(view.instances)
        rows = finding_rows(findings, self.state.now, instances)
        self.query_one("#findings-table", RowTable).set_rows(
            with_acks(rows, findings, self.state.ack_of)
        )
        self.query_one("#rules-table", RowTable).set_rows(
            rule_rows(view.rules, findings)
        )
        checked = (
            f"last checked {fmt_clock(view.last_checked, self.state.now)}"
            if view.last_checked is not None
            else "not checked yet in this session (findings restored from SQLite)"
        )
        tone = (
            "bad"
            if any(f.severity.value in ("critical", "error") for f in findings)
            else ("warn" if findings else "good")
        )
        self.query_one("#consistency-bar", Bar).update(
            toned(
                ("Consistency", "bold"),
                "  ",
                (findings_summary(findings), tone),
                f" · {acked} acknowledged" if (acked := len(self.state.acks)) else "",
                f" · {checked}",
            )
        )

    def tick(self) -> None:
        """Ages in "first/last seen" move."""
        self.repaint()
