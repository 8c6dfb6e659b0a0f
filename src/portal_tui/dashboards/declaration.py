"""What a dashboard declares about how it is shown: its columns and its totals line.

A dashboard module says *what* is shown (a column's header, the row field it
reads, what kind of value that is, a width; which totals it sums and the one
line that describes them); the console decides *how* each kind of value is
drawn. So a new dashboard gets a pane without a line of console code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal

Kind = Literal["int", "pct", "pct1", "ratio", "money", "text", "bool", "time"]
"""What a value is: a count, a percentage (``pct1``: one decimal), a ratio (0.4 = 40 %),
money, text, a yes/no, or a time (ISO text; shown as its age)."""

TEXT_KINDS: frozenset[Kind] = frozenset({"text", "bool", "time"})
"""Kinds that are not numbers (left-aligned, sorted A to Z first)."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a dashboard's table."""

    header: str
    field: str
    """The row attribute it reads."""
    kind: Kind = "int"
    width: int | None = None
    """Fixed width in cells; None fits the content."""

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (right-aligned, sorted largest first)."""
        return self.kind not in TEXT_KINDS


@dataclass(frozen=True, slots=True)
class TotalsSpec:
    """A dashboard's totals: each total's kind, and the one line that describes them.

    ``line`` names totals in braces (``"leads {leads_generated} of KPI
    {monthly_kpi}"``); each is drawn as its kind says. Every total
    :meth:`~portal_tui.dashboards.base.Dashboard.summarize` returns is
    declared in ``kinds`` (a test holds each dashboard to it).
    """

    kinds: Mapping[str, Kind]
    line: str
    shown: tuple[str, ...] = field(init=False)
    """Totals the line names, in order."""

    def __post_init__(self) -> None:
        shown = tuple(name for _, name, _, _ in Formatter().parse(self.line) if name is not None)
        undeclared = [name for name in shown if name not in self.kinds]
        if undeclared:
            raise ValueError(f"the totals line names undeclared totals: {', '.join(undeclared)}")
        object.__setattr__(self, "shown", shown)
