"""What a cycle tells each workspace's standing: the observations the records count.

The hysteresis itself (FAILING after ``fail_after`` failed cycles in a row,
RECOVERED after ``recover_after`` good ones) runs in the records, inside the
transaction that records the cycle (:mod:`portal_tui.store.standing`), so every
process sharing the file counts into the same runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portal_tui.store.records import Hysteresis, WorkspaceObservation
from portal_tui.store.standing import WorkspaceTransition

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome

HysteresisPolicy = Hysteresis
"""Failed cycles in a row before "failing", good cycles in a row before "recovered"."""


def observations(outcome: CycleOutcome) -> list[WorkspaceObservation]:
    """One observation per workspace the cycle tried: the dashboards that failed for it."""
    return [
        WorkspaceObservation(
            instance=key[0],
            workspace_id=key[1],
            workspace=outcome.workspace_names.get(key, str(key[1])),
            failed_dashboards=tuple(sorted(d.value for d in failed)),
            reason=_failure_reason(outcome, key) if failed else "",
            at=outcome.finished_at,
        )
        for key, failed in sorted(outcome.workspace_failures.items())
    ]


def _failure_reason(outcome: CycleOutcome, key: tuple[str, int]) -> str:
    for snap in outcome.snapshots.values():
        for failure in snap.failures:
            if (failure.instance, failure.workspace_id) == key:
                return f"{failure.label}: {failure.message}"
    return "failed"


__all__ = ["HysteresisPolicy", "WorkspaceTransition", "observations"]
