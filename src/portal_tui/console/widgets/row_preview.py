"""The selected row's long texts, whole, under its table.

At 80 columns a table cuts its long cells (``HTTP 401 U…``); scrolling
right shows at most a column's width. A :class:`RowPreview` under the table
repeats the cells that carry the story (Failures' last error and request,
History's errors) for the row under the cursor, wrapped, so the text can
always be read whole without leaving the pane.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from portal_tui.console.format import NONE
from portal_tui.console.table_model import Row, TableView


def preview_text(view: TableView, row: Row | None, keys: Sequence[str]) -> Text:
    """``Last error: HTTP 401 Unauthorized … · Request: GET /api/…`` for ``row``'s ``keys``
    columns (the full cell texts, blank ones left out); empty without a row."""
    text = Text()
    if row is None:
        return text
    for index, column in enumerate(view.columns):
        if column.key not in keys or index >= len(row.cells) or row.cells[index] in ("", NONE):
            continue
        if text:
            text.append(" · ")
        text.append(f"{column.label}: ", "bold")
        text.append(row.cells[index])
    return text


class RowPreview(Static):
    """Wrapped full texts of the selected row (``keys``: the columns to repeat)."""

    DEFAULT_CSS = """
    RowPreview {
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, keys: Sequence[str], *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.keys = tuple(keys)
        self._shown: Text | None = None

    def show_row(self, view: TableView, row: Row | None) -> None:
        """Show ``row``'s texts (hidden when there is no row); no redraw when unchanged."""
        text = preview_text(view, row, self.keys)
        if text == self._shown:
            return
        self._shown = text
        self.display = bool(text)
        self.update(text)
