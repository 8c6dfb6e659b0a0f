"""Infrastructure's rows: one per mailbox, one per workspace carrying its mailboxes.

Each mailbox becomes a :class:`MailboxRow`, a slotted dataclass rather than a
pydantic model: at 50,000 mailboxes per-mailbox validation would be the
slowest part of the cycle, and the payload was validated when it was parsed.
(Not ``frozen``: a frozen dataclass's ``__init__`` costs six times as much;
treat rows as read-only.) The workspace row, :class:`InfrastructureRow`, is a
pydantic model carrying its mailboxes. Also here: how a mailbox's provider is
read from its tags and type, and the small text helpers its warnings share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from pydantic import (
    Field,
    SerializationInfo,
    SkipValidation,
    field_serializer,
    field_validator,
)

from portal_tui.dashboards.base import WorkspaceRow

LISTED = 5
"""Addresses named in one warning; the rest are counted."""

_PROVIDER_TAGS = {
    "google": "Google",
    "gmail": "Google",
    "google workspace": "Google",
    "gsuite": "Google",
    "g suite": "Google",
    "microsoft": "Microsoft",
    "microsoft 365": "Microsoft",
    "outlook": "Microsoft",
    "office365": "Microsoft",
    "office 365": "Microsoft",
    "o365": "Microsoft",
}


def provider_of(tags: Iterable[str], mailbox_type: str | None) -> str:
    """Provider from tag names (any case), else from the sender's ``type`` (see module doc)."""
    folded = [t.strip().casefold() for t in tags]
    found = {_PROVIDER_TAGS[t] for t in folded if t in _PROVIDER_TAGS}
    if found:
        return min(found)
    kind = (mailbox_type or "").casefold()
    if "google" in kind or "gmail" in kind:
        return "Google"
    if "microsoft" in kind or "outlook" in kind or "office" in kind:
        return "Microsoft"
    if "smtp" in kind or "imap" in kind:
        return "SMTP"
    return "Unknown"


def is_connected(status: str) -> bool:
    """True for the ``Connected`` status (any case, surrounding spaces ignored)."""
    return status.strip().casefold() == "connected"


def percent(part: int, whole: int) -> float:
    """``part / whole * 100``, or 0 when ``whole`` is 0."""
    return part / whole * 100 if whole > 0 else 0.0


def listing(items: Sequence[str], limit: int = LISTED) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def plural(count: int, word: str) -> str:
    """``1 mailbox``, ``3 mailboxes``."""
    return f"{count} {word}{'es' if count != 1 else ''}"


@dataclass(slots=True)
class MailboxRow:
    """One sender email as the Infrastructure pane shows it."""

    id: int
    address: str
    workspace: str
    status: str
    daily_limit: int
    sent: int
    replied: int
    """``total_replied_count``."""
    unique_replied: int
    bounced: int
    reply_rate: float
    """``unique_replied / sent * 100``; 0 when nothing was sent."""
    provider: str
    reseller: str | None
    price: float
    needs_review: bool
    """Price unknown (no reseller tag): "pricing needs review"."""
    domain_share: int = 0
    """Mailboxes splitting a per-domain price, this one included; 0 when priced per mailbox."""

    @property
    def connected(self) -> bool:
        """True when the status is ``Connected``."""
        return is_connected(self.status)


MAILBOX_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MailboxRow))
"""Column order of the compact mailbox form (see :class:`InfrastructureRow`)."""

_mailbox_values = attrgetter(*MAILBOX_FIELDS)


class InfrastructureRow(WorkspaceRow):
    """One workspace on the Infrastructure pane (and in ``check --json``).

    ``mailboxes`` holds every :class:`MailboxRow`; dump with
    ``exclude={"mailboxes"}`` for the workspace summary alone. Mailboxes dump
    as a list of objects, or, with ``context={"snapshot": True}`` (the SQLite
    snapshot), as ``{"fields": [...], "rows": [[...], ...]}``: at 50,000
    mailboxes the field names repeated in every object were more than half
    the snapshot, and every byte is dumped, hashed, checked and written each
    cycle. Both forms load back.
    """

    complete: bool = Field(description="Every page arrived and the count matches meta.total.")
    mailbox_count: int = Field(ge=0)
    expected_mailboxes: int | None = Field(description="meta.total, when known.")
    pages_fetched: int = Field(ge=0)
    connected: int = Field(ge=0)
    not_connected: int = Field(ge=0)
    status_counts: dict[str, int] = Field(description="Mailboxes per status as sent.")
    daily_capacity: int = Field(description="Sum of daily limits, every mailbox.")
    connected_daily_capacity: int = Field(description="Sum of daily limits, Connected only.")
    emails_sent: int
    unique_replied: int
    bounced: int
    reply_rate: float = Field(description="unique replies / sent * 100 over all mailboxes.")
    bounce_rate: float = Field(description="bounced / sent * 100 over all mailboxes.")
    zero_reply_mailboxes: int = Field(ge=0, description="0% reply after >= 50 sent.")
    mailbox_cost: float = Field(ge=0.0, description="Sum of mailbox prices, in cents.")
    needs_review: int = Field(ge=0, description="Mailboxes with unknown price.")
    mailboxes: SkipValidation[tuple[MailboxRow, ...]] = Field(default=(), repr=False)

    @field_validator("mailboxes", mode="before")
    @classmethod
    def _mailboxes_from_json(cls, value: Any) -> Any:
        # Validation is skipped for speed, but a snapshot restored from SQLite brings
        # plain dicts: without this, the first kept row after a restart crashed summarize().
        if isinstance(value, dict) and "fields" in value and "rows" in value:
            names = list(value["fields"])
            if names == list(MAILBOX_FIELDS):
                return tuple(MailboxRow(*item) for item in value["rows"])
            return tuple(
                MailboxRow(**dict(zip(names, item, strict=True))) for item in value["rows"]
            )
        if isinstance(value, list | tuple) and value and isinstance(value[0], dict):
            return tuple(MailboxRow(**item) for item in value)
        return value

    @field_serializer("mailboxes")
    def _mailboxes_to_json(self, value: tuple[MailboxRow, ...], info: SerializationInfo) -> Any:
        context = info.context
        if isinstance(context, dict) and context.get("snapshot"):
            return {"fields": MAILBOX_FIELDS, "rows": [_mailbox_values(m) for m in value]}
        return [dict(zip(MAILBOX_FIELDS, _mailbox_values(m), strict=True)) for m in value]
