"""The Email Bison endpoints themselves: routing, validation and payloads.

Pure functions of the request, the dataset and the time: no sleeping, no
counters, no transport. :mod:`portal_tui.simulator.core` decides auth and
faults around them. Error bodies mimic Laravel (``message`` and ``errors``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from portal_tui.simulator.data import (
    Dataset,
    DayStats,
    ScheduleDay,
    WorkspaceData,
    stats_between,
)
from portal_tui.simulator.faults import (
    CounterDecrease,
    DriftMode,
    DuplicateEmails,
    EarlyEnd,
    MalformedAddress,
    PercentSkew,
    SchemaDrift,
    VanishingWorkspaces,
)
from portal_tui.upstream.endpoints import Endpoint

API_PREFIX = "/api"
"""Every path is served under ``/api`` (an instance's ``base_url`` is ``https://HOST/api``)."""

DEFAULT_PER_PAGE = 15

_ROUTES: dict[str, tuple[Endpoint, str]] = {
    API_PREFIX + e.path: (e, "POST" if e is Endpoint.SWITCH_WORKSPACE else "GET") for e in Endpoint
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(slots=True)
class Reply:
    """What an endpoint answers, before faults touch the wire."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    html: bool = False
    """``payload`` is an HTML page (a proxy error), not JSON."""


def error(status: int, message: str, errors: Mapping[str, list[str]] | None = None) -> Reply:
    """A Laravel-style JSON error."""
    payload: dict[str, Any] = {"message": message}
    if errors:
        payload["errors"] = dict(errors)
    return Reply(status, payload)


def invalid(name: str, message: str) -> Reply:
    """422 for one bad input field."""
    return error(422, message, {name: [message]})


def route(method: str, path: str) -> Endpoint | Reply:
    """The endpoint at ``path``, or a 404/405 reply."""
    normalised = path.rstrip("/") or "/"
    found = _ROUTES.get(normalised)
    if found is None:
        return error(404, f"The route {normalised.lstrip('/')} could not be found.")
    endpoint, allowed = found
    if method.upper() != allowed:
        return Reply(
            405,
            {"message": f"The {method.upper()} method is not supported for route {normalised}."},
            {"Allow": allowed},
        )
    return endpoint


@dataclass(frozen=True, slots=True)
class PageFaults:
    """Data faults that change how sender-email pages are built."""

    empty: bool = False
    loop: bool = False
    early_end: EarlyEnd | None = None
    duplicates: DuplicateEmails | None = None
    malformed: MalformedAddress | None = None


def list_workspaces(
    dataset: Dataset, *, empty: bool = False, vanish: VanishingWorkspaces | None = None
) -> Reply:
    """``GET /workspaces/v1.1`` (``vanish``: without the last few)."""
    listed = [] if empty else [w.payload() for w in dataset.workspaces]
    if vanish is not None:
        gone = vanish.count if vanish.count is not None else (len(listed) + 1) // 2
        listed = listed[: max(0, len(listed) - gone)]
    return Reply(200, {"data": listed})


def parse_team_id(body: Any) -> int | Reply:
    """``team_id`` from the switch body (an int or a numeric string), or a 422."""
    value = body.get("team_id") if isinstance(body, dict) else None
    if value is None:
        return invalid("team_id", "The team id field is required.")
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        return invalid("team_id", "The team id field must be an integer.")
    return int(value)


def switched(workspace: WorkspaceData) -> Reply:
    """Reply of a successful switch."""
    return Reply(
        200,
        {"data": {"success": True, "message": "Workspace switched.", **workspace.payload()}},
    )


def _parse_date(query: Mapping[str, str], name: str) -> date | Reply:
    label = name.replace("_", " ")
    text = query.get(name, "").strip()
    if not text:
        return invalid(name, f"The {label} field is required.")
    if not _DATE.match(text):
        return invalid(name, f"The {label} field must match the format Y-m-d.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        return invalid(name, f"The {label} field must be a valid date.")


def stats(
    workspace: WorkspaceData,
    query: Mapping[str, str],
    now: datetime,
    *,
    empty: bool = False,
    lower: CounterDecrease | None = None,
    skews: Sequence[PercentSkew] = (),
) -> Reply:
    """``GET /workspaces/v1.1/stats?start_date&end_date``: the sum of the days, inclusive
    (``lower``: counts lowered before the percentages are computed from them; ``skews``:
    percentages moved afterwards)."""
    start = _parse_date(query, "start_date")
    if isinstance(start, Reply):
        return start
    end = _parse_date(query, "end_date")
    if isinstance(end, Reply):
        return end
    if end < start:
        return invalid(
            "end_date", "The end date field must be a date after or equal to start date."
        )
    if (end - start).days > 3660:
        return invalid("end_date", "The date range may not be longer than 10 years.")
    if empty:
        return Reply(200, {"data": []})  # PHP encodes an empty array as []
    total = stats_between(workspace, start, end, now)
    if lower is not None:
        total = _decreased(total, lower)
    reply = Reply(200, {"data": total.payload()})
    apply_percent_skew(reply.payload, list(skews))
    return reply


def _decreased(total: DayStats, fault: CounterDecrease) -> DayStats:
    names = [f.name for f in fields(DayStats)] if fault.field == "*" else [fault.field]
    lowered = {n: int(getattr(total, n) * fault.fraction) for n in names if hasattr(total, n)}
    return replace(total, **lowered)


def apply_percent_skew(payload: Any, skews: list[PercentSkew]) -> None:
    """Move ``<field>_percentage`` of a stats payload by each skew's points (in place)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return
    for skew in skews:
        name = f"{skew.field}_percentage"
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            data[name] = round(value + skew.points, 2)


def schedules(
    workspace: WorkspaceData, query: Mapping[str, str], today: date, *, empty: bool = False
) -> Reply:
    """``GET /campaigns/sending-schedules?day=today|tomorrow``."""
    text = query.get("day", "today").strip().lower()
    if text not in ("today", "tomorrow"):
        return invalid("day", "The selected day is invalid (use today or tomorrow).")
    which: ScheduleDay = "today" if text == "today" else "tomorrow"
    day = today if which == "today" else today + timedelta(days=1)
    rows = [] if empty else [s.payload() for s in workspace.schedules(which, day)]
    return Reply(200, {"data": rows})


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int | Reply:
    text = query.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return invalid(name, f"The {name.replace('_', ' ')} field must be an integer.")


def sender_emails(
    dataset: Dataset,
    workspace: WorkspaceData,
    query: Mapping[str, str],
    *,
    origin: str,
    max_per_page: int,
    faults: PageFaults = PageFaults(),
) -> Reply:
    """``GET /sender-emails?per_page&page``: one page, with absolute ``links`` and ``meta``."""
    per_page = _positive_int(query, "per_page", DEFAULT_PER_PAGE)
    if isinstance(per_page, Reply):
        return per_page
    page = _positive_int(query, "page", 1)
    if isinstance(page, Reply):
        return page
    per_page = max(1, min(per_page, max_per_page))  # the instance clamps, it does not refuse
    page = max(1, page)

    real_total = 0 if faults.empty else workspace.mailbox_count
    real_last = max(1, math.ceil(real_total / per_page))
    total = real_total
    if faults.early_end is not None:
        total += faults.early_end.extra if faults.early_end.extra is not None else 2 * per_page
    last_page = max(1, math.ceil(total / per_page))

    start = (page - 1) * per_page
    stop = min(start + per_page, real_total)
    rows = [m.payload() for m in workspace.mailboxes(start, stop)] if start < real_total else []
    if faults.duplicates is not None and rows:
        _duplicate(dataset, workspace, faults.duplicates, rows, start)
    if faults.malformed is not None:
        for offset, row in enumerate(rows[: max(0, faults.malformed.count - start)]):
            rows[offset]["email"] = str(row["email"]).replace("@", " at ")

    def link(n: int) -> str:
        return f"{origin}{API_PREFIX}{Endpoint.SENDER_EMAILS.path}?per_page={per_page}&page={n}"

    next_link: str | None = link(page + 1) if page < min(last_page, real_last) else None
    if faults.loop and page >= last_page:
        next_link = link(1)  # the loop: the last page points back at the first
    return Reply(
        200,
        {
            "data": rows,
            "links": {
                "first": link(1),
                "last": link(last_page),
                "prev": link(page - 1) if page > 1 else None,
                "next": next_link,
            },
            "meta": {
                "current_page": page,
                "from": start + 1 if rows else None,
                "last_page": last_page,
                "path": f"{origin}{API_PREFIX}{Endpoint.SENDER_EMAILS.path}",
                "per_page": per_page,
                "to": start + len(rows) if rows else None,
                "total": total,
            },
        },
    )


def _duplicate(
    dataset: Dataset,
    workspace: WorkspaceData,
    fault: DuplicateEmails,
    rows: list[dict[str, Any]],
    start: int,
) -> None:
    source = (
        dataset.get(fault.from_workspace)
        if fault.from_workspace is not None
        else dataset.neighbour(workspace.id)
    )
    if source is None or source.id == workspace.id:
        return
    stop = min(start + len(rows), fault.count)
    if stop <= start:
        return
    for offset, mailbox in enumerate(source.mailboxes(start, stop)):
        rows[offset]["email"] = mailbox.email


def apply_drift(payload: Any, drifts: list[SchemaDrift]) -> None:
    """Make every object in ``payload["data"]`` drift (in place)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    objects = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    for drift in drifts:
        for obj in objects:
            if isinstance(obj, dict):
                _drift_one(obj, drift)


def _drift_one(obj: dict[str, Any], drift: SchemaDrift) -> None:
    name = drift.field
    if drift.mode is DriftMode.MISSING:
        obj.pop(name, None)
    elif drift.mode is DriftMode.EXTRA:
        obj[name] = "unexpected new field"
    elif drift.mode is DriftMode.WRONG_TYPE:
        if name in obj:
            obj[name] = _wrong(obj[name])
    elif drift.mode is DriftMode.IMPLAUSIBLE:
        if name in obj:
            obj[name] = float("inf") if name.endswith("_percentage") else 10**25
    else:  # STRINGS
        names = list(obj) if name == "*" else [name] if name in obj else []
        for key in names:
            value = obj[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                obj[key] = str(value)


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, int | float) or value is None:
        return "n/a"
    if isinstance(value, str):
        return 12345
    return "oops"
