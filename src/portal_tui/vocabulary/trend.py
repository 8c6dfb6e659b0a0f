"""Trends as one line of block characters (response times, the health score over time)."""

from __future__ import annotations

from collections.abc import Sequence

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(
    values: Sequence[float],
    width: int = 20,
    *,
    low: float | None = None,
    high: float | None = None,
) -> str:
    """The last ``width`` values as block characters.

    Scaled to their own range unless ``low``/``high`` fix it (the health score is
    drawn on 0–100, so a fall from 100 to 75 does not look like one to 30).
    """
    data = list(values)[-width:]
    if not data:
        return ""
    low = min(data) if low is None else low
    high = max(data) if high is None else high
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    if span <= 0:
        return SPARK_BLOCKS[0] * len(data)
    return "".join(
        SPARK_BLOCKS[round((min(max(v, low), high) - low) / span * top)] for v in data
    )


def health_trend_text(scores: Sequence[int], width: int = 30) -> str:
    """``▇▇▇▃▁ 100 → 30`` for the last ``width`` recorded scores (empty below two: one
    point is not a trend)."""
    if len(scores) < 2:
        return ""
    shown = list(scores)[-width:]
    return f"{sparkline(shown, width, low=0, high=100)} {shown[0]} → {shown[-1]}"
