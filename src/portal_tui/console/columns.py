"""How each kind of value a dashboard declares is drawn, in its table and its totals line.

Each dashboard module declares its columns and totals
(:mod:`portal_tui.dashboards.declaration`); this module only turns a kind
(``int``, ``money``, ``pct1``, ...) into text, so a new dashboard gets a
table and a totals line without console code. The first two columns of
every workspace table (row state and workspace name) are added by
:mod:`portal_tui.console.render`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from portal_tui.console.format import (
    NONE,
    fmt_bool,
    fmt_clock,
    fmt_int,
    fmt_money,
    fmt_pct,
    fmt_ratio,
)
from portal_tui.console.table_model import Column
from portal_tui.dashboards.declaration import TEXT_KINDS, ColumnSpec, Kind
from portal_tui.dashboards.registry import dashboard_for
from portal_tui.vocabulary.freshness import format_age


def _text(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


FORMATTERS: dict[Kind, Callable[[Any], str]] = {
    "int": fmt_int,
    "pct": fmt_pct,
    "pct1": lambda v: fmt_pct(v, 1),
    "ratio": fmt_ratio,
    "money": fmt_money,
    "text": _text,
    "bool": fmt_bool,
    "time": lambda v: fmt_clock(_when(v)),
}
"""Value -> text per kind (a total of kind ``time`` is drawn as its age instead)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One data column: its label, the row attribute it reads, its kind and width."""

    label: str
    attr: str
    kind: Kind = "int"
    width: int | None = None

    @classmethod
    def of(cls, spec: ColumnSpec) -> FieldSpec:
        """The console's column for a dashboard's declared one."""
        return cls(spec.header, spec.field, spec.kind, spec.width)

    def column(self) -> Column:
        """The table column for this field."""
        numeric = self.kind not in TEXT_KINDS
        align: Literal["left", "right"] = "right" if numeric else "left"
        return Column(self.attr, self.label, align=align, width=self.width, numeric=numeric)

    def cell(self, row: Any) -> tuple[str, Any]:
        """(display text, sort value) for ``row``."""
        value = getattr(row, self.attr, None)
        sort = value.value if isinstance(value, Enum) else value
        return FORMATTERS[self.kind](value), sort


def fields_for(name: str) -> tuple[FieldSpec, ...]:
    """The data columns of dashboard ``name``'s table, from its declared columns."""
    return tuple(FieldSpec.of(spec) for spec in dashboard_for(name).columns)


def age_since(value: Any, now: datetime) -> str:
    """How long ago ``value`` (a datetime or ISO text) was: ``12m``; ``—`` for none."""
    when = _when(value)
    return NONE if when is None else format_age((now - when).total_seconds())


def totals_line(name: str, totals: Mapping[str, Any], now: datetime) -> str:
    """Dashboard ``name``'s declared totals line, each total drawn as its kind says."""
    spec = dashboard_for(name).totals
    values = {
        key: age_since(totals.get(key), now)
        if spec.kinds[key] == "time"
        else FORMATTERS[spec.kinds[key]](totals.get(key))
        for key in spec.shown
    }
    return spec.line.format_map(values)


MAILBOX_COLUMNS = (
    Column("address", "Address", width=30, pinned=True),
    Column("workspace", "Workspace", width=20),
    Column("status", "Status", width=15),
    Column("limit", "Limit", align="right", width=6, numeric=True),
    Column("sent", "Sent", align="right", width=7, numeric=True),
    Column("replied", "Replied", align="right", width=8, numeric=True),
    Column("bounced", "Bounced", align="right", width=8, numeric=True),
    Column("reply", "Reply%", align="right", width=7, numeric=True),
    Column("provider", "Provider", width=12),
    Column("reseller", "Reseller", width=12),
    Column("price", "Price", align="right", width=9, numeric=True),
)
"""Fixed widths: a 50,000-row table is never measured."""
