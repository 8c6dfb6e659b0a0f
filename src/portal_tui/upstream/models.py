"""Pydantic models of the Email Bison payloads, exactly the fields SPEC section 1 reads.

Numbers arrive as JSON numbers or, on some instances, as numeric strings;
both are accepted. Anything else (a missing field, ``null`` where a count
belongs, text that is not a number) is a validation error, never a zero.

Plausibility is checked here, so no impossible number reaches a dashboard,
a total or the records: a count is an integer within ±:data:`MAX_COUNT`, a
percentage a finite number within ±:data:`MAX_PERCENT` (NaN, Infinity,
``"-inf"``, ``1e309``, 150 are refused). Each refusal is a validation error
with the field, the bound expected and the value sent; nothing is clamped.
The sign is left to each dashboard, as the SPEC has it: Volume warns about a
negative count where KPI rejects the row (and a percentage of a negative
count is negative).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

MAX_COUNT = 1_000_000_000
"""Largest count believed, per workspace and date window or per mailbox (a billion
emails in a month is far beyond any sending platform); beyond it the upstream is broken."""

MAX_PERCENT = 10_000.0
"""The ceiling of a ``*_percentage``'s size. Most are a part of their whole and stay
within 100, but ``opened`` counts every open, so ``opened_percentage`` of the leads
contacted passes 100 on a healthy campaign: the bound refuses only what no campaign
sends (100 opens per contact), never a real reading (the stats-percent consistency
rule checks each against its counts)."""


def _not_finite() -> PydanticCustomError:
    # Its own error (a range error), before any bound: NaN compares false with both.
    return PydanticCustomError("finite_number", "Input should be a finite number")


def _numeric_string_to_int(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return value  # let pydantic report invalid_type with the original value
        if not math.isfinite(number):
            raise _not_finite()
        if number == int(number):
            return int(text) if text.lstrip("+-").isdigit() else int(number)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _not_finite()
        if value == int(value):
            return int(value)
    return value


def _numeric_string_to_float(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().rstrip("%").replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return value
        if not math.isfinite(number):
            raise _not_finite()
        return number
    if isinstance(value, float) and not math.isfinite(value):
        raise _not_finite()
    return value


Id = Annotated[int, BeforeValidator(_numeric_string_to_int)]
"""An identifier that may arrive as a numeric string."""

Count = Annotated[
    int, BeforeValidator(_numeric_string_to_int), Field(ge=-MAX_COUNT, le=MAX_COUNT)
]
"""An integer count (within ±:data:`MAX_COUNT`) that may arrive as a numeric string."""

Percent = Annotated[
    float,
    BeforeValidator(_numeric_string_to_float),
    Field(ge=-MAX_PERCENT, le=MAX_PERCENT, allow_inf_nan=False),
]
"""A finite percentage within ±:data:`MAX_PERCENT` that may arrive as a numeric string."""


class ApiModel(BaseModel):
    """Base for payload models: unknown fields are kept (schema drift is observed, not fatal)."""

    # defer_build: built at the first response, not at import (the console's start-up).
    model_config = ConfigDict(extra="allow", frozen=True, strict=False, defer_build=True)


class ApiWorkspace(ApiModel):
    """One entry of ``GET /workspaces/v1.1``."""

    id: Id
    name: str
    personal_team: bool = False
    main: bool = False
    parent_id: Id | None = None
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

    id: Id
    name: str
    status: str
    daily_limit: Count
    emails_being_sent: Count


class SenderTag(ApiModel):
    """A tag on a sender email; reseller and provider are read from these."""

    id: Id
    name: str
    default: bool = False


class SenderEmail(ApiModel):
    """One mailbox of ``GET /sender-emails``."""

    id: Id
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
