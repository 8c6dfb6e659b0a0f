"""KPI dashboard: hand-computed numbers, warnings, validation exclusion, rank, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.base import ComputeContext, Need
from portal_tui.dashboards.kpi import KPI, KpiRow
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationErrorType

# 20 November 2026: day = 20, dim = 30.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CTX = ComputeContext(windows=report_windows(NOW, ZoneInfo("UTC")), config=Config(), now=NOW)


def stats_data(**values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "emails_sent": 0,
        "total_leads_contacted": 0,
        "opened": 0,
        "opened_percentage": 0,
        "unique_opens_per_contact": 0,
        "unique_opens_per_contact_percentage": 0,
        "unique_replies_per_contact": 0,
        "unique_replies_per_contact_percentage": 0,
        "bounced": 0,
        "bounced_percentage": 0,
        "unsubscribed": 0,
        "unsubscribed_percentage": 0,
        "interested": 0,
        "interested_percentage": 0,
    }
    data.update(values)
    return data


def stats(**values: Any) -> StatsResponse:
    return StatsResponse.model_validate({"data": stats_data(**values)})


def inputs(mtd: int = 40, d7: int = 12, d30: int = 55, last_month: int = 70) -> dict[str, Any]:
    return {
        "stats_mtd": stats(interested=mtd, emails_sent=8000, bounced=120),
        "stats_7d": stats(interested=d7),
        "stats_30d": stats(interested=d30),
        "stats_last_month": stats(interested=last_month),
    }


def ws(name: str = "Acme", kpi: int | None = 100, wid: int = 7) -> WorkspaceRef:
    entry = None if kpi is None else ClientEntry(name=name, monthly_kpi=kpi)
    return WorkspaceRef(instance="main", id=wid, name=name, registry=entry)


def row_of(workspace: WorkspaceRef, data: dict[str, Any]) -> KpiRow:
    outcome = KPI.compute(workspace, data, CTX)
    assert outcome.issues == []
    assert outcome.row is not None
    return outcome.row


def test_known_workspace_every_number_by_hand() -> None:
    outcome = KPI.compute(ws(), inputs(), CTX)
    assert outcome.issues == []
    assert outcome.warnings == []
    assert outcome.row is not None
    assert outcome.row.model_dump() == {
        "instance": "main",
        "workspace_id": 7,
        "workspace": "Acme",
        "leads_generated": 40,
        "projected_replies": 60,  # 40 / 20 * 30
        "monthly_kpi": 100,
        "current_progress": 0.4,  # 40 / 100
        "replies_progress": 0.6,  # 60 / 100
        "positive_replies_last_7_days": 12,
        "positive_replies_last_30_days": 55,
        "positive_replies_current_month": 40,
        "positive_replies_last_month": 70,
        "emails_sent": 8000,
        "bounced": 120,
    }


def test_projection_uses_python_round_half_to_even() -> None:
    row = row_of(ws(), inputs(mtd=3))
    assert row.projected_replies == 4  # 3 / 20 * 30 = 4.5, round() -> 4
    assert row.replies_progress == pytest.approx(0.04)  # 4 / 100


def test_needs_are_the_four_stats_windows() -> None:
    assert dict(KPI.needs(CTX.windows)) == {
        "stats_mtd": Need(
            Endpoint.STATS, (("start_date", "2026-11-01"), ("end_date", "2026-11-20"))
        ),
        "stats_7d": Need(
            Endpoint.STATS, (("start_date", "2026-11-13"), ("end_date", "2026-11-20"))
        ),
        "stats_30d": Need(
            Endpoint.STATS, (("start_date", "2026-10-21"), ("end_date", "2026-11-20"))
        ),
        "stats_last_month": Need(
            Endpoint.STATS, (("start_date", "2026-10-01"), ("end_date", "2026-10-31"))
        ),
    }
    assert KPI.name is DashboardName.KPI
    assert KPI.row_model is KpiRow


def test_no_kpi_target_warns_and_ratios_are_zero() -> None:
    outcome = KPI.compute(ws(kpi=0), inputs(), CTX)
    assert outcome.warnings == ["no KPI target set"]
    assert outcome.row is not None
    assert outcome.row.current_progress == 0.0
    assert outcome.row.replies_progress == 0.0


def test_unusually_high_leads_fires_above_1000_only() -> None:
    high = KPI.compute(ws(kpi=1000), inputs(mtd=1200), CTX)
    assert high.warnings == ["unusually high leads: 1200"]
    assert high.row is not None
    assert high.row.projected_replies == 1800  # 1200 / 20 * 30
    assert high.row.current_progress == 1.2  # 1200 / 1000
    assert high.row.replies_progress == 1.8  # 1800 / 1000
    at_limit = KPI.compute(ws(kpi=1000), inputs(mtd=1000), CTX)
    assert at_limit.warnings == []


def test_registry_less_workspace_is_shown_with_one_warning() -> None:
    outcome = KPI.compute(ws(kpi=None), inputs(), CTX)
    assert outcome.warnings == ["no registry entry"]
    assert outcome.row is not None
    assert outcome.row.monthly_kpi == 0
    assert outcome.row.current_progress == 0.0
    assert outcome.row.leads_generated == 40


def test_negative_count_excludes_with_field_issue() -> None:
    data = inputs()
    data["stats_mtd"] = stats(interested=40, emails_sent=8000, bounced=-1)
    outcome = KPI.compute(ws(), data, CTX)
    assert outcome.row is None
    [issue] = outcome.issues
    assert issue.field_name == "bounced"
    assert issue.error_type is ValidationErrorType.RANGE_ERROR
    assert issue.expected == ">= 0"
    assert issue.actual == "-1"
    assert issue.dashboard is DashboardName.KPI
    assert issue.workspace == "Acme"


def test_ratio_out_of_range_excludes() -> None:
    # 70 leads, KPI 10: current 7.0 is fine; projected 70 / 20 * 30 = 105 -> 10.5 is not.
    outcome = KPI.compute(ws(kpi=10), inputs(mtd=70), CTX)
    assert outcome.row is None
    assert [(i.field_name, i.error_type, i.expected) for i in outcome.issues] == [
        ("replies_progress", ValidationErrorType.RANGE_ERROR, "<= 10.0")
    ]
    # Ten times the KPI is still in range.
    assert KPI.compute(ws(kpi=15), inputs(mtd=100), CTX).row is not None  # 150 / 15 = 10.0


def test_missing_field_and_wrong_type_are_reported_field_by_field() -> None:
    mtd = stats_data(emails_sent=8000, bounced=120)
    del mtd["interested"]
    data: dict[str, Any] = inputs()
    data["stats_mtd"] = {"data": mtd}
    data["stats_7d"] = {"data": stats_data(interested="many")}
    outcome = KPI.compute(ws(), data, CTX)
    assert outcome.row is None
    found = {(i.field_name, i.error_type) for i in outcome.issues}
    assert found == {
        ("stats_mtd.data.interested", ValidationErrorType.MISSING_FIELD),
        ("stats_7d.data.interested", ValidationErrorType.INVALID_TYPE),
    }
    wrong = next(i for i in outcome.issues if i.field_name == "stats_7d.data.interested")
    assert wrong.actual == "'many'"


def test_missing_input_and_empty_name_exclude() -> None:
    data = inputs()
    del data["stats_last_month"]
    outcome = KPI.compute(ws(), data, CTX)
    assert outcome.row is None
    assert [(i.field_name, i.error_type) for i in outcome.issues] == [
        ("stats_last_month", ValidationErrorType.MISSING_FIELD)
    ]
    nameless = KPI.compute(WorkspaceRef("main", 7, "", ws().registry), inputs(), CTX)
    assert nameless.row is None
    assert [i.field_name for i in nameless.issues] == ["workspace"]


def test_one_excluded_workspace_does_not_stop_the_others() -> None:
    bad = inputs()
    bad["stats_30d"] = stats(interested=-3)
    outcomes = [
        KPI.compute(ws("A", wid=1), inputs(), CTX),
        KPI.compute(ws("B", wid=2), bad, CTX),
        KPI.compute(ws("C", wid=3), inputs(mtd=10), CTX),
    ]
    assert [o.row is not None for o in outcomes] == [True, False, True]
    assert [i.field_name for i in outcomes[1].issues] == ["positive_replies_last_30_days"]


def test_rank_worst_projection_first_and_no_target_last() -> None:
    a = row_of(ws("Alpha", kpi=100, wid=1), inputs(mtd=40))  # replies 0.6
    b = row_of(ws("Bravo", kpi=100, wid=2), inputs(mtd=20))  # 30 / 100 = 0.3
    c = row_of(ws("Charlie", kpi=0, wid=3), inputs(mtd=90))  # no target
    d = row_of(ws("alpha2", kpi=50, wid=4), inputs(mtd=20))  # 30 / 50 = 0.6, current 0.4
    e = row_of(ws("Echo", kpi=100, wid=5), inputs(mtd=60))  # 90 / 100 = 0.9
    assert [r.workspace for r in KPI.rank([e, c, a, d, b])] == [
        "Bravo",
        "Alpha",
        "alpha2",
        "Echo",
        "Charlie",
    ]


def test_summarize_totals_by_hand() -> None:
    a = row_of(ws("A", kpi=100, wid=1), inputs(mtd=40, d7=12, d30=55, last_month=70))
    b = row_of(ws("B", kpi=0, wid=2), inputs(mtd=20, d7=5, d30=30, last_month=8))
    summary = KPI.summarize([a, b], CTX)
    assert summary.warnings == {}
    assert summary.totals == {
        "workspaces": 2,
        "without_target": 1,
        "leads_generated": 60,  # 40 + 20
        "monthly_kpi": 100,
        "projected_replies": 90,  # 60 + 30
        "current_progress": 0.6,  # 60 / 100
        "replies_progress": 0.9,  # 90 / 100
        "positive_replies_last_7_days": 17,  # 12 + 5
        "positive_replies_last_30_days": 85,  # 55 + 30
        "positive_replies_current_month": 60,
        "positive_replies_last_month": 78,  # 70 + 8
        "emails_sent": 16000,  # 8000 + 8000
        "bounced": 240,  # 120 + 120
    }
