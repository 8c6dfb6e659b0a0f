"""Names every layer speaks: the dashboards and the severities of what is found."""

from __future__ import annotations

from enum import StrEnum


class DashboardName(StrEnum):
    """The four dashboards, in the console's pane order."""

    KPI = "kpi"
    VOLUME = "volume"
    REVENUE = "revenue"
    INFRASTRUCTURE = "infrastructure"

    @property
    def display_name(self) -> str:
        """Name as shown on screen."""
        return "KPI" if self is DashboardName.KPI else self.value.capitalize()


class Severity(StrEnum):
    """Severity of a validation issue or consistency finding."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"
