"""The verdict from the records: health score, reasons, level and failing workspaces.

This is the one function every face asks (SPEC section 5): the console's
header and Overview, ``check``'s exit code, ``export``, ``history``,
``doctor`` and ``metrics``. It reads only the records (what every process
sharing the file wrote), never one process's memory, so two processes
asking at the same instant get the same answer.

:func:`judge` is pure (records and an instant in, a :class:`Verdict` out),
so the console re-judges the last records it read every second as
dashboards age, and reads the file again after each refresh and every few
seconds to see what other processes recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal_tui.dashboards.registry import dashboard_names, title_of
from portal_tui.engine.health import HealthInputs, score
from portal_tui.store.database import Store
from portal_tui.store.health_records import HealthRecords
from portal_tui.store.standing import Standing
from portal_tui.vocabulary.errors import ExitCode
from portal_tui.vocabulary.freshness import FreshnessState, classify

_STALE = (FreshnessState.STALE, FreshnessState.VERY_STALE, FreshnessState.EXPIRED)
MAX_NAMED = 3
"""Failing workspaces named in a reason before "+N more"."""


@dataclass(frozen=True, slots=True)
class FailingWorkspace:
    """A workspace FAILING after hysteresis, or failing in its current run."""

    instance: str
    workspace: str
    dashboards: tuple[str, ...]
    reason: str
    since: datetime | None
    """First failure of the current streak, whoever recorded it."""
    confirmed: bool
    """True once hysteresis has called it FAILING; False for a run still below the threshold."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """OK, WARNING or CRITICAL, with the score, every reason and who is failing."""

    level: str
    score: int
    reasons: tuple[str, ...]
    at: datetime
    failing: tuple[FailingWorkspace, ...] = ()
    last_cycle_at: datetime | None = None

    @property
    def status(self) -> str:
        """The level: ``OK``, ``WARNING`` or ``CRITICAL``."""
        return self.level

    @property
    def exit_code(self) -> ExitCode:
        """The monitoring-plugin exit code of the level."""
        return ExitCode[self.level]


def judge(records: HealthRecords, now: datetime) -> Verdict:
    """The verdict the records give at ``now`` (pure: no I/O).

    UNKNOWN while nothing has been recorded at all: never OK before anyone knows.
    """
    if not records.dashboards and not records.cycles and records.last_recorded is None:
        return Verdict("UNKNOWN", 0, ("no refresh recorded yet",), now)
    five_min = now - timedelta(minutes=5)
    hour = now - timedelta(hours=1)
    recent = [c for c in records.cycles if c.finished_at >= five_min]
    failed_requests = sum(c.failed_requests for c in recent)
    failed_attempts = sum(c.failed_attempts for c in recent)
    boards = {b.name: b for b in records.dashboards}
    error_boards, stale, partial, no_data = [], [], [], []
    for name in _known_dashboards(boards):
        board = boards.get(name)
        if board is None or (board.last_updated is None and board.status != "error"):
            no_data.append(title_of(name))
            continue
        if board.status == "error":
            error_boards.append(title_of(name))
        elif board.status == "partial":
            partial.append(title_of(name))
        if board.last_updated is not None and board.ttl_seconds:
            age = max(0.0, (now - board.last_updated).total_seconds())
            if classify(age, board.ttl_seconds) in _STALE:
                stale.append(title_of(name))
    failing = _failing(records.standings)
    confirmed = [f for f in failing if f.confirmed]
    health = score(
        HealthInputs(
            error_dashboards=error_boards,
            failed_calls_5m=failed_requests,
            critical_errors_1h=sum(1 for t in records.critical_errors if t >= hour),
            stale_dashboards=stale,
            no_data_dashboards=no_data,
        )
    )
    reasons = list(health.reasons)
    if records.unreachable:
        reasons.append(f"upstream unreachable: {', '.join(records.unreachable)}")
    if confirmed:
        reasons.append(f"{len(confirmed)} workspace(s) failing: {_names(confirmed)}")
    pending = [f for f in failing if not f.confirmed]
    if pending:
        reasons.append(f"{len(pending)} workspace(s) failed the last refresh: {_names(pending)}")
    if partial:
        reasons.append(f"some workspaces failed: {', '.join(partial)}")
    retried = failed_attempts - failed_requests
    if retried > 0 and failed_requests == 0:
        reasons.append(f"{failed_attempts} attempt(s) retried in the last 5 min, all recovered")
    elif retried > 0:
        reasons.append(f"{failed_attempts} failed attempt(s) in the last 5 min")
    if records.open_validation_errors:
        reasons.append(f"{records.open_validation_errors} open validation error(s)")
    findings = records.open_findings
    for severity in ("critical", "error", "warning"):
        if findings.get(severity):
            reasons.append(f"{findings[severity]} open {severity} consistency finding(s)")
    level = _level(health.score, records, confirmed or pending, partial)
    if level != "OK" and reasons and reasons[0] == "all dashboards fresh, no recent failures":
        reasons.pop(0)  # the level has another cause, listed below; never claim all is well
    return Verdict(
        level=level,
        score=health.score,
        reasons=tuple(reasons),
        at=now,
        failing=tuple(failing),
        last_cycle_at=records.cycles[0].finished_at if records.cycles else None,
    )


def _level(
    health_score: int,
    records: HealthRecords,
    failing: Sequence[FailingWorkspace],
    partial: Sequence[str],
) -> str:
    findings = records.open_findings
    if health_score <= 50 or findings.get("critical"):
        return "CRITICAL"
    if (
        health_score < 100
        or failing
        or partial
        or records.open_validation_errors
        or findings.get("error")
        or findings.get("warning")
    ):
        return "WARNING"
    return "OK"


def _known_dashboards(boards: Mapping[str, object]) -> list[str]:
    names = [str(n) for n in dashboard_names()]
    return names + sorted(n for n in boards if n not in names)


def _failing(standings: Sequence[Standing]) -> list[FailingWorkspace]:
    found = [
        FailingWorkspace(
            instance=s.instance,
            workspace=s.workspace,
            dashboards=s.dashboards,
            reason=s.reason,
            since=s.failing_since or s.state_since,
            confirmed=s.state.value == "failing",
        )
        for s in standings
        if s.state.value == "failing" or s.failures_in_row > 0
    ]
    # Longest-failing first: the one that started the incident leads.
    return sorted(
        found,
        key=lambda f: (not f.confirmed, f.since.timestamp() if f.since else 0.0, f.workspace),
    )


def _names(failing: Sequence[FailingWorkspace]) -> str:
    shown = [f.workspace for f in failing[:MAX_NAMED]]
    more = len(failing) - len(shown)
    return ", ".join(shown) + (f", +{more} more" if more > 0 else "")


async def verdict_from_records(store: Store, now: datetime) -> Verdict:
    """Read the records and judge them at ``now``: what every face shows."""
    return judge(await store.health_records(now), now)
