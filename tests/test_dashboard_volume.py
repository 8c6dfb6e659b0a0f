"""Volume dashboard: hand-computed numbers, status bands, soft checks, rank, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import ComputeContext, Need
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.volume import VOLUME, PaceStatus, VolumeRow
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.models import SchedulesResponse, StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.validation import ValidationErrorType

# 20 November 2026: day = 20, dim = 30.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CTX = ComputeContext(windows=report_windows(NOW, ZoneInfo("UTC")), config=Config(), now=NOW)

STATS_FIELDS = (
    "total_leads_contacted",
    "opened",
    "opened_percentage",
    "unique_opens_per_contact",
    "unique_opens_per_contact_percentage",
    "unique_replies_per_contact",
    "unique_replies_per_contact_percentage",
    "bounced",
    "bounced_percentage",
    "unsubscribed",
    "unsubscribed_percentage",
    "interested",
    "interested_percentage",
)


def stats(sent: int) -> StatsResponse:
    data: dict[str, Any] = dict.fromkeys(STATS_FIELDS, 0)
    data["emails_sent"] = sent
    return StatsResponse.model_validate({"data": data})


def schedules(*being_sent: Any) -> dict[str, Any]:
    return {
        "data": [
            {
                "id": n,
                "name": f"C{n}",
                "status": "active",
                "daily_limit": 5000,
                "emails_being_sent": v,
            }
            for n, v in enumerate(being_sent, start=1)
        ]
    }


def inputs(
    mtd: int = 40_000,
    d7: int = 14_000,
    d30: int = 52_000,
    today: tuple[int, ...] = (3000, 1500),
    tomorrow: tuple[int, ...] = (2000, 2500, 0),
) -> dict[str, Any]:
    return {
        "stats_mtd": stats(mtd),
        "stats_7d": stats(d7),
        "stats_30d": stats(d30),
        "schedules_today": SchedulesResponse.model_validate(schedules(*today)),
        "schedules_tomorrow": SchedulesResponse.model_validate(schedules(*tomorrow)),
    }


def ws(name: str = "Acme", target: int | None = 50_000, wid: int = 7) -> WorkspaceRef:
    entry = None if target is None else ClientEntry(name=name, monthly_sending_target=target)
    return WorkspaceRef(instance="main", id=wid, name=name, registry=entry)


def row_of(workspace: WorkspaceRef, data: dict[str, Any]) -> VolumeRow:
    outcome = VOLUME.compute(workspace, data, CTX)
    assert outcome.issues == []
    assert outcome.row is not None
    return outcome.row


def test_known_workspace_every_number_by_hand() -> None:
    outcome = VOLUME.compute(ws(), inputs(), CTX)
    assert outcome.issues == []
    assert outcome.warnings == []
    assert outcome.row is not None
    assert outcome.row.model_dump() == {
        "instance": "main",
        "workspace_id": 7,
        "workspace": "Acme",
        "emails": 40_000,
        "emails_today": 4500,  # 3000 + 1500
        "emails_tomorrow": 4500,  # 2000 + 2500 + 0
        "emails_last_7_days": 14_000,
        "emails_last_30_days": 52_000,
        "target": 50_000,
        "projection": 60_000,  # 40000 / 20 * 30
        "target_percentage": 80.0,  # 40000 / 50000 * 100
        "projected_percentage": 120.0,  # 60000 / 50000 * 100
        "daily_quota": 1667,  # round(50000 / 30) = round(1666.67)
        "expected_by_now": 33_340,  # 1667 * 20
        "is_on_track": True,  # 40000 >= 33340
        "status": PaceStatus.ON_PACE,
    }
    assert outcome.row.model_dump(mode="json")["status"] == "On Pace"


def test_needs_share_kpi_requests_and_add_schedules() -> None:
    needs = dict(VOLUME.needs(CTX.windows))
    kpi = KPI.needs(CTX.windows)
    assert set(needs) == {
        "stats_mtd",
        "stats_7d",
        "stats_30d",
        "schedules_today",
        "schedules_tomorrow",
    }
    for label in ("stats_mtd", "stats_7d", "stats_30d"):
        assert needs[label] == kpi[label]
    assert needs["schedules_today"] == Need(Endpoint.SCHEDULES, (("day", "today"),))
    assert needs["schedules_tomorrow"] == Need(Endpoint.SCHEDULES, (("day", "tomorrow"),))


@pytest.mark.parametrize(
    ("mtd", "projected_pct", "status", "on_track"),
    [
        (20_000, 100.0, PaceStatus.ON_PACE, True),  # 30000 / 30000; expected 1000 * 20
        (16_000, 80.0, PaceStatus.NEAR_TARGET, False),  # 24000 / 30000; 16000 < 20000
        (15_980, 79.9, PaceStatus.BEHIND, False),  # 23970 / 30000
    ],
)
def test_status_bands(mtd: int, projected_pct: float, status: PaceStatus, on_track: bool) -> None:
    row = row_of(ws(target=30_000), inputs(mtd=mtd, d30=mtd))
    assert row.projected_percentage == pytest.approx(projected_pct)
    assert row.daily_quota == 1000  # 30000 / 30
    assert row.expected_by_now == 20_000  # 1000 * 20
    assert row.status is status
    assert row.is_on_track is on_track


def test_registry_less_workspace() -> None:
    outcome = VOLUME.compute(ws(target=None), inputs(), CTX)
    assert outcome.warnings == ["no registry entry"]
    row = outcome.row
    assert row is not None
    assert (row.target, row.target_percentage, row.projected_percentage) == (0, 0.0, 0.0)
    assert (row.daily_quota, row.expected_by_now, row.is_on_track) == (0, 0, True)
    assert row.status is PaceStatus.NO_TARGET
    assert row.projection == 60_000


@pytest.mark.parametrize(
    ("workspace", "data", "warning"),
    [
        (ws(), inputs(d7=-5), "negative count: emails_last_7_days = -5"),
        (ws(), inputs(today=(10, -20)), "negative count: emails_today = -10"),
        (ws(), inputs(mtd=53_000), "MTD emails exceed 30-day emails: 53000 > 52000"),
        (ws(), inputs(d7=52_001), "7-day emails exceed 30-day emails: 52001 > 52000"),
        (
            ws(target=1_000_000),
            inputs(mtd=1_000_001, d7=0, d30=1_000_001),
            "unusually high MTD emails: 1000001",
        ),
        (ws(), inputs(today=(100_001,)), "unusually high scheduled emails today: 100001"),
        (
            ws(),
            inputs(tomorrow=(60_000, 40_001)),
            "unusually high scheduled emails tomorrow: 100001",
        ),
        (ws(), inputs(mtd=0, d7=0, d30=0), "zero emails sent but has a target"),
        (ws(target=16_000), inputs(mtd=40_000, d30=40_000), "at 250% of target"),  # 40000 / 16000
    ],
)
def test_each_soft_check_fires_alone_and_keeps_the_row(
    workspace: WorkspaceRef, data: dict[str, Any], warning: str
) -> None:
    outcome = VOLUME.compute(workspace, data, CTX)
    assert outcome.row is not None
    assert outcome.issues == []
    assert outcome.warnings == [warning]


def test_soft_checks_stay_quiet_at_their_limits() -> None:
    at_limits = inputs(mtd=1_000_000, d7=1_000_000, d30=1_000_000, today=(100_000,))
    assert VOLUME.compute(ws(target=1_000_000), at_limits, CTX).warnings == []
    # Exactly 200 % of target: 40000 / 20000.
    assert VOLUME.compute(ws(target=20_000), inputs(mtd=40_000), CTX).warnings == []
    # Zero emails without a target is not "zero emails ... but has a target".
    assert VOLUME.compute(ws(target=0), inputs(mtd=0, d7=0, d30=0), CTX).warnings == []


def test_unparseable_schedule_excludes_with_field_issue() -> None:
    data: dict[str, Any] = inputs()
    data["schedules_today"] = schedules(100, "lots")
    del data["stats_30d"]
    outcome = VOLUME.compute(ws(), data, CTX)
    assert outcome.row is None
    assert {(i.field_name, i.error_type) for i in outcome.issues} == {
        ("schedules_today.data.1.emails_being_sent", ValidationErrorType.INVALID_TYPE),
        ("stats_30d", ValidationErrorType.MISSING_FIELD),
    }


def test_rank_on_pace_desc_then_others_asc_then_zero_email_last() -> None:
    def make(name: str, mtd: int, target: int) -> VolumeRow:
        return row_of(ws(name, target=target), inputs(mtd=mtd, d7=0, d30=mtd))

    rows = [
        make("Zero", 0, 10_000),  # zero emails: last
        make("Behind40", 4_000, 10_000),  # 40 %, projected 60 %
        make("Pace90", 9_000, 10_000),  # 90 %, projected 135 %
        make("Near60", 6_000, 10_000),  # 60 %, projected 90 %
        make("Pace70", 7_000, 10_000),  # 70 %, projected 105 %
        make("Behind20", 2_000, 10_000),  # 20 %, projected 30 %
        make("NoTarget", 5_000, 0),
        make("Near55", 5_500, 10_000),  # 55 %, projected 82.5 %
    ]
    assert [r.workspace for r in VOLUME.rank(rows)] == [
        "Pace90",
        "Pace70",
        "Near55",
        "Near60",
        "Behind20",
        "Behind40",
        "NoTarget",
        "Zero",
    ]


def test_summarize_totals_by_hand() -> None:
    a = row_of(ws("A", target=50_000), inputs())  # On Pace, 40000 sent
    b = row_of(ws("B", target=30_000), inputs(mtd=15_980, d7=5_000, d30=20_000))  # Behind
    c = row_of(ws("C", target=None), inputs(mtd=0, d7=0, d30=0, today=(), tomorrow=()))
    summary = VOLUME.summarize([a, b, c], CTX)
    assert summary.warnings == {}
    assert summary.totals == {
        "workspaces": 3,
        "emails": 55_980,  # 40000 + 15980
        "emails_today": 9000,  # 4500 + 4500 + 0
        "emails_tomorrow": 9000,
        "emails_last_7_days": 19_000,  # 14000 + 5000
        "emails_last_30_days": 72_000,  # 52000 + 20000
        "target": 80_000,  # 50000 + 30000
        "projection": 83_970,  # 60000 + 23970
        "target_percentage": pytest.approx(55_980 / 80_000 * 100),
        "projected_percentage": pytest.approx(83_970 / 80_000 * 100),
        "on_track": 2,  # A (40000 >= 33340) and C (no target: 0 >= 0)
        "zero_emails": 1,
        "on_pace": 1,
        "near_target": 0,
        "behind": 1,
        "no_target": 1,
    }
