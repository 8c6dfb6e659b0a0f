"""Consistency records: what the checks hand to the store, and what they get back.

A cycle's consistency result travels inside its :class:`~portal_tui.store.records.CycleRecord`
(``consistency``) and is written in the cycle's own transaction. The shapes here
are plain data, so the store never imports the rules that produce them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One finding observed by one cycle; identity is ``(rule, scope, subject)``."""

    rule: str
    severity: str  # a Severity value: info | warning | error | critical
    scope: str  # what the rule judged: a dashboard, an instance, an endpoint
    subject: str  # what is wrong: ``instance/workspace``, an address, ``endpoint.field``
    message: str
    evidence: str | None = None  # the offending payload, as JSON text (issue 19)


@dataclass(frozen=True, slots=True)
class ChecksumRecord:
    """The content checksum of one dashboard's rows as of a cycle (rule ``content-checksum``)."""

    dashboard: str
    checksum: str
    source_digest: str
    changed_at: datetime  # when ``checksum`` last changed
    checked_at: datetime
    unchanged_refreshes: int = 0  # refreshes with new upstream data since it last changed


@dataclass(frozen=True, slots=True)
class FieldRecord:
    """A field an endpoint was seen sending (rule ``schema-drift``)."""

    endpoint: str
    field: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class BaselineRecord:
    """What a rule that compares across cycles remembers about one subject.

    ``value`` is plain JSON (numbers, strings, lists, objects): the rule's own
    shape, e.g. the month-to-date counts of one workspace and the month they
    belong to. One row per ``(rule, subject)``; a later ``recorded_at`` wins.
    """

    rule: str
    subject: str
    value: Mapping[str, Any]
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Attempts logged for one instance in a window and their summed response time."""

    instance: str
    attempts: int
    total_ms: float

    @property
    def average_ms(self) -> float:
        """Mean response time (0 with no attempts)."""
        return self.total_ms / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class ConsistencyRecord:
    """One cycle's consistency result.

    ``covered`` lists the ``(rule, scope)`` pairs the cycle judged: an open
    finding of such a pair that is absent from ``findings`` is resolved.
    Pairs not listed (a dashboard not refreshed, a rule that crashed) keep
    their open findings untouched.
    """

    findings: Sequence[FindingRecord] = ()
    covered: Set[tuple[str, str]] = frozenset()
    checksums: Sequence[ChecksumRecord] = ()
    fields: Sequence[FieldRecord] = ()
    baselines: Sequence[BaselineRecord] = ()


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A stored consistency finding, open or resolved."""

    id: int
    rule: str
    severity: str
    scope: str
    subject: str
    message: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int  # cycles in which it was seen
    resolved: bool
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsistencyState:
    """What the rules compare against: open findings, checksums, known fields, baselines."""

    findings: Sequence[FindingRow] = ()
    checksums: Sequence[ChecksumRecord] = ()
    fields: Sequence[FieldRecord] = ()
    baselines: Sequence[BaselineRecord] = ()
