"""Names every layer speaks: the dashboards and the severities of what is found."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import ClassVar

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INTERNED: dict[str, DashboardName] = {}


class DashboardName(str):
    """A dashboard's name: ``kpi``, ``volume``, ... (a TOML key, a CLI choice, a pane id).

    Any name the dashboard registry lists is one: a fifth dashboard needs no
    member here. The four well-known names are class constants
    (:attr:`KPI`, ...) for the code that speaks of one of them by name (the
    consistency rules); what a dashboard is called on screen is its
    declaration's title (:mod:`portal_tui.dashboards.registry`).
    """

    __slots__ = ()

    KPI: ClassVar[DashboardName]
    VOLUME: ClassVar[DashboardName]
    REVENUE: ClassVar[DashboardName]
    INFRASTRUCTURE: ClassVar[DashboardName]

    def __new__(cls, name: str) -> DashboardName:
        """``name`` checked: lower-case letters, digits and ``_``, starting with a letter.

        One object per name (compare with ``==`` all the same: a plain ``str`` equals it).
        """
        known = _INTERNED.get(name)
        if known is not None:
            return known
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a dashboard name (lower-case letters, digits, _)")
        made = _INTERNED[str(name)] = super().__new__(cls, name)
        return made

    @property
    def value(self) -> str:
        """The name as plain text (as an enum member's ``value`` reads)."""
        return str.__str__(self)


DashboardName.KPI = DashboardName("kpi")
DashboardName.VOLUME = DashboardName("volume")
DashboardName.REVENUE = DashboardName("revenue")
DashboardName.INFRASTRUCTURE = DashboardName("infrastructure")


class Severity(StrEnum):
    """Severity of a validation issue or consistency finding."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"
