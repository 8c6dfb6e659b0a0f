"""What a table shows, independent of drawing: columns, rows, filter and sort.

:class:`TableView` is pure (no Textual), so filtering and sorting are
unit-tested directly, and the one table widget
(:class:`~portal_tui.console.widgets.row_table.RowTable`) only draws the
rows it is handed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rich.cells import cell_len

Tone = Literal["", "good", "warn", "bad", "muted", "accent"]
"""A cell's emphasis; colour is a third cue only, the text always says it."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its label, alignment, width policy and sort direction."""

    key: str
    label: str
    align: Literal["left", "right"] = "left"
    width: int | None = None
    """Fixed width; None fits the content (sampled), up to ``max_width``."""
    max_width: int = 40
    numeric: bool = False
    """Numeric columns sort largest first on the first press."""
    pinned: bool = False
    """Stays in place when the table scrolls right (the leading run of pinned columns:
    a row's name, and its state)."""


@dataclass(frozen=True, slots=True)
class RowWorkspace:
    """Which workspace a row is about, for the detail screen."""

    instance: str
    workspace: str
    workspace_id: int | None = None


@dataclass(slots=True)
class TableRow:
    """One row: display texts, raw values to sort by, tones, and what it refers to."""

    key: str
    cells: tuple[str, ...]
    sort_values: tuple[Any, ...] = ()
    tones: tuple[Tone, ...] = ()
    workspace: RowWorkspace | None = None
    target: str | None = None
    """A pane id this row leads to on ``enter`` (Overview's dashboard rows)."""
    search: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.search:
            self.search = " ".join(self.cells).casefold()
        if not self.sort_values:
            self.sort_values = self.cells

    def tone(self, index: int) -> Tone:
        """The tone of cell ``index`` (plain when unset)."""
        return self.tones[index] if index < len(self.tones) else ""


class Row(Protocol):
    """What a table reads of a row: :class:`TableRow`, or a row that makes its texts on
    demand (:class:`~portal_tui.console.mailbox_lines.MailboxLine`)."""

    @property
    def key(self) -> str:
        """Identity across repaints (the cursor stays on it)."""

    @property
    def cells(self) -> tuple[str, ...]:
        """Display texts, column by column."""

    @property
    def sort_values(self) -> tuple[Any, ...]:
        """Raw values to sort by, column by column."""

    @property
    def workspace(self) -> RowWorkspace | None:
        """The workspace the row is about."""

    @property
    def target(self) -> str | None:
        """A pane id ``enter`` leads to."""

    @property
    def search(self) -> str:
        """Casefolded text the filter matches."""

    def tone(self, index: int) -> Tone:
        """The tone of cell ``index``."""


SAMPLE_ROWS = 2000
"""Rows measured to size a fitted column; a 50,000-row table is not measured whole."""


class TableView:
    """All rows of a table, and the filtered, sorted subset to show."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns: tuple[Column, ...] = tuple(columns)
        self._rows: list[Row] = []
        self._visible: list[Row] = []
        self.filter_text = ""
        self.sort_index: int | None = None
        """Column sorted by; None keeps the order the rows came in (the dashboard's rank)."""
        self.sort_descending = False
        self.widths: tuple[int, ...] = tuple(self._fit(i, []) for i in range(len(self.columns)))

    # -- content ------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Rows before filtering."""
        return len(self._rows)

    @property
    def rows(self) -> list[Row]:
        """The rows to show, filtered and sorted."""
        return self._visible

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; filter and sort are kept."""
        self._rows = list(rows)
        self.widths = tuple(self._fit(i, self._rows) for i in range(len(self.columns)))
        self._apply()

    def index_of(self, key: str) -> int | None:
        """Position of the row ``key`` among the visible rows."""
        for index, row in enumerate(self._visible):
            if row.key == key:
                return index
        return None

    # -- filter and sort ----------------------------------------------------------------

    def set_filter(self, text: str) -> None:
        """Keep rows containing every word of ``text`` (case-insensitive)."""
        self.filter_text = text.strip()
        self._apply()

    @property
    def pinned_count(self) -> int:
        """How many leading columns stay put when the table scrolls right."""
        count = 0
        for column in self.columns:
            if not column.pinned:
                break
            count += 1
        return count

    def reverse_sort(self) -> str:
        """The same sort the other way round (the given order reversed when unsorted)."""
        self.sort_descending = not self.sort_descending
        self._apply()
        return self.sort_description

    def cycle_sort(self) -> str:
        """Next sort: the given order, then each column in turn; returns its description."""
        if self.sort_index is None:
            self.sort_index = 0
        elif self.sort_index + 1 < len(self.columns):
            self.sort_index += 1
        else:
            self.sort_index = None
        self.sort_descending = (
            self.columns[self.sort_index].numeric if self.sort_index is not None else False
        )
        self.widths = tuple(self._fit(i, self._rows) for i in range(len(self.columns)))
        self._apply()
        return self.sort_description

    @property
    def sort_description(self) -> str:
        """``Leads ↓`` or ``default order``."""
        if self.sort_index is None:
            return "default order, reversed" if self.sort_descending else "default order"
        arrow = "↓" if self.sort_descending else "↑"
        return f"{self.columns[self.sort_index].label} {arrow}"

    @property
    def filter_description(self) -> str:
        """``'acme' 3/26`` or empty when no filter is set."""
        if not self.filter_text:
            return ""
        return f"'{self.filter_text}' {len(self._visible)}/{len(self._rows)}"

    def _apply(self) -> None:
        rows = self._rows
        if self.filter_text:
            words = self.filter_text.casefold().split()
            rows = [r for r in rows if all(w in r.search for w in words)]
        else:
            rows = list(rows)
        if self.sort_index is not None:
            rows = _sorted(rows, self.sort_index, self.sort_descending)
        elif self.sort_descending:
            rows.reverse()
        self._visible = rows

    def _fit(self, index: int, rows: Sequence[Row]) -> int:
        column = self.columns[index]
        if column.width is not None:
            return column.width
        # The sorted column's label carries an arrow (" ↓"): make room for it.
        widest = cell_len(column.label) + (2 if index == self.sort_index else 0)
        for row in rows[:SAMPLE_ROWS]:
            cells = row.cells
            if index < len(cells):
                widest = max(widest, cell_len(cells[index]))
        return min(widest, column.max_width)


def _sorted(rows: list[Row], index: int, descending: bool) -> list[Row]:
    """Sort by column ``index``; missing values always last, ties keep their order."""

    def value(row: Row) -> Any:
        values = row.sort_values
        return values[index] if index < len(values) else None

    # Each row's value once (a row may compute its values when asked).
    keyed = [(value(r), r) for r in rows]
    present = [(v, r) for v, r in keyed if v is not None]
    missing = [r for v, r in keyed if v is None]
    try:
        present.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:  # mixed types in one column: compare as text
        present.sort(key=lambda pair: str(pair[0]), reverse=descending)
    return [r for _, r in present] + missing
