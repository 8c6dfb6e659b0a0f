"""Each workspace's standing across cycles: failing and recovered, with hysteresis.

One failed cycle is a blip; :class:`WorkspaceStandings` calls a workspace
FAILING after ``fail_after`` failed cycles in a row, and RECOVERED after
``recover_after`` good ones, so the console notifies once per real change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from portal_tui.store.records import WorkspaceState

if TYPE_CHECKING:
    from collections.abc import Mapping

    from portal_tui.engine.cycle import CycleOutcome

WorkspaceKey = tuple[str, int]
"""(instance, workspace id)."""


@dataclass(frozen=True, slots=True)
class WorkspaceTransition:
    """A workspace started failing or recovered (after hysteresis)."""

    instance: str
    workspace: str
    from_state: WorkspaceState
    to_state: WorkspaceState
    dashboards: tuple[str, ...]
    reason: str
    at: datetime


@dataclass(slots=True)
class HysteresisPolicy:
    """Failed cycles in a row before "failing", good cycles in a row before "recovered"."""

    fail_after: int = 2
    recover_after: int = 2


@dataclass(slots=True)
class _Standing:
    state: WorkspaceState = WorkspaceState.OK
    failures_in_row: int = 0
    successes_in_row: int = 0
    since: datetime | None = None


class WorkspaceStandings:
    """Every workspace's run of failed or good cycles, and the state it implies."""

    def __init__(self, policy: HysteresisPolicy | None = None) -> None:
        self.policy = policy or HysteresisPolicy()
        self._standing: dict[WorkspaceKey, _Standing] = {}

    def update(self, outcome: CycleOutcome) -> list[WorkspaceTransition]:
        """Count one cycle in; returns the workspaces whose state changed."""
        transitions: list[WorkspaceTransition] = []
        for key, failed in outcome.workspace_failures.items():
            standing = self._standing.setdefault(key, _Standing())
            if failed:
                standing.failures_in_row += 1
                standing.successes_in_row = 0
                if (
                    standing.state is not WorkspaceState.FAILING
                    and standing.failures_in_row >= self.policy.fail_after
                ):
                    dashboards = tuple(sorted(d.value for d in failed))
                    reason = _failure_reason(outcome, key)
                    transitions.append(
                        _move(standing, WorkspaceState.FAILING, outcome, key, dashboards, reason)
                    )
            else:
                standing.successes_in_row += 1
                standing.failures_in_row = 0
                if (
                    standing.state is WorkspaceState.FAILING
                    and standing.successes_in_row >= self.policy.recover_after
                ):
                    transitions.append(
                        _move(
                            standing,
                            WorkspaceState.RECOVERED,
                            outcome,
                            key,
                            (),
                            "refreshing normally again",
                        )
                    )
        return transitions

    def failing(self, names: Mapping[WorkspaceKey, str]) -> list[tuple[str, str, WorkspaceState]]:
        """(instance, workspace name, state) of every workspace now FAILING."""
        return [
            (key[0], names.get(key, str(key[1])), standing.state)
            for key, standing in self._standing.items()
            if standing.state is WorkspaceState.FAILING
        ]


def _move(
    standing: _Standing,
    to_state: WorkspaceState,
    outcome: CycleOutcome,
    key: WorkspaceKey,
    dashboards: tuple[str, ...],
    reason: str,
) -> WorkspaceTransition:
    before = standing.state
    standing.state = to_state
    standing.since = outcome.finished_at
    name = outcome.workspace_names.get(key, str(key[1]))
    return WorkspaceTransition(
        key[0], name, before, to_state, dashboards, reason, outcome.finished_at
    )


def _failure_reason(outcome: CycleOutcome, key: WorkspaceKey) -> str:
    for snap in outcome.snapshots.values():
        for failure in snap.failures:
            if (failure.instance, failure.workspace_id) == key:
                return f"{failure.label}: {failure.message}"
    return "failed"


__all__ = ["HysteresisPolicy", "WorkspaceStandings", "WorkspaceTransition"]
