"""Seeded, lazy generation of a plausible agency instance.

Building a dataset only decides each workspace's id, name, token, volume
profile and mailbox count (microseconds each), so 1,000 workspaces with
50,000 mailboxes build in milliseconds. Days, schedules and mailboxes are
computed when asked, each from ``hash(seed, workspace, key)``, so any date
window works and a page of mailboxes costs only that page.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from portal_tui.simulator import seeded
from portal_tui.simulator.data import (
    ZERO_DAY,
    Dataset,
    DayStats,
    ScheduleDay,
    SimMailbox,
    SimSchedule,
    SimTag,
    tag,
    workspace_payload,
)

DEFAULT_SEED = 20261121
DEFAULT_WORKSPACES = 27
DEFAULT_MAILBOXES_PER_WORKSPACE = 150


class VolumeProfile(StrEnum):
    """How much a workspace sends on a typical weekday."""

    ZERO = "zero"  # a paused client: dashboards must handle "nothing sent"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    HUGE = "huge"


_PROFILE_VOLUME = {
    VolumeProfile.ZERO: 0,
    VolumeProfile.SMALL: 300,
    VolumeProfile.MEDIUM: 1500,
    VolumeProfile.LARGE: 5000,
    VolumeProfile.HUGE: 14000,
}

# Cold email barely goes out at weekends; Monday is index 0.
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.95, 0.1, 0.05)

_PREFIXES = (
    "North", "Blue", "Bright", "Summit", "Iron", "Silver", "Clear", "Red", "Green", "High",
    "Swift", "True", "Bold", "Prime", "Stone", "Oak", "Pine", "Cedar", "Maple", "Harbor",
    "River", "Lake", "Sun", "Star", "Cloud", "Storm", "Frost", "Ember", "Golden", "Crystal",
    "Atlas", "Apex", "Vertex", "Nova", "Orbit", "Pioneer", "Granite", "Copper", "Cobalt", "Velvet",
    "Arrow", "Falcon", "Eagle", "Fox", "Wolf", "Bear", "Lion", "Otter", "Raven", "Heron",
)  # fmt: skip
_CORES = (
    "peak", "ridge", "field", "gate", "bridge", "works", "point", "line", "stack", "path",
    "forge", "mark", "wave", "leaf", "crest", "vale", "brook", "stone", "haven", "way",
    "light", "scale", "spring", "port", "view", "craft", "base", "shift", "loop", "hub",
    "lane", "yard", "wood", "mill", "tower", "sail", "beam", "spark", "root", "grove",
)  # fmt: skip
_SUFFIXES = (
    "Growth", "Labs", "Media", "Digital", "Partners", "Solutions", "Group", "Ventures",
    "Consulting", "Systems",
)  # fmt: skip
_FIRST_NAMES = (
    "james", "mary", "john", "linda", "robert", "sarah", "michael", "emma", "david", "olivia",
    "daniel", "sophia", "matthew", "ava", "andrew", "mia", "joshua", "amelia", "ryan", "grace",
    "nathan", "chloe", "adam", "lily", "lucas", "ella", "owen", "zoe", "liam", "hannah",
    "noah", "isla", "ethan", "ruby", "jack", "lucy", "henry", "alice", "leo", "ivy",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "johnson", "brown", "taylor", "miller", "wilson", "moore", "clark", "lewis", "walker",
    "hall", "young", "king", "wright", "scott", "green", "baker", "adams", "nelson", "hill",
)  # fmt: skip
_DOMAIN_PREFIXES = ("", "get", "try", "use", "hello")
_CAMPAIGN_THEMES = (
    "Outbound", "Founders", "Re-engage", "Webinar invite", "Case study", "Agencies", "SaaS CFOs",
    "Series A", "Ecommerce", "Local services", "Recruiters", "Partnerships",
)  # fmt: skip

# Reseller of a domain: (cumulative weight, tag name). Unknown resellers exist
# so the Infrastructure pane sees "pricing needs review".
_RESELLERS = (
    (0.30, "Google"),
    (0.50, "CheapInboxes"),
    (0.68, "Zapmail"),
    (0.82, "Mailr"),
    (0.94, "ScaledMail"),
    (0.97, "InboxKit"),
    (1.00, "MailForge"),
)
_HEALTHY = SimTag(21, "healthy")
_WARMING = SimTag(22, "warming")
_EPOCH = date(2024, 6, 1)


def _pick_reseller(u: float) -> str:
    for limit, name in _RESELLERS:
        if u < limit:
            return name
    return _RESELLERS[-1][1]


def _stamp(day: date, seconds: int) -> str:
    moment = datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


@lru_cache(maxsize=65_536)
def _full_day(seed: int, workspace_id: int, volume: int, ordinal: int) -> DayStats:
    """A whole day's counts; cached because windows overlap (MTD, 7 d, 30 d)."""
    if volume == 0:
        return ZERO_DAY
    day = date.fromordinal(ordinal)
    u = seeded.units(seed, "day", workspace_id, ordinal)
    sent = round(volume * WEEKDAY_FACTOR[day.weekday()] * (0.85 + 0.3 * u[0]))
    leads = round(sent * (0.55 + 0.2 * u[1]))
    replies = round(leads * (0.01 + 0.025 * u[4]))
    return DayStats(
        emails_sent=sent,
        total_leads_contacted=leads,
        opened=round(sent * (0.2 + 0.3 * u[2])),
        unique_opens_per_contact=round(leads * (0.25 + 0.2 * u[3])),
        unique_replies_per_contact=replies,
        bounced=round(sent * (0.005 + 0.03 * u[5])),
        unsubscribed=round(leads * 0.008 * u[6]),
        interested=round(replies * (0.15 + 0.3 * u[7])),
    )


@dataclass(frozen=True, slots=True)
class GeneratedWorkspace:
    """A seeded workspace whose days, schedules and mailboxes are computed on demand."""

    seed: int
    id: int
    name: str
    token: str
    profile: VolumeProfile
    daily_volume: int
    """Typical weekday emails sent (0 for :attr:`VolumeProfile.ZERO`)."""
    mailbox_count: int
    first_mailbox_id: int
    slug: str
    created_at: str

    def day_stats(self, day: date, now: datetime) -> DayStats:
        """The day's counts; future days are zero, today counts the part of the day gone by."""
        today = now.astimezone(UTC).date()
        if day > today:
            return ZERO_DAY
        full = _full_day(self.seed, self.id, self.daily_volume, day.toordinal())
        if day < today:
            return full
        midnight = datetime.combine(today, time(), tzinfo=UTC)
        return full.scaled((now - midnight).total_seconds() / 86400.0)

    def schedules(self, which: ScheduleDay, day: date) -> Sequence[SimSchedule]:
        """A few campaigns; the plan for ``tomorrow`` on day D is the plan for ``today`` on D+1."""
        u = seeded.units(self.seed, "campaigns", self.id)
        count = 1 + int(u[0] * 4)
        weights = [0.5 + u[1 + i] for i in range(count)]
        total_weight = sum(weights)
        factor = WEEKDAY_FACTOR[day.weekday()]
        out: list[SimSchedule] = []
        for index, weight in enumerate(weights):
            share = weight / total_weight
            active = (
                self.daily_volume > 0 and seeded.unit(self.seed, "c-status", self.id, index) < 0.85
            )
            noise = seeded.unit(self.seed, "c-day", self.id, index, day.toordinal())
            limit = max(50, math.ceil(self.daily_volume * share * 1.25 / 50) * 50)
            sending = (
                round(self.daily_volume * share * factor * (0.85 + 0.3 * noise)) if active else 0
            )
            theme = _CAMPAIGN_THEMES[(self.id + index * 5) % len(_CAMPAIGN_THEMES)]
            out.append(
                SimSchedule(
                    id=self.id * 1000 + index + 1,
                    name=f"{theme} #{index + 1}",
                    status="active" if active else "paused",
                    daily_limit=limit,
                    emails_being_sent=min(sending, limit),
                )
            )
        return out

    def mailboxes(self, start: int, stop: int) -> Sequence[SimMailbox]:
        """Mailboxes ``start`` .. ``stop - 1`` (clamped to the workspace's count)."""
        return [self.mailbox(j) for j in range(max(0, start), min(stop, self.mailbox_count))]

    def mailbox(self, index: int) -> SimMailbox:
        """The ``index``-th mailbox (0-based), computed from the seed."""
        per_domain = 2 + int(seeded.unit(self.seed, "per-domain", self.id) * 4)
        domain_index, slot = divmod(index, per_domain)
        d = seeded.units(self.seed, "domain", self.id, domain_index)
        reseller = _pick_reseller(d[0])
        prefix = _DOMAIN_PREFIXES[domain_index % len(_DOMAIN_PREFIXES)]
        domain = f"{prefix}{self.slug}{domain_index // len(_DOMAIN_PREFIXES) + 1}.com"
        first = _FIRST_NAMES[(int(d[2] * len(_FIRST_NAMES)) + slot) % len(_FIRST_NAMES)]
        last = _LAST_NAMES[int(d[3] * len(_LAST_NAMES))]
        tags: list[SimTag] = [tag(reseller)]
        warming = False
        if reseller == "Google":
            if d[1] < 0.80:
                tags.append(_HEALTHY)
            elif d[1] < 0.95:
                tags.append(_WARMING)
                warming = True
            # else: Google without a health tag, so its price is unknown

        m = seeded.units(self.seed, "mailbox", self.id, index)
        n = seeded.units(self.seed, "mailbox-2", self.id, index)
        status = (
            "Connected" if m[0] < 0.90 else "Not connected" if m[0] < 0.95
            else "error" if m[0] < 0.975 else "disabled"
        )  # fmt: skip
        daily_limit = 5 + int(m[1] * 11) if warming else 15 + int(m[1] * 36)
        if self.daily_volume > 0:
            per_day = min(float(daily_limit), self.daily_volume / max(1, self.mailbox_count))
        else:
            per_day = daily_limit * 0.2 if m[5] < 0.5 else 0.0  # old sends of a paused client
        sent = round(per_day * (20 + int(m[3] * 180)) * (0.6 + 0.8 * m[4]))
        silent = m[6] < 0.06  # mailboxes with >= 50 sent and no reply at all
        if silent:
            sent = max(sent, 50 + int(m[7] * 400))
            unique_replied = 0
        else:
            unique_replied = round(sent * (0.004 + 0.03 * m[7]))
        leads = round(sent * 0.62)
        opened = round(sent * (0.2 + 0.4 * n[0]))
        created = _EPOCH + timedelta(days=int(n[5] * 500))
        return SimMailbox(
            id=self.first_mailbox_id + index,
            email=f"{first}@{domain}",
            name=f"{first.title()} {last.title()}",
            status=status,
            daily_limit=daily_limit,
            type="google_oauth" if reseller == "Google" else "imap_smtp",
            warmup_enabled=m[2] < 0.9,
            tags=tags,
            emails_sent_count=sent,
            total_replied_count=unique_replied + round(unique_replied * 0.3 * n[1]),
            unique_replied_count=unique_replied,
            bounced_count=round(sent * (0.003 + 0.04 * n[2])),
            total_opened_count=opened,
            unique_opened_count=round(opened * 0.7),
            total_leads_contacted_count=leads,
            interested_leads_count=round(unique_replied * (0.1 + 0.3 * n[3])),
            unsubscribed_count=round(leads * 0.003 * n[4]),
            created_at=_stamp(created, int(n[6] * 86400)),
            updated_at=_stamp(created + timedelta(days=int(n[7] * 60)), int(n[6] * 86400)),
        )

    def payload(self) -> dict[str, Any]:
        """Entry in the workspace list."""
        return workspace_payload(self.id, self.name, self.created_at)


def _names(seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` unique (display name, slug) pairs, company-like."""
    combos = len(_PREFIXES) * len(_CORES) * len(_SUFFIXES)
    rng = random.Random(seed)
    picks = rng.sample(range(combos), min(count, combos))
    out: list[tuple[str, str]] = []
    for i in range(count):
        code = picks[i % combos]
        prefix, rest = divmod(code, len(_CORES) * len(_SUFFIXES))
        core, suffix = divmod(rest, len(_SUFFIXES))
        stem = _PREFIXES[prefix] + _CORES[core]
        name = f"{stem} {_SUFFIXES[suffix]}"
        slug = (stem + _SUFFIXES[suffix]).lower()
        if i >= combos:  # more workspaces than combinations: number the repeats
            name += f" {i // combos + 1}"
            slug += str(i // combos + 1)
        out.append((name, slug))
    return out


def _spread(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights``, summing exactly (largest remainder)."""
    if not weights:
        return []
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    short = total - sum(counts)
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[:short]:
        counts[i] += 1
    return counts


def generate_dataset(
    workspaces: int = DEFAULT_WORKSPACES,
    *,
    seed: int = DEFAULT_SEED,
    mailboxes_total: int | None = None,
    mailboxes_per_workspace: int = DEFAULT_MAILBOXES_PER_WORKSPACE,
) -> Dataset:
    """A deterministic instance of ``workspaces`` client workspaces.

    Mailboxes: ``mailboxes_total`` spread unevenly over the workspaces, or
    about ``mailboxes_per_workspace`` each. Every ninth workspace (the 5th,
    14th, ...) sends nothing. Same arguments, same dataset, byte for byte.
    """
    if workspaces < 0:
        raise ValueError("workspaces must be >= 0")
    total = workspaces * mailboxes_per_workspace if mailboxes_total is None else mailboxes_total
    if total < 0:
        raise ValueError("mailboxes_total must be >= 0")
    shape = [seeded.units(seed, "workspace", i) for i in range(workspaces)]
    counts = _spread(total, [0.5 + u[0] for u in shape])
    names = _names(seed, workspaces)
    out: list[GeneratedWorkspace] = []
    next_id = 2  # id 1 is the agency's own team, which the list does not show
    first_mailbox = 1
    for i, u in enumerate(shape):
        if i % 9 == 4:
            profile = VolumeProfile.ZERO
        else:
            profile = (
                VolumeProfile.SMALL if u[1] < 0.15 else VolumeProfile.MEDIUM if u[1] < 0.62
                else VolumeProfile.LARGE if u[1] < 0.92 else VolumeProfile.HUGE
            )  # fmt: skip
        volume = round(_PROFILE_VOLUME[profile] * (0.7 + 0.6 * u[2]) / 10) * 10
        name, slug = names[i]
        out.append(
            GeneratedWorkspace(
                seed=seed,
                id=next_id,
                name=name,
                token=f"{1000 + i}|{seeded.token_text(seed, 'workspace', next_id)}",
                profile=profile,
                daily_volume=volume,
                mailbox_count=counts[i],
                first_mailbox_id=first_mailbox,
                slug=slug,
                created_at=_stamp(_EPOCH + timedelta(days=int(u[4] * 300)), int(u[5] * 86400)),
            )
        )
        first_mailbox += counts[i]
        next_id += 1 + int(u[3] * 3)  # ids with gaps, as on a real instance
    master = f"1|{seeded.token_text(seed, 'master')}"
    return Dataset(out, master_token=master, seed=seed)
