"""Checks on records before they are written, so a bad value fails with a clear ValueError.

The schema's CHECK constraints would catch the same values, but SQLite's
"CHECK constraint failed" does not say which record or value was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from portal_tui.store.records import CacheStatus, CycleRecord, TriggeredBy, WorkspaceState
from portal_tui.vocabulary.errors import ErrorType


def _choice(value: object, allowed: type[StrEnum], what: str) -> None:
    if str(value) not in {member.value for member in allowed}:
        options = ", ".join(member.value for member in allowed)
        raise ValueError(f"{what}: {value!r} is not one of {options}")


def _each(values: Iterable[object], allowed: type[StrEnum], what: str) -> None:
    for value in values:
        _choice(value, allowed, what)


def check_cycle(cycle: CycleRecord) -> None:
    """Raise ValueError naming the first field that holds a value the schema refuses."""
    _choice(cycle.triggered_by, TriggeredBy, "cycle triggered_by")
    for call in cycle.api_calls:
        _choice(call.triggered_by, TriggeredBy, f"API call {call.endpoint} triggered_by")
        if call.error_type is not None:
            _choice(call.error_type, ErrorType, f"API call {call.endpoint} error_type")
    _each((m.status for m in cycle.cache_metadata), CacheStatus, "cache metadata status")
    for t in cycle.transitions:
        _choice(t.to_state, WorkspaceState, f"transition of {t.workspace} to_state")
        if t.from_state is not None:
            _choice(t.from_state, WorkspaceState, f"transition of {t.workspace} from_state")
