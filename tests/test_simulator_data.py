"""Simulator data: seeded generation, hand-built workspaces, stats sums, scale."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from portal_tui.simulator import (
    Dataset,
    DayStats,
    GeneratedWorkspace,
    SimMailbox,
    SimSchedule,
    SimWorkspace,
    VolumeProfile,
    generate_dataset,
    stats_between,
)
from portal_tui.simulator.data import PERCENT_BASE
from portal_tui.upstream.models import SenderEmail, SendingSchedule, WorkspaceStats

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TODAY = NOON.date()


def _generated(dataset: Dataset) -> list[GeneratedWorkspace]:
    out = [w for w in dataset.workspaces if isinstance(w, GeneratedWorkspace)]
    assert len(out) == len(dataset)
    return out


def _all_mailboxes(dataset: Dataset) -> list[tuple[int, SimMailbox]]:
    return [(w.id, m) for w in dataset.workspaces for m in w.mailboxes(0, w.mailbox_count)]


def test_same_seed_same_data_other_seed_other_data() -> None:
    one, two, other = generate_dataset(seed=5), generate_dataset(seed=5), generate_dataset(seed=6)
    assert [w.payload() for w in one.workspaces] == [w.payload() for w in two.workspaces]
    assert one.master_token == two.master_token and one.tokens() == two.tokens()
    for a, b in zip(one.workspaces, two.workspaces, strict=True):
        assert a.mailboxes(0, 40) == b.mailboxes(0, 40)
        assert a.day_stats(TODAY - timedelta(days=3), NOON) == b.day_stats(
            TODAY - timedelta(days=3), NOON
        )
        assert a.schedules("today", TODAY) == b.schedules("today", TODAY)
    assert [w.name for w in one.workspaces] != [w.name for w in other.workspaces]
    assert one.master_token != other.master_token


def test_default_dataset_shape() -> None:
    dataset = generate_dataset()
    workspaces = _generated(dataset)
    assert len(workspaces) == 27
    assert dataset.mailbox_total == 27 * 150
    ids = [w.id for w in workspaces]
    assert ids == sorted(set(ids)) and ids[0] > 1  # unique, increasing, with gaps
    assert len({w.name for w in workspaces}) == 27
    assert len({w.token for w in workspaces} | {dataset.master_token}) == 28
    zero = [w for w in workspaces if w.profile is VolumeProfile.ZERO]
    assert len(zero) == 3  # every ninth workspace sends nothing
    for workspace in zero:
        days = [workspace.day_stats(TODAY - timedelta(days=d), NOON) for d in range(40)]
        assert all(d == DayStats() for d in days)
        assert all(s.emails_being_sent == 0 for s in workspace.schedules("today", TODAY))
    busy = [w for w in workspaces if w.daily_volume > 0]
    assert all(stats_between(w, TODAY.replace(day=1), TODAY, NOON).emails_sent > 0 for w in busy)


def test_mailboxes_are_plausible_and_unique() -> None:
    dataset = generate_dataset()
    rows = _all_mailboxes(dataset)
    assert len(rows) == dataset.mailbox_total
    assert len({m.id for _, m in rows}) == len(rows)
    assert len({m.email for _, m in rows}) == len(rows)  # unique across workspaces too
    for _, mailbox in rows[:300]:
        SenderEmail.model_validate(mailbox.payload())
        local, _, domain = mailbox.email.partition("@")
        assert local.isalpha() and domain.endswith(".com")
    statuses = Counter(m.status for _, m in rows)
    assert statuses["Connected"] > 0.8 * len(rows)
    assert {"Not connected", "error", "disabled"} <= set(statuses)
    tags = Counter(str(getattr(t, "name", t)) for _, m in rows for t in m.tags)
    for name in ("CheapInboxes", "Zapmail", "Mailr", "ScaledMail", "Google", "healthy", "warming"):
        assert tags[name] > 0, name
    assert tags["InboxKit"] + tags["MailForge"] > 0  # unknown resellers exist
    silent = [m for _, m in rows if m.emails_sent_count >= 50 and m.unique_replied_count == 0]
    assert len(silent) > 50
    scaled = [m for _, m in rows if any(getattr(t, "name", t) == "ScaledMail" for t in m.tags)]
    domains = Counter(m.email.split("@")[1] for m in scaled)
    assert max(domains.values()) > 1  # ScaledMail's price is shared by a domain's mailboxes


def test_mailboxes_total_is_spread_exactly() -> None:
    dataset = generate_dataset(10, mailboxes_total=1003)
    counts = [w.mailbox_count for w in dataset.workspaces]
    assert sum(counts) == 1003 and len(set(counts)) > 1
    assert generate_dataset(3, mailboxes_total=0).mailbox_total == 0
    with pytest.raises(ValueError):
        generate_dataset(-1)


def test_scale_thousand_workspaces_fifty_thousand_mailboxes() -> None:
    # CPU time of this thread: a busy machine slows the wall clock, not the work.
    started = time.thread_time()
    dataset = generate_dataset(1000, mailboxes_total=50_000, seed=3)
    built = time.thread_time() - started
    assert built < 1.5, f"building took {built:.2f} s"
    assert len(dataset) == 1000 and dataset.mailbox_total == 50_000
    assert len({w.name for w in dataset.workspaces}) == 1000
    last = dataset.workspaces[-1]
    page = last.mailboxes(0, 100)
    assert page[-1].id <= 50_000 and len(page) == min(100, last.mailbox_count)
    started = time.thread_time()
    total = sum(len(w.mailboxes(0, w.mailbox_count)) for w in dataset.workspaces[:100])
    assert time.thread_time() - started < 2.0 and total > 0


def test_stats_payload_sums_days_and_computes_percentages() -> None:
    workspace = _generated(generate_dataset(seed=11))[0]
    start, end = date(2026, 10, 25), date(2026, 11, 20)
    days = [workspace.day_stats(start + timedelta(days=i), NOON) for i in range(27)]
    expected_sent = sum(d.emails_sent for d in days)
    summed = stats_between(workspace, start, end, NOON)
    assert summed.emails_sent == expected_sent
    assert summed.interested == sum(d.interested for d in days)
    payload = summed.payload()
    WorkspaceStats.model_validate(payload)
    for name, base in PERCENT_BASE.items():
        value, denominator = payload[name], payload[base]
        assert payload[f"{name}_percentage"] == round(value * 100 / denominator, 2)
    assert DayStats().payload()["bounced_percentage"] == 0.0


def test_future_days_are_zero_and_today_is_partial() -> None:
    workspace = next(w for w in _generated(generate_dataset()) if w.daily_volume > 3000)
    monday = date(2026, 11, 23)
    at_noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert workspace.day_stats(monday + timedelta(days=1), at_noon) == DayStats()
    whole = workspace.day_stats(monday, at_noon + timedelta(days=1))
    half = workspace.day_stats(monday, at_noon)
    assert half.emails_sent == whole.emails_sent // 2
    assert workspace.day_stats(monday, datetime(2026, 11, 23, tzinfo=UTC)) == DayStats()


def test_schedules_tomorrow_is_the_next_days_today() -> None:
    workspace = next(w for w in _generated(generate_dataset()) if w.daily_volume > 0)
    tomorrow = workspace.schedules("tomorrow", TODAY + timedelta(days=1))
    assert tomorrow == workspace.schedules("today", TODAY + timedelta(days=1))
    rows = workspace.schedules("today", TODAY)
    assert 1 <= len(rows) <= 4
    for row in rows:
        SendingSchedule.model_validate(row.payload())
        assert 0 <= row.emails_being_sent <= row.daily_limit


def test_hand_built_workspace_is_exact() -> None:
    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    workspace = SimWorkspace(
        7,
        "Acme",
        daily={d1: DayStats(emails_sent=100, interested=3), d2: DayStats(emails_sent=50)},
        schedules={
            "today": [SimSchedule(1, "A", emails_being_sent=40)],
            "tomorrow": [SimSchedule(1, "A", emails_being_sent=60)],
            date(2026, 11, 22): [SimSchedule(2, "Dated", emails_being_sent=5)],
        },
        mailboxes=[SimMailbox(i, f"m{i}@acme.com", tags=["Zapmail"]) for i in range(1, 6)],
    )
    assert workspace.token == "sim-ws-7-token"
    total = stats_between(workspace, d1, date(2026, 11, 30), NOON)
    assert (total.emails_sent, total.interested) == (150, 3)
    assert workspace.schedules("today", TODAY)[0].emails_being_sent == 40
    assert workspace.schedules("tomorrow", date(2026, 11, 22))[0].name == "Dated"
    assert [m.id for m in workspace.mailboxes(2, 10)] == [3, 4, 5]
    payload = workspace.mailboxes(0, 1)[0].payload()
    assert payload["tags"] == [{"id": 12, "name": "Zapmail", "default": False}]
    SenderEmail.model_validate(payload)


def test_dataset_lookup_and_validation() -> None:
    a, b = SimWorkspace(1, "A"), SimWorkspace(2, "B", token="tok-b")
    dataset = Dataset([a, b], master_token="master")
    assert dataset.by_token("tok-b") is b and dataset.by_token("master") is None
    assert dataset.is_master("master") and not dataset.is_master("tok-b")
    assert dataset.token_label("tok-b") == "api-user:2"
    assert dataset.token_label("master") == "master"
    assert dataset.token_label("nope") == "unknown"
    assert dataset.neighbour(2) is a and dataset.get(3) is None
    with pytest.raises(ValueError, match="duplicate workspace id"):
        Dataset([a, SimWorkspace(1, "again", token="x")])
    with pytest.raises(ValueError, match="token"):
        Dataset([a, SimWorkspace(3, "C", token=a.token)])
