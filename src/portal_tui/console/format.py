"""Small text formatters for table cells: numbers, money, times, sparklines.

Pure functions, so render code and tests share them. ``—`` stands for "no
value" everywhere, never a zero.
"""

from __future__ import annotations

from datetime import datetime

NONE = "—"


def fmt_int(value: float | None) -> str:
    """``12,345`` (rounded), or ``—``."""
    if value is None:
        return NONE
    return f"{round(value):,}"


def fmt_pct(value: float | None, digits: int = 0) -> str:
    """A percentage already in percent: ``84%`` / ``84.2%``."""
    if value is None:
        return NONE
    return f"{value:,.{digits}f}%"


def fmt_ratio(value: float | None, digits: int = 0) -> str:
    """A ratio (0.4) shown as a percentage (``40%``)."""
    return NONE if value is None else fmt_pct(value * 100, digits)


def fmt_money(value: float | None) -> str:
    """``$1,234`` for large amounts, ``$0.91`` for small ones."""
    if value is None:
        return NONE
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount >= 1000:
        return f"{sign}${amount:,.0f}"
    return f"{sign}${amount:,.2f}"


def fmt_compact(value: float | None) -> str:
    """``1.2M``, ``34k``, ``950`` for summary lines."""
    if value is None:
        return NONE
    amount = abs(value)
    sign = "-" if value < 0 else ""
    if amount >= 1_000_000:
        return f"{sign}{amount / 1_000_000:.1f}M"
    if amount >= 10_000:
        return f"{sign}{amount / 1000:.0f}k"
    return f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    """``83 ms`` or ``1.2 s``."""
    if value is None:
        return NONE
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms"


def fmt_clock(when: datetime | None, now: datetime | None = None) -> str:
    """``12:00:16Z`` (UTC); with the date when it is not ``now``'s day."""
    if when is None:
        return NONE
    if now is not None and when.date() != now.date():
        return f"{when:%m-%d %H:%M}Z"
    return f"{when:%H:%M:%S}Z"


def fmt_bool(value: bool | None, yes: str = "✔ yes", no: str = "✗ no") -> str:
    """A boolean as a word with a symbol."""
    if value is None:
        return NONE
    return yes if value else no


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def fmt_duration(seconds: float) -> str:
    """A configured duration: ``2m``, ``90s``, ``1m30s``, ``1h``."""
    whole = int(seconds)
    if whole % 3600 == 0 and whole >= 3600:
        return f"{whole // 3600}h"
    if whole % 60 == 0 and whole >= 60:
        return f"{whole // 60}m"
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}s"
