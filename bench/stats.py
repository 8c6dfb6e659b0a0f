"""Figures over several runs: median with min and max, and percentiles of samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured quantity over several runs."""

    values: tuple[float, ...]
    unit: str = ""
    digits: int = 2

    @classmethod
    def of(cls, values: Sequence[float], unit: str = "", digits: int = 2) -> Figure:
        """A figure from its runs' values (at least one)."""
        if not values:
            raise ValueError("a figure needs at least one value")
        return cls(tuple(float(v) for v in values), unit, digits)

    @property
    def median(self) -> float:
        """The median over runs."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest run."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest run."""
        return max(self.values)

    def text(self) -> str:
        """``1.23 s (1.20–1.31)``; a single run shows no range."""
        d = self.digits
        unit = f" {self.unit}" if self.unit else ""
        if len(self.values) == 1:
            return f"{self.median:.{d}f}{unit} (1 run)"
        return f"{self.median:.{d}f}{unit} ({self.low:.{d}f}–{self.high:.{d}f})"

    def as_json(self) -> dict[str, object]:
        """For the JSON results file."""
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "runs": list(self.values),
            "unit": self.unit,
        }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by nearest rank; 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
