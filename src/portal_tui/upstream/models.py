"""Pydantic models of the Email Bison payloads, exactly the fields SPEC section 1 reads.

Numbers arrive as JSON numbers or, on some instances, as numeric strings;
both are accepted. Anything else (a missing field, ``null`` where a count
belongs, text that is not a number) is a validation error, never a zero.
Sign and range rules belong to each dashboard, not here: Volume warns about
a negative count where KPI rejects the row.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _numeric_string_to_int(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return value  # let pydantic report invalid_type with the original value
        if math.isfinite(number) and number == int(number):
            return int(number)
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _numeric_string_to_float(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().rstrip("%").replace(",", "")
        try:
            return float(text)
        except ValueError:
            return value
    return value


Count = Annotated[int, BeforeValidator(_numeric_string_to_int)]
"""An integer count that may arrive as a numeric string."""

Percent = Annotated[float, BeforeValidator(_numeric_string_to_float)]
"""A percentage that may arrive as a numeric string."""


class ApiModel(BaseModel):
    """Base for payload models: unknown fields are kept (schema drift is observed, not fatal)."""

    # defer_build: built at the first response, not at import (the console's start-up).
    model_config = ConfigDict(extra="allow", frozen=True, strict=False, defer_build=True)


class ApiWorkspace(ApiModel):
    """One entry of ``GET /workspaces/v1.1``."""

    id: Count
    name: str
    personal_team: bool = False
    main: bool = False
    parent_id: Count | None = None
    created_at: str | None = None
    updated_at: str | None = None


class WorkspaceStats(ApiModel):
    """``data`` of ``GET /workspaces/v1.1/stats`` for one date window."""

    emails_sent: Count
    total_leads_contacted: Count
    opened: Count
    opened_percentage: Percent
    unique_opens_per_contact: Count
    unique_opens_per_contact_percentage: Percent
    unique_replies_per_contact: Count
    unique_replies_per_contact_percentage: Percent
    bounced: Count
    bounced_percentage: Percent
    unsubscribed: Count
    unsubscribed_percentage: Percent
    interested: Count
    interested_percentage: Percent


class SendingSchedule(ApiModel):
    """One campaign of ``GET /campaigns/sending-schedules``."""

    id: Count
    name: str
    status: str
    daily_limit: Count
    emails_being_sent: Count


class SenderTag(ApiModel):
    """A tag on a sender email; reseller and provider are read from these."""

    id: Count
    name: str
    default: bool = False


class SenderEmail(ApiModel):
    """One mailbox of ``GET /sender-emails``."""

    id: Count
    email: str
    name: str | None = None
    status: str
    daily_limit: Count
    type: str | None = None
    warmup_enabled: bool = False
    tags: list[SenderTag] = []
    emails_sent_count: Count
    total_replied_count: Count
    unique_replied_count: Count
    bounced_count: Count
    total_opened_count: Count = 0
    unique_opened_count: Count = 0
    total_leads_contacted_count: Count = 0
    interested_leads_count: Count = 0
    unsubscribed_count: Count = 0
    created_at: str | None = None
    updated_at: str | None = None


class PageLinks(ApiModel):
    """``links`` of a paginated response: absolute URLs or null."""

    first: str | None = None
    last: str | None = None
    prev: str | None = None
    next: str | None = None


class PageMeta(ApiModel):
    """``meta`` of a paginated response."""

    current_page: Count
    last_page: Count
    per_page: Count
    total: Count


class WorkspacesResponse(ApiModel):
    """Envelope of ``GET /workspaces/v1.1``."""

    data: list[ApiWorkspace]


class StatsResponse(ApiModel):
    """Envelope of ``GET /workspaces/v1.1/stats``."""

    data: WorkspaceStats


class SchedulesResponse(ApiModel):
    """Envelope of ``GET /campaigns/sending-schedules``."""

    data: list[SendingSchedule]


class SenderEmailPage(ApiModel):
    """One page of ``GET /sender-emails``."""

    data: list[SenderEmail]
    links: PageLinks = PageLinks()
    meta: PageMeta


class SwitchResponse(ApiModel):
    """Reply of ``POST /workspaces/v1.1/switch-workspace``; only the status matters."""
