"""The one table widget: a virtual, keyboard-driven table that draws only what is visible.

Textual's DataTable measures every cell of every row it is given: 50,000
mailboxes took over 20 seconds to add. This table renders with the Line
API, one visible line at a time, over rows prepared by a
:class:`~portal_tui.console.table_model.TableView`, so 50,000 rows cost the
same to scroll as 50. Filter and sort happen in the view; the widget keeps
the cursor on the same row (by key) across repaints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from portal_tui.console.table_model import Column, Row, TableView

_TONE_CLASSES = {
    "good": "row-table--good",
    "warn": "row-table--warn",
    "bad": "row-table--bad",
    "muted": "row-table--muted",
    "accent": "row-table--accent",
}


def fit(text: str, width: int, align: str) -> str:
    """``text`` padded or cut (with ``…``) to exactly ``width`` cells."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


class RowTable(ScrollView, can_focus=True):
    """A header line and rows; ``up``/``down``/``pageup``/``pagedown``/``home``/``end`` move."""

    class Moved(Message):
        """The row under the cursor changed (another row, or the same key redrawn)."""

        def __init__(self, table: RowTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RowTable:
            """The table (``@on(RowTable.Moved, "#id")`` selects by it)."""
            return self.table

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header",
        "row-table--cursor",
        "row-table--cursor-blur",
        "row-table--empty",
        *_TONE_CLASSES.values(),
    }

    DEFAULT_CSS = """
    RowTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    RowTable > .row-table--header { text-style: bold underline; }
    RowTable > .row-table--cursor { text-style: reverse bold; }
    /* Opaque: a component style drops alpha, and $boost (4% white) drew as pure white. */
    RowTable > .row-table--cursor-blur { text-style: bold; background: $panel; }
    RowTable > .row-table--empty { text-style: italic; color: $text-muted; }
    RowTable > .row-table--good { color: $success; }
    RowTable > .row-table--warn { color: $warning; }
    RowTable > .row-table--bad { color: $error; text-style: bold; }
    RowTable > .row-table--muted { color: $text-muted; }
    RowTable > .row-table--accent { color: $accent; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First row", show=False),
        Binding("end", "edge(1)", "Last row", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "no rows",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.view = TableView(columns)
        self.empty_text = empty_text
        self.cursor = 0
        self.paints = 0
        """How many times rows were replaced (tests use it to prove coalescing)."""

    # -- content ------------------------------------------------------------------------

    @property
    def selected(self) -> Row | None:
        """The row under the cursor, if any."""
        rows = self.view.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row, keeping the cursor on the same row when it is still there."""
        current = self.selected
        self.view.set_rows(rows)
        self.paints += 1
        self._reflow(current.key if current else None)

    def set_filter(self, text: str) -> None:
        """Show only rows containing every word of ``text``."""
        current = self.selected
        self.view.set_filter(text)
        self._reflow(current.key if current else None)

    def cycle_sort(self) -> str:
        """Sort by the next column (see :meth:`TableView.cycle_sort`); returns its description."""
        current = self.selected
        description = self.view.cycle_sort()
        self._reflow(current.key if current else None)
        return description

    def reverse_sort(self) -> str:
        """The same sort, the other way round; returns its description."""
        current = self.selected
        description = self.view.reverse_sort()
        self._reflow(current.key if current else None)
        return description

    def _reflow(self, keep: str | None) -> None:
        index = self.view.index_of(keep) if keep is not None else None
        count = len(self.view.rows)
        self.cursor = index if index is not None else min(self.cursor, max(0, count - 1))
        width = 1 + sum(w + 1 for w in self.view.widths)
        self.virtual_size = Size(width, count + 1)
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Moved(self))

    # -- movement -----------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        """Put the cursor on visible row ``index`` (clamped) and scroll it into view."""
        count = len(self.view.rows)
        before = self.cursor
        self.cursor = max(0, min(index, count - 1)) if count else 0
        self._scroll_to_cursor()
        self.refresh()
        if self.cursor != before:
            self.post_message(self.Moved(self))

    def _page_size(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        page = self._page_size()
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + page:
            self.scroll_to(y=self.cursor - page + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor up or down."""
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        """Move the cursor a page."""
        self.move_cursor(self.cursor + direction * self._page_size())

    def action_edge(self, end: int) -> None:
        """Go to the first (0) or last (1) row."""
        self.move_cursor(len(self.view.rows) - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        """Select the clicked row."""
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(round(self.scroll_y) + offset.y - 1)

    def on_focus(self) -> None:
        """Redraw the cursor in its focused style."""
        self.refresh()

    def on_blur(self) -> None:
        """Redraw the cursor in its unfocused style."""
        self.refresh()

    # -- drawing ------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        # Textual caches component styles and clears the cache on theme changes.
        return self.get_component_rich_style(name, partial=True)

    def pinned_width(self) -> int:
        """Cells of the leading pinned columns (the row's name), drawn whatever the scroll;
        0 when nothing is pinned or the pinned columns would leave no room for the rest."""
        view = self.view
        pinned = view.pinned_count
        if not pinned:
            return 0
        width = 1 + sum(w + 1 for w in view.widths[:pinned])
        return width if width * 2 <= self.scrollable_content_region.width else 0

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the viewport: the header, a row, or blank."""
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        width = self.scrollable_content_region.width
        if y == 0:
            strip = self._header()
        else:
            index = scroll_y + y - 1
            rows = self.view.rows
            if index < len(rows):
                strip = self._row(rows[index], index == self.cursor)
            elif index == 0:
                text = self.empty_text
                if self.view.filter_text:
                    text = f"no rows match '{self.view.filter_text}' ({self.view.total} hidden)"
                strip = Strip([Segment(" " + text, base + self._style("row-table--empty"))])
                return strip.crop_extend(scroll_x, scroll_x + width, base)
            else:
                return Strip([]).crop_extend(0, width, base)
        pinned = self.pinned_width() if scroll_x else 0
        if not pinned:
            return strip.crop_extend(scroll_x, scroll_x + width, base)
        # The name stays at the left, a rule after it; the rest scrolls to its right.
        return Strip.join(
            [
                strip.crop_extend(0, pinned - 1, base),
                Strip([Segment("│", base + self._style("row-table--muted"))]),
                strip.crop_extend(pinned + scroll_x, scroll_x + width, base),
            ]
        )

    def _header(self) -> Strip:
        base = self.rich_style + self._style("row-table--header")
        view = self.view
        segments = [Segment(" ", base)]
        for index, (column, width) in enumerate(zip(view.columns, view.widths, strict=True)):
            label = column.label
            if view.sort_index == index:
                label += " ↓" if view.sort_descending else " ↑"
            segments.append(Segment(fit(label, width, column.align) + " ", base))
        return Strip(segments)

    def _row(self, row: Row, is_cursor: bool) -> Strip:
        base = self.rich_style
        if is_cursor:
            base = base + self._style(
                "row-table--cursor" if self.has_focus else "row-table--cursor-blur"
            )
        segments = [Segment(" ", base)]
        view = self.view
        cells = row.cells  # once: a row may make its texts when asked
        for index, (column, width) in enumerate(zip(view.columns, view.widths, strict=True)):
            text = cells[index] if index < len(cells) else ""
            tone = row.tone(index)
            style = base + self._style(_TONE_CLASSES[tone]) if tone else base
            if is_cursor and tone:
                style = style + self._style(
                    "row-table--cursor" if self.has_focus else "row-table--cursor-blur"
                )
            segments.append(Segment(fit(text, width, column.align), style))
            segments.append(Segment(" ", base))
        return Strip(segments)
