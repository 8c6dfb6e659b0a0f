"""What the rules that compare across cycles share: a baseline held while it is broken.

A rule such as "month-to-date counts never go down" remembers, per subject,
the values it last accepted (a :class:`~portal_tui.store.consistency_records.BaselineRecord`,
persisted in ``consistency_baselines``, so a cron ``check`` compares with the
previous process's cycle). When a cycle breaks the expectation, the old
baseline is *held* and the finding stays open for as long as the new values
stay broken, rather than resolving at the next cycle because the lower value
became the new normal. After :data:`ACCEPT_AFTER` the new values are taken as
the baseline (the finding resolves; the record keeps when it was seen): a
workspace that really lost its mailboxes is not reported forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from portal_tui.store.consistency_records import BaselineRecord

ACCEPT_AFTER = timedelta(hours=24)
"""How long a broken expectation holds the old baseline before the new values are accepted."""

HELD_SINCE = "held_since"
"""The baseline key saying since when a break holds it (absent: not held)."""


def held_since(baseline: BaselineRecord | None) -> datetime | None:
    """When the break that holds ``baseline`` was first seen, if one does."""
    if baseline is None:
        return None
    text = baseline.value.get(HELD_SINCE)
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def still_held(baseline: BaselineRecord | None, now: datetime) -> datetime | None:
    """Since when the break holds, or None when there is none or it is past :data:`ACCEPT_AFTER`
    (then the caller accepts the new values)."""
    since = held_since(baseline)
    if since is None or now - since >= ACCEPT_AFTER:
        return None
    return since


FETCHED_AT = "fetched_at"
"""The baseline key saying when the data it remembers was fetched."""


def older_than(baseline: BaselineRecord | None, fetched_at: datetime | None) -> bool:
    """Whether data fetched at ``fetched_at`` predates what ``baseline`` remembers (a cache
    entry another process's fresher fetch has overtaken): it is then not compared."""
    if baseline is None or fetched_at is None:
        return False
    text = baseline.value.get(FETCHED_AT)
    if not isinstance(text, str):
        return False
    try:
        return fetched_at < datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return False


def fetched(value: Mapping[str, Any], at: datetime | None) -> dict[str, Any]:
    """``value`` with when its data was fetched."""
    return {**value, FETCHED_AT: None if at is None else at.astimezone(UTC).isoformat()}


def holding(value: Mapping[str, Any], since: datetime) -> dict[str, Any]:
    """``value`` marked as held since ``since``."""
    return {**value, HELD_SINCE: since.astimezone(UTC).isoformat()}


def stamp(at: datetime) -> str:
    """An absolute time for a stored message (``2026-11-20 10:00Z``)."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def share(part: float, whole: float) -> str:
    """``62%``: ``part`` as a share of ``whole``."""
    return f"{part / whole:.0%}" if whole else "-"
