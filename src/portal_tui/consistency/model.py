"""What every consistency rule shares: findings, results, the context it reads.

A rule is a small class with a ``name``, the highest ``severity`` it reports,
the ``source`` of truth it checks against (one line, shown in help and the
README) and a ``run`` method from a :class:`CheckContext` to a
:class:`RuleResult`. Rules are pure: they read the cycle's outcome, the
monitor's snapshots and the previous state, and return findings plus the
state to remember; the engine persists and resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from portal_tui.config import Config
from portal_tui.dashboards.kpi import stats_needs
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.dashboards.windows import ReportWindows, report_windows
from portal_tui.fetch.cache import CacheResult
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store.consistency_records import (
    BaselineRecord,
    ChecksumRecord,
    FieldRecord,
    ResponseTimes,
)
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.models import StatsResponse, WorkspaceStats
from portal_tui.vocabulary.errors import UpstreamError
from portal_tui.vocabulary.names import DashboardName, Severity

if TYPE_CHECKING:  # the network side stays unimported until a refresh needs it
    from portal_tui.fetch.fetcher import Fetched
    from portal_tui.upstream.discovery import Discovery


class CycleView(Protocol):
    """What a rule reads of the cycle that just ended (the engine's ``CycleOutcome``)."""

    @property
    def started_at(self) -> datetime: ...

    @property
    def finished_at(self) -> datetime: ...

    @property
    def snapshots(self) -> Mapping[DashboardName, DashboardSnapshot]: ...

    @property
    def discoveries(self) -> Mapping[str, Discovery]: ...

    @property
    def results(self) -> Mapping[RequestKey, CacheResult[Fetched] | BaseException]: ...

    @property
    def workspace_names(self) -> Mapping[tuple[str, int], str]: ...

    @property
    def api_calls(self) -> Sequence[ApiCallRecord]: ...

    @property
    def list_errors(self) -> Mapping[str, UpstreamError]: ...

    @property
    def unreachable(self) -> Mapping[str, UpstreamError]: ...


MAX_SUBJECTS = 50
"""Findings one rule reports per scope per cycle; the rest are counted in one more finding."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a rule found wrong in one cycle; identity is ``(rule, scope, subject)``."""

    rule: str
    severity: Severity
    scope: str
    subject: str
    message: str
    evidence: str | None = field(default=None, compare=False)
    """The offending payload as JSON text (:mod:`portal_tui.consistency.evidence`)."""

    @property
    def key(self) -> tuple[str, str, str]:
        """``(rule, scope, subject)``."""
        return (self.rule, self.scope, self.subject)


@dataclass(frozen=True, slots=True)
class OpenFinding:
    """A finding that still holds, as the Consistency pane and ``export`` show it."""

    rule: str
    severity: Severity
    scope: str
    subject: str
    message: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int  # cycles in which it was seen

    @property
    def key(self) -> tuple[str, str, str]:
        """``(rule, scope, subject)``."""
        return (self.rule, self.scope, self.subject)


@dataclass(slots=True)
class RuleResult:
    """What one rule concluded: findings, the scopes it judged, state to remember.

    An open finding of this rule in a judged scope that is not in
    ``findings`` is resolved. A scope not judged (its dashboard was not
    refreshed) keeps its findings as they are.
    """

    findings: list[Finding] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    checksums: list[ChecksumRecord] = field(default_factory=list)
    fields: list[FieldRecord] = field(default_factory=list)
    baselines: list[BaselineRecord] = field(default_factory=list)


@dataclass(slots=True)
class PreviousState:
    """What earlier cycles left for the rules that compare across cycles."""

    checksums: dict[str, ChecksumRecord] = field(default_factory=dict)
    # endpoint -> field -> when it was first and last seen
    fields: dict[str, dict[str, FieldRecord]] = field(default_factory=dict)
    # rule -> subject -> what the rule remembered (persisted in consistency_baselines)
    baselines: dict[str, dict[str, BaselineRecord]] = field(default_factory=dict)

    def baseline(self, rule: str, subject: str) -> BaselineRecord | None:
        """What ``rule`` remembered about ``subject``, if anything."""
        return self.baselines.get(rule, {}).get(subject)


@dataclass
class CheckContext:
    """Everything a rule may read about the cycle that just ended."""

    outcome: CycleView
    snapshots: Mapping[DashboardName, DashboardSnapshot]
    config: Config
    previous: PreviousState = field(default_factory=PreviousState)
    # (cache key, fetched_at) -> content digest of an upstream payload, reused across cycles
    digests: dict[tuple[str, datetime], str] = field(default_factory=dict)
    # instance -> attempts recorded in the last hour before this cycle (api_health_logs)
    response_times: Mapping[str, ResponseTimes] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """When the cycle finished: the time every finding of it carries."""
        return self.outcome.finished_at

    @cached_property
    def windows(self) -> ReportWindows:
        """The date windows the cycle used (it cut them at its start)."""
        return report_windows(self.outcome.started_at, self.config.zone)

    @property
    def refreshed(self) -> list[DashboardName]:
        """Dashboards computed by this cycle, in pane order."""
        return [n for n in dashboard_names() if n in self.outcome.snapshots]

    def good(self, key: RequestKey) -> CacheResult[Fetched] | None:
        """The response the cycle read for ``key``, unless it failed or was served stale."""
        result = self.outcome.results.get(key)
        if isinstance(result, CacheResult) and not result.stale:
            return result
        return None

    @cached_property
    def _stats_params(self) -> dict[str, tuple[tuple[str, str], ...]]:
        return {label: need.params for label, need in stats_needs(self.windows).items()}

    def stats(self, ws_key: tuple[str, int], label: str) -> WorkspaceStats | None:
        """A workspace's stats window (``stats_mtd``, ``stats_7d``, ...) as the cycle read it."""
        params = self._stats_params[label]
        got = self.good(RequestKey(ws_key[0], ws_key[1], Endpoint.STATS, params))
        if got is None or not isinstance(got.value.payload, StatsResponse):
            return None
        return got.value.payload.data

    def stats_fetched_at(self, ws_key: tuple[str, int], label: str) -> datetime | None:
        """When the stats window the cycle read (see :meth:`stats`) was fetched."""
        params = self._stats_params[label]
        got = self.good(RequestKey(ws_key[0], ws_key[1], Endpoint.STATS, params))
        return None if got is None else got.fetched_at

    def workspace_name(self, key: tuple[str, int], fallback: str | None = None) -> str:
        """The workspace's name as discovery knew it."""
        return self.outcome.workspace_names.get(key, fallback or str(key[1]))


def mailbox_value(mailbox: object, name: str) -> Any:
    """A mailbox row's attribute; restored snapshots hold plain dicts instead of MailboxRow."""
    if isinstance(mailbox, dict):
        return mailbox.get(name)
    return getattr(mailbox, name, None)


def subject_of(instance: str, workspace: str) -> str:
    """``instance/workspace``: a finding's subject for one workspace."""
    return f"{instance}/{workspace}"


def capped(
    findings: Sequence[Finding], *, rule: str, scope: str, limit: int = MAX_SUBJECTS
) -> list[Finding]:
    """At most ``limit`` findings (the most severe, then by subject) plus one that counts
    the rest, so a systemic fault does not write thousands of rows per cycle."""
    order = {s: i for i, s in enumerate(reversed(Severity))}
    ranked = sorted(findings, key=lambda f: (order[f.severity], f.subject))
    if len(ranked) <= limit:
        return ranked
    rest = ranked[limit:]
    worst = min((f.severity for f in rest), key=lambda s: order[s])
    more = Finding(
        rule,
        worst,
        scope,
        "(more)",
        f"{len(rest)} more like these (first: {rest[0].subject}); fix the cause above first",
    )
    return [*ranked[:limit], more]


class Rule(Protocol):
    """One named consistency rule."""

    name: ClassVar[str]
    severity: ClassVar[Severity]
    source: ClassVar[str]

    def run(self, ctx: CheckContext) -> RuleResult:
        """Judge the cycle."""
        ...


def names_of(rules: Iterable[Rule]) -> list[str]:
    """Rule names, in order."""
    return [r.name for r in rules]
