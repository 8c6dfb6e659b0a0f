"""Freshness states and overlays of a dashboard (SPEC section 5).

Every state has a word and a symbol so that NO_COLOR and monochrome
terminals lose nothing; colour is only ever a third cue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

EXPIRED_AFTER = 3600.0  # seconds: beyond this, data is shown but loudly labelled


class FreshnessState(StrEnum):
    """How old a dashboard's last good data is."""

    FRESH = "fresh"
    STALE = "stale"
    VERY_STALE = "very stale"
    EXPIRED = "expired"
    NO_DATA = "no data"

    @property
    def symbol(self) -> str:
        """One-cell symbol shown beside the word."""
        return _STATE_SYMBOLS[self]


class Overlay(StrEnum):
    """Conditions shown on top of the age-based state."""

    REFRESHING = "refreshing"
    WARNING = "warning"
    ERROR = "error"

    @property
    def symbol(self) -> str:
        """One-cell symbol shown beside the word."""
        return _OVERLAY_SYMBOLS[self]


_STATE_SYMBOLS = {
    FreshnessState.FRESH: "●",
    FreshnessState.STALE: "◐",
    FreshnessState.VERY_STALE: "○",
    FreshnessState.EXPIRED: "✖",
    FreshnessState.NO_DATA: "·",
}
_OVERLAY_SYMBOLS = {
    Overlay.REFRESHING: "↻",
    Overlay.WARNING: "▲",
    Overlay.ERROR: "✗",
}


def classify(age: float | None, ttl: float) -> FreshnessState:
    """The state for data ``age`` seconds old under a ``ttl``; None means no data yet."""
    if age is None:
        return FreshnessState.NO_DATA
    if age > EXPIRED_AFTER:
        return FreshnessState.EXPIRED
    if age < ttl:
        return FreshnessState.FRESH
    if age < max(600.0, 2 * ttl):
        return FreshnessState.STALE
    return FreshnessState.VERY_STALE


@dataclass(frozen=True, slots=True)
class Freshness:
    """A dashboard's state, overlays and age, ready to show."""

    state: FreshnessState
    overlays: frozenset[Overlay]
    age: float | None

    @classmethod
    def of(
        cls,
        fetched_at: datetime | None,
        now: datetime,
        ttl: float,
        *,
        refreshing: bool = False,
        warning: bool = False,
        error: bool = False,
    ) -> Freshness:
        """Compute from the time of the last good fetch."""
        age = None if fetched_at is None else max(0.0, (now - fetched_at).total_seconds())
        overlays = {
            o
            for o, on in (
                (Overlay.REFRESHING, refreshing),
                (Overlay.WARNING, warning),
                (Overlay.ERROR, error),
            )
            if on
        }
        return cls(classify(age, ttl), frozenset(overlays), age)

    @property
    def label(self) -> str:
        """``● fresh``, ``◐ stale ✗ error ↻ refreshing``: words and symbols, never colour alone."""
        parts = [f"{self.state.symbol} {self.state.value}"]
        for overlay in (Overlay.ERROR, Overlay.WARNING, Overlay.REFRESHING):
            if overlay in self.overlays:
                parts.append(f"{overlay.symbol} {overlay.value}")
        return " ".join(parts)

    @property
    def age_text(self) -> str:
        """``12s``, ``4m``, ``2h05m``, ``3d`` or ``—``."""
        return format_age(self.age)


def format_age(age: float | None) -> str:
    """Compact age text for tables."""
    if age is None:
        return "—"
    seconds = int(age)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"
