"""The health score (0–100) and the reasons behind it (SPEC section 5).

First match wins: any dashboard in error → 30; more than 5 failed API calls
in the last 5 minutes → 50; a critical validation error in the last hour →
60; more than 2 stale dashboards → 75; else 100. The reasons list every
condition that holds, the deciding one first, so nothing is hidden by the
first match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """What the score is computed from."""

    error_dashboards: Sequence[str]
    failed_calls_5m: int
    critical_errors_1h: int
    stale_dashboards: Sequence[str]
    failing_workspaces: int = 0
    unreachable_instances: Sequence[str] = ()
    no_data_dashboards: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The score with its reasons, the deciding reason first."""

    score: int
    reasons: tuple[str, ...]

    @property
    def status(self) -> str:
        """``OK``, ``WARNING`` or ``CRITICAL`` for the monitoring convention."""
        if self.score >= 100:
            return "OK"
        return "CRITICAL" if self.score <= 50 else "WARNING"


def score(inputs: HealthInputs) -> HealthReport:
    """Apply the first-match rules and collect every reason that holds."""
    rules: list[tuple[bool, int, str]] = [
        (
            bool(inputs.error_dashboards),
            30,
            f"dashboard in error: {', '.join(inputs.error_dashboards)}",
        ),
        (
            inputs.failed_calls_5m > 5,
            50,
            f"{inputs.failed_calls_5m} failed API calls in the last 5 min",
        ),
        (
            inputs.critical_errors_1h > 0,
            60,
            f"{inputs.critical_errors_1h} critical validation error(s) in the last hour",
        ),
        (
            len(inputs.stale_dashboards) > 2,
            75,
            f"{len(inputs.stale_dashboards)} stale dashboards: "
            + ", ".join(inputs.stale_dashboards),
        ),
    ]
    held = [(value, text) for hit, value, text in rules if hit]
    extras: list[str] = []
    if inputs.unreachable_instances:
        extras.append(f"upstream unreachable: {', '.join(inputs.unreachable_instances)}")
    if inputs.failing_workspaces:
        extras.append(f"{inputs.failing_workspaces} workspace(s) failing")
    if 0 < inputs.failed_calls_5m <= 5:
        extras.append(f"{inputs.failed_calls_5m} failed API call(s) in the last 5 min")
    if 0 < len(inputs.stale_dashboards) <= 2:
        extras.append(f"stale: {', '.join(inputs.stale_dashboards)}")
    if inputs.no_data_dashboards:
        extras.append(f"no data yet: {', '.join(inputs.no_data_dashboards)}")
    if not held:
        return HealthReport(100, tuple(extras) or ("all dashboards fresh, no recent failures",))
    return HealthReport(held[0][0], tuple(text for _, text in held) + tuple(extras))
