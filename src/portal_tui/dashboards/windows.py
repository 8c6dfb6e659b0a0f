"""Date windows in the reporting time zone (SPEC section 3)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class DateWindow:
    """An inclusive range of days, as the stats endpoint takes it."""

    start: date
    end: date

    def params(self) -> tuple[tuple[str, str], ...]:
        """``start_date`` / ``end_date`` query parameters."""
        return (("start_date", self.start.isoformat()), ("end_date", self.end.isoformat()))


@dataclass(frozen=True, slots=True)
class ReportWindows:
    """Every window the dashboards use, computed once per refresh cycle."""

    today: date
    mtd: DateWindow
    last_7_days: DateWindow
    last_30_days: DateWindow
    last_month: DateWindow

    @property
    def day(self) -> int:
        """Today's day of month."""
        return self.today.day

    @property
    def dim(self) -> int:
        """Days in the current month."""
        return calendar.monthrange(self.today.year, self.today.month)[1]


def report_windows(now: datetime, zone: ZoneInfo) -> ReportWindows:
    """The windows for ``now`` as seen in ``zone``."""
    today = now.astimezone(zone).date()
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return ReportWindows(
        today=today,
        mtd=DateWindow(first, today),
        last_7_days=DateWindow(today - timedelta(days=7), today),
        last_30_days=DateWindow(today - timedelta(days=30), today),
        last_month=DateWindow(last_month_end.replace(day=1), last_month_end),
    )
