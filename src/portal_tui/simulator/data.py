"""What the simulated instance holds: workspaces, their days, schedules and mailboxes.

Two kinds of workspace satisfy :class:`WorkspaceData`:

- :class:`SimWorkspace`, built by hand with explicit numbers, so a test can
  compute the expected dashboard values with a pencil;
- :class:`~portal_tui.simulator.generate.GeneratedWorkspace`, seeded and lazy,
  for the demo, end-to-end tests and benchmarks.

Percentages of the stats endpoint (decision, documented here once): counts
of *events* (``opened``, ``bounced``) are a percent of ``emails_sent``; counts
of *contacts* (``unique_opens_per_contact``, ``unique_replies_per_contact``,
``unsubscribed``, ``interested``) are a percent of ``total_leads_contacted``.
Rounded to 2 decimals; 0 when the base is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

ScheduleDay = Literal["today", "tomorrow"]

PERCENT_BASE: Mapping[str, str] = {
    "opened": "emails_sent",
    "unique_opens_per_contact": "total_leads_contacted",
    "unique_replies_per_contact": "total_leads_contacted",
    "bounced": "emails_sent",
    "unsubscribed": "total_leads_contacted",
    "interested": "total_leads_contacted",
}
"""For each count with a ``*_percentage`` field, the count it is a percent of."""

DEFAULT_TIMESTAMP = "2025-01-06T09:00:00.000000Z"


@dataclass(frozen=True, slots=True)
class DayStats:
    """One workspace's counts for one day (or, summed, for a window)."""

    emails_sent: int = 0
    total_leads_contacted: int = 0
    opened: int = 0
    unique_opens_per_contact: int = 0
    unique_replies_per_contact: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    interested: int = 0

    def __add__(self, other: DayStats) -> DayStats:
        # Spelled out: this runs once per day of every stats window served.
        return DayStats(
            self.emails_sent + other.emails_sent,
            self.total_leads_contacted + other.total_leads_contacted,
            self.opened + other.opened,
            self.unique_opens_per_contact + other.unique_opens_per_contact,
            self.unique_replies_per_contact + other.unique_replies_per_contact,
            self.bounced + other.bounced,
            self.unsubscribed + other.unsubscribed,
            self.interested + other.interested,
        )

    def scaled(self, fraction: float) -> DayStats:
        """Every count times ``fraction``, rounded down (a day still in progress)."""
        return DayStats(*(int(getattr(self, f.name) * fraction) for f in fields(self)))

    def payload(self) -> dict[str, int | float]:
        """``data`` of the stats endpoint: the counts and their ``*_percentage`` fields."""
        out: dict[str, int | float] = {
            "emails_sent": self.emails_sent,
            "total_leads_contacted": self.total_leads_contacted,
        }
        for name, base_name in PERCENT_BASE.items():
            value: int = getattr(self, name)
            base: int = getattr(self, base_name)
            out[name] = value
            out[f"{name}_percentage"] = round(value * 100.0 / base, 2) if base else 0.0
        return out


ZERO_DAY = DayStats()


@dataclass(frozen=True, slots=True)
class SimTag:
    """A sender-email tag (reseller, provider or health marker)."""

    id: int
    name: str
    default: bool = False

    def payload(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "name": self.name, "default": self.default}


@dataclass(frozen=True, slots=True)
class SimSchedule:
    """One campaign of a day's sending schedule."""

    id: int
    name: str
    status: str = "active"
    daily_limit: int = 0
    emails_being_sent: int = 0

    def payload(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "daily_limit": self.daily_limit,
            "emails_being_sent": self.emails_being_sent,
        }


_KNOWN_TAG_IDS = {"CheapInboxes": 11, "Zapmail": 12, "Mailr": 13, "ScaledMail": 14, "Google": 15}


def tag(name: str) -> SimTag:
    """A tag by name with a stable id (handy for hand-built mailboxes)."""
    known = _KNOWN_TAG_IDS.get(name)
    if known is not None:
        return SimTag(known, name)
    return SimTag(100 + sum(name.encode()) % 900, name)


@dataclass(frozen=True, slots=True)
class SimMailbox:
    """One sender email. ``tags`` may be given as names; they become :class:`SimTag`."""

    id: int
    email: str
    name: str | None = None
    status: str = "Connected"
    daily_limit: int = 30
    type: str = "imap_smtp"
    warmup_enabled: bool = True
    tags: Sequence[SimTag | str] = ()
    emails_sent_count: int = 0
    total_replied_count: int = 0
    unique_replied_count: int = 0
    bounced_count: int = 0
    total_opened_count: int = 0
    unique_opened_count: int = 0
    total_leads_contacted_count: int = 0
    interested_leads_count: int = 0
    unsubscribed_count: int = 0
    created_at: str = DEFAULT_TIMESTAMP
    updated_at: str = DEFAULT_TIMESTAMP

    def payload(self, *, email: str | None = None) -> dict[str, Any]:
        """JSON form; ``email`` overrides the address (the duplicates fault)."""
        return {
            "id": self.id,
            "email": self.email if email is None else email,
            "name": self.name,
            "status": self.status,
            "daily_limit": self.daily_limit,
            "type": self.type,
            "warmup_enabled": self.warmup_enabled,
            "tags": [(t if isinstance(t, SimTag) else tag(t)).payload() for t in self.tags],
            "emails_sent_count": self.emails_sent_count,
            "total_replied_count": self.total_replied_count,
            "unique_replied_count": self.unique_replied_count,
            "bounced_count": self.bounced_count,
            "total_opened_count": self.total_opened_count,
            "unique_opened_count": self.unique_opened_count,
            "total_leads_contacted_count": self.total_leads_contacted_count,
            "interested_leads_count": self.interested_leads_count,
            "unsubscribed_count": self.unsubscribed_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class WorkspaceData(Protocol):
    """What the endpoints need from one workspace, however it was made."""

    @property
    def id(self) -> int:
        """Workspace (team) id."""
        ...

    @property
    def name(self) -> str:
        """Workspace name, unique in the dataset."""
        ...

    @property
    def token(self) -> str:
        """This workspace's api-user token."""
        ...

    @property
    def mailbox_count(self) -> int:
        """How many sender emails the workspace has."""
        ...

    def day_stats(self, day: date, now: datetime) -> DayStats:
        """The counts of ``day`` as seen at ``now``."""
        ...

    def schedules(self, which: ScheduleDay, day: date) -> Sequence[SimSchedule]:
        """The sending schedule for ``which`` (``today``/``tomorrow``), i.e. calendar ``day``."""
        ...

    def mailboxes(self, start: int, stop: int) -> Sequence[SimMailbox]:
        """Sender emails ``start`` (inclusive) to ``stop`` (exclusive), in id order."""
        ...

    def payload(self) -> dict[str, Any]:
        """The workspace's entry in ``GET /workspaces/v1.1``."""
        ...


class SimWorkspace:
    """A workspace built by hand; every number is explicit.

    ``daily`` maps a date to its counts (absent days are zero). ``schedules``
    maps ``"today"``/``"tomorrow"`` or a concrete date to campaigns; a date
    key wins over the word. ``token`` defaults to ``sim-ws-<id>-token``.
    """

    def __init__(
        self,
        id: int,
        name: str,
        *,
        daily: Mapping[date, DayStats] | None = None,
        schedules: Mapping[str | date, Sequence[SimSchedule]] | None = None,
        mailboxes: Sequence[SimMailbox] = (),
        token: str | None = None,
        created_at: str = DEFAULT_TIMESTAMP,
    ) -> None:
        self.id = id
        self.name = name
        self.daily: dict[date, DayStats] = dict(daily or {})
        self.schedules_by_day: dict[str | date, Sequence[SimSchedule]] = dict(schedules or {})
        self.mailbox_list: list[SimMailbox] = list(mailboxes)
        self.token = token or f"sim-ws-{id}-token"
        self.created_at = created_at

    def __repr__(self) -> str:
        return f"SimWorkspace(id={self.id}, name={self.name!r}, mailboxes={len(self.mailbox_list)})"

    @property
    def mailbox_count(self) -> int:
        """How many sender emails the workspace has."""
        return len(self.mailbox_list)

    def day_stats(self, day: date, now: datetime) -> DayStats:
        """Explicit counts; ``now`` is ignored (hand-built days are final)."""
        return self.daily.get(day, ZERO_DAY)

    def schedules(self, which: ScheduleDay, day: date) -> Sequence[SimSchedule]:
        """Campaigns for ``day`` (date key first, then ``which``)."""
        if day in self.schedules_by_day:
            return self.schedules_by_day[day]
        return self.schedules_by_day.get(which, ())

    def mailboxes(self, start: int, stop: int) -> Sequence[SimMailbox]:
        """A slice of the explicit mailbox list."""
        return self.mailbox_list[start:stop]

    def payload(self) -> dict[str, Any]:
        """Entry in the workspace list."""
        return workspace_payload(self.id, self.name, self.created_at)


def workspace_payload(workspace_id: int, name: str, created_at: str) -> dict[str, Any]:
    """The JSON of one ``GET /workspaces/v1.1`` entry."""
    return {
        "id": workspace_id,
        "name": name,
        "personal_team": False,
        "main": False,
        "parent_id": None,
        "created_at": created_at,
        "updated_at": created_at,
    }


def stats_between(workspace: WorkspaceData, start: date, end: date, now: datetime) -> DayStats:
    """Sum of the days ``start`` .. ``end`` inclusive: what the stats endpoint reports."""
    total = ZERO_DAY
    day = start
    while day <= end:
        total = total + workspace.day_stats(day, now)
        day += timedelta(days=1)
    return total


DEFAULT_MASTER_TOKEN = "sim-master-token"


class Dataset:
    """Every workspace of one simulated instance, plus its master (super-admin) token."""

    def __init__(
        self,
        workspaces: Iterable[WorkspaceData],
        *,
        master_token: str = DEFAULT_MASTER_TOKEN,
        seed: int = 0,
    ) -> None:
        self.workspaces: list[WorkspaceData] = list(workspaces)
        self.master_token = master_token
        self.seed = seed
        self._by_id: dict[int, WorkspaceData] = {}
        self._by_token: dict[str, WorkspaceData] = {}
        self._index: dict[int, int] = {}
        for position, workspace in enumerate(self.workspaces):
            if workspace.id in self._by_id:
                raise ValueError(f"duplicate workspace id {workspace.id}")
            if workspace.token in self._by_token or workspace.token == master_token:
                raise ValueError(f"workspace {workspace.id} reuses another workspace's token")
            self._by_id[workspace.id] = workspace
            self._by_token[workspace.token] = workspace
            self._index[workspace.id] = position

    def __len__(self) -> int:
        return len(self.workspaces)

    def workspace(self, workspace_id: int) -> WorkspaceData:
        """The workspace with ``workspace_id``; :class:`KeyError` if none."""
        return self._by_id[workspace_id]

    def get(self, workspace_id: int) -> WorkspaceData | None:
        """The workspace with ``workspace_id``, or None."""
        return self._by_id.get(workspace_id)

    def by_token(self, token: str) -> WorkspaceData | None:
        """The workspace an api-user token belongs to (None for master or unknown)."""
        return self._by_token.get(token)

    def is_master(self, token: str) -> bool:
        """Whether ``token`` is this instance's super-admin token."""
        return token == self.master_token

    def token_label(self, token: str) -> str:
        """A printable name for a token (``master``, ``api-user:<id>``, ``unknown``)."""
        if token == self.master_token:
            return "master"
        owner = self._by_token.get(token)
        return f"api-user:{owner.id}" if owner is not None else "unknown"

    def neighbour(self, workspace_id: int) -> WorkspaceData | None:
        """The next workspace in list order (wrapping), or None if there is only one."""
        if len(self.workspaces) < 2 or workspace_id not in self._index:
            return None
        return self.workspaces[(self._index[workspace_id] + 1) % len(self.workspaces)]

    @property
    def mailbox_total(self) -> int:
        """Sender emails across every workspace."""
        return sum(w.mailbox_count for w in self.workspaces)

    def tokens(self) -> dict[int, str]:
        """Workspace id to api-user token (for test and demo wiring; never print these)."""
        return {w.id: w.token for w in self.workspaces}
