"""Spans of time on the command line: ``--since 30m``, ``1h``, ``24h``, ``7d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
MAX_SPAN = timedelta(days=3660)


def parse_span(text: str) -> timedelta:
    """``"90m"`` → 90 minutes; raises ValueError with a message fit for the user."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"invalid time span {text!r}: give a number and a unit (s, m, h, d or w), "
            "e.g. 30m, 1h, 24h or 7d"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid time span {text!r}: it must be longer than zero")
    if seconds > MAX_SPAN.total_seconds():
        raise ValueError(f"invalid time span {text!r}: at most {MAX_SPAN.days} days")
    return timedelta(seconds=seconds)


def describe_span(span: timedelta) -> str:
    """``1h``, ``24h``, ``7d``, ``90m``: the largest unit (up to days) dividing it evenly."""
    seconds = span.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            if unit == "d" and seconds <= 86400:  # "24h" reads better than "1d" here
                return f"{int(seconds // 3600)}h"
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
