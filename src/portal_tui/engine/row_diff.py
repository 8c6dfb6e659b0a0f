"""Field-by-field differences between a recorded dashboard row and a re-computed one."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from portal_tui.consistency.checksums import VOLATILE_FIELDS
from portal_tui.dashboards.base import WorkspaceRow

MAX_MAILBOX_DIFFERENCES = 20
"""Mailbox-level differences listed per row; the rest are counted in one more entry."""


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One field whose recorded value is not the value the upstream gives now."""

    field: str
    recorded: Any
    fetched: Any

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"field": self.field, "recorded": self.recorded, "fetched": self.fetched}

    def __str__(self) -> str:
        return f"{self.field} {_show(self.recorded)} → {_show(self.fetched)}"


def row_differences(recorded: WorkspaceRow, fetched: WorkspaceRow) -> list[FieldDifference]:
    """Every field of the row that differs (times and ages left out: they always move).

    Infrastructure's ``mailboxes`` are compared mailbox by mailbox (by id):
    ``mailboxes[a@acme.io].sent``, ``mailboxes[+b@acme.io]`` (only in the new
    data), ``mailboxes[-c@acme.io]`` (only in the recorded row).
    """
    skip = set(VOLATILE_FIELDS) | {"mailboxes"}
    old, new = recorded.model_dump(exclude=skip), fetched.model_dump(exclude=skip)
    found = [
        FieldDifference(name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if not _same(old.get(name), new.get(name))
    ]
    found.extend(_mailbox_differences(recorded, fetched))
    return found


def _mailbox_differences(recorded: WorkspaceRow, fetched: WorkspaceRow) -> list[FieldDifference]:
    old = _mailboxes(recorded)
    new = _mailboxes(fetched)
    if old is None and new is None:
        return []
    old, new = old or {}, new or {}
    found: list[FieldDifference] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is None and after is not None:
            found.append(FieldDifference(f"mailboxes[+{after.get('address')}]", None, "present"))
        elif after is None and before is not None:
            found.append(FieldDifference(f"mailboxes[-{before.get('address')}]", "present", None))
        elif before is not None and after is not None:
            label = after.get("address") or key
            for name in sorted(before.keys() | after.keys()):
                if not _same(before.get(name), after.get(name)):
                    found.append(
                        FieldDifference(
                            f"mailboxes[{label}].{name}", before.get(name), after.get(name)
                        )
                    )
    if len(found) > MAX_MAILBOX_DIFFERENCES:
        rest = len(found) - MAX_MAILBOX_DIFFERENCES
        found = found[:MAX_MAILBOX_DIFFERENCES]
        found.append(FieldDifference("mailboxes (more)", None, f"{rest} more differences"))
    return found


def _mailboxes(row: WorkspaceRow) -> dict[Any, dict[str, Any]] | None:
    boxes = getattr(row, "mailboxes", None)
    if boxes is None:
        return None
    out: dict[Any, dict[str, Any]] = {}
    for box in boxes:
        if dataclasses.is_dataclass(box) and not isinstance(box, type):
            item = dataclasses.asdict(box)
        else:
            item = dict(box)
        out[item.get("id", item.get("address"))] = item
    return out


def _same(a: Any, b: Any) -> bool:
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
