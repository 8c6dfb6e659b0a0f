"""Run the rules after each refresh cycle and keep the open findings.

:class:`ConsistencyChecker` is what the monitor holds: it loads the open
findings and the rules' state from SQLite once, runs every rule over each
cycle, keeps the open findings in memory (for the Consistency pane) with the
same life cycle the store applies (first seen, last seen, occurrences,
resolved when a judged scope no longer shows it), and returns the
:class:`~portal_tui.store.consistency_records.ConsistencyRecord` that the
monitor writes in the cycle's own transaction.

A rule that raises does not break the refresh: it becomes an error finding
of its own (rule ``consistency-engine``) and its scopes are not judged, so
its earlier findings stay open rather than being wrongly resolved.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portal_tui.config import Config
from portal_tui.consistency.addresses import SenderAddressFormat
from portal_tui.consistency.checksums import ContentChecksum, prune_digests
from portal_tui.consistency.counters import MonthToDateCounters
from portal_tui.consistency.drift import FieldDrift
from portal_tui.consistency.drops import SharpDrops
from portal_tui.consistency.evidence import with_evidence
from portal_tui.consistency.model import (
    CheckContext,
    CycleView,
    Finding,
    OpenFinding,
    PreviousState,
    Rule,
)
from portal_tui.consistency.numbers import SameSourceNumbers, WindowSanity
from portal_tui.consistency.pages import MailboxPageCounts
from portal_tui.consistency.percentages import StatsPercentages
from portal_tui.consistency.upstream import SlowUpstream
from portal_tui.consistency.workspaces import (
    DashboardRows,
    DisabledButShown,
    SenderEmailOwnership,
    WorkspaceSets,
)
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.store.consistency_records import (
    BaselineRecord,
    ChecksumRecord,
    ConsistencyRecord,
    ConsistencyState,
    FieldRecord,
    FindingRecord,
    ResponseTimes,
)
from portal_tui.store.database import Store
from portal_tui.vocabulary.names import DashboardName, Severity

log = logging.getLogger(__name__)

ENGINE_RULE = "consistency-engine"
"""The rule name under which a crashing rule is reported."""

_SEVERITY_ORDER = {s: i for i, s in enumerate(reversed(Severity))}


def default_rules() -> list[Rule]:
    """Every rule, in the order the Consistency pane lists them."""
    return [
        SameSourceNumbers(),
        WorkspaceSets(),
        DashboardRows(),
        DisabledButShown(),
        SenderEmailOwnership(),
        MailboxPageCounts(),
        WindowSanity(),
        ContentChecksum(),
        FieldDrift(),
        MonthToDateCounters(),
        SharpDrops(),
        StatsPercentages(),
        SlowUpstream(),
        SenderAddressFormat(),
    ]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules concluded about one cycle, before it is applied."""

    findings: list[Finding]
    covered: frozenset[tuple[str, str]]
    checksums: list[ChecksumRecord]
    fields: list[FieldRecord]
    at: datetime
    baselines: list[BaselineRecord] = field(default_factory=list)

    @property
    def record(self) -> ConsistencyRecord:
        """The rows the cycle's transaction writes."""
        return ConsistencyRecord(
            findings=[
                FindingRecord(f.rule, f.severity.value, f.scope, f.subject, f.message, f.evidence)
                for f in self.findings
            ],
            covered=self.covered,
            checksums=self.checksums,
            fields=self.fields,
            baselines=self.baselines,
        )


DigestMemo = dict[tuple[str, datetime], str]
"""Payload digest by (cache key, fetched at)."""


class ConsistencyChecker:
    """The rules, their state across cycles, and the findings that hold now."""

    def __init__(self, rules: Sequence[Rule] | None = None) -> None:
        self.rules: list[Rule] = list(rules) if rules is not None else default_rules()
        self._open: dict[tuple[str, str, str], OpenFinding] = {}
        self._previous = PreviousState()
        self._digests: DigestMemo = {}
        self._loaded = False
        self.resolved: deque[tuple[OpenFinding, datetime]] = deque(maxlen=200)
        """Findings resolved by this process, newest last, with when."""
        self.last_checked_at: datetime | None = None
        """When the rules last ran (the end of the cycle they judged)."""

    # -- reading ------------------------------------------------------------------------

    @property
    def findings(self) -> list[OpenFinding]:
        """Open findings: most severe first, then oldest first."""
        return sorted(
            self._open.values(),
            key=lambda f: (_SEVERITY_ORDER[f.severity], f.first_seen, f.rule, f.subject),
        )

    @property
    def checksums(self) -> dict[str, ChecksumRecord]:
        """The latest content checksum per dashboard (``changed_at``: when it last changed)."""
        return dict(self._previous.checksums)

    @property
    def digest_memo(self) -> DigestMemo:
        """Payload digests by (cache key, fetched at), kept across cycles (responses served
        from the cache again are not digested again)."""
        return self._digests

    @digest_memo.setter
    def digest_memo(self, memo: DigestMemo) -> None:
        # evaluate ran elsewhere (a forked child) and filled its own copy: take it.
        self._digests = memo

    # -- state --------------------------------------------------------------------------

    async def load(self, store: Store) -> None:
        """Read the open findings and the rules' state from SQLite (once per process)."""
        if self._loaded:
            return
        self.adopt(await store.consistency_state())

    def adopt(self, state: ConsistencyState) -> None:
        """Take over stored state: open findings keep their first-seen times."""
        self._loaded = True
        for row in state.findings:
            finding = OpenFinding(
                row.rule,
                Severity(row.severity),
                row.scope,
                row.subject,
                row.message,
                row.first_seen,
                row.last_seen,
                row.occurrences,
            )
            self._open.setdefault(finding.key, finding)
        for checksum in state.checksums:
            self._previous.checksums.setdefault(checksum.dashboard, checksum)
        for record in state.fields:
            self._previous.fields.setdefault(record.endpoint, {}).setdefault(record.field, record)
        for baseline in state.baselines:
            self._previous.baselines.setdefault(baseline.rule, {}).setdefault(
                baseline.subject, baseline
            )

    # -- checking -----------------------------------------------------------------------

    def check(
        self,
        outcome: CycleView,
        snapshots: Mapping[DashboardName, DashboardSnapshot],
        config: Config,
        *,
        response_times: Mapping[str, ResponseTimes] | None = None,
    ) -> ConsistencyRecord:
        """Run every rule over a finished cycle; update the open findings; return the record."""
        return self.commit(self.evaluate(outcome, snapshots, config, response_times=response_times))

    def evaluate(
        self,
        outcome: CycleView,
        snapshots: Mapping[DashboardName, DashboardSnapshot],
        config: Config,
        *,
        response_times: Mapping[str, ResponseTimes] | None = None,
    ) -> Verdict:
        """Run every rule over a finished cycle, changing nothing a reader sees.

        This is the expensive half (digests of every payload and row), safe to
        run in a worker thread while the event loop reads :attr:`findings`: it
        only reads the rules' state and fills the payload digest memo, which
        nothing else touches. Calls must not overlap, and each must be followed
        by its :meth:`commit` before the next starts (the next reads what this
        one's commit remembers). ``response_times``: per instance, the attempts
        recorded in the hour before this cycle (the cycle's own are in ``outcome``).
        """
        ctx = CheckContext(
            outcome, snapshots, config, self._previous, self._digests, response_times or {}
        )
        findings: list[Finding] = []
        covered: set[tuple[str, str]] = set()
        checksums: list[ChecksumRecord] = []
        fields: list[FieldRecord] = []
        baselines: list[BaselineRecord] = []
        for rule in self.rules:
            try:
                result = rule.run(ctx)
            except Exception as exc:  # a broken rule must not break the refresh
                log.warning("consistency rule %s failed: %r", rule.name, exc)
                log.debug("consistency rule %s failed", rule.name, exc_info=True)
                findings.append(
                    Finding(
                        ENGINE_RULE,
                        Severity.ERROR,
                        rule.name,
                        rule.name,
                        f"rule {rule.name} could not run: {type(exc).__name__}: {exc}; "
                        "its earlier findings are kept as they were (this is a bug)",
                    )
                )
                continue
            findings.extend(result.findings)
            covered.update((rule.name, scope) for scope in result.covered)
            checksums.extend(result.checksums)
            fields.extend(result.fields)
            baselines.extend(result.baselines)
        covered.update((ENGINE_RULE, r.name) for r in self.rules)
        prune_digests(self._digests, ctx.now)
        findings = with_evidence(_unique(findings), ctx, known=set(self._open))
        return Verdict(findings, frozenset(covered), checksums, fields, ctx.now, baselines)

    def commit(self, verdict: Verdict) -> ConsistencyRecord:
        """Apply a verdict: open, bump and resolve findings, remember its state (cheap;
        on the thread that reads :attr:`findings`). Returns the record to write."""
        self._apply(verdict.findings, verdict.covered, verdict.at)
        for checksum in verdict.checksums:
            self._previous.checksums[checksum.dashboard] = checksum
        for record in verdict.fields:
            self._previous.fields.setdefault(record.endpoint, {})[record.field] = record
        for baseline in verdict.baselines:
            self._previous.baselines.setdefault(baseline.rule, {})[baseline.subject] = baseline
        self.last_checked_at = verdict.at
        return verdict.record

    def _apply(
        self, findings: Sequence[Finding], covered: frozenset[tuple[str, str]], at: datetime
    ) -> None:
        """The store's life cycle, in memory: bump what repeats, open what is new,
        resolve what a judged scope no longer shows."""
        seen: set[tuple[str, str, str]] = set()
        for f in findings:
            seen.add(f.key)
            before = self._open.get(f.key)
            self._open[f.key] = OpenFinding(
                f.rule,
                f.severity,
                f.scope,
                f.subject,
                f.message,
                before.first_seen if before else at,
                at,
                before.occurrences + 1 if before else 1,
            )
        for key, finding in list(self._open.items()):
            if key not in seen and (finding.rule, finding.scope) in covered:
                del self._open[key]
                self.resolved.append((finding, at))


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per identity (the last one wins), in order."""
    by_key: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        by_key[f.key] = f
    return list(by_key.values())
