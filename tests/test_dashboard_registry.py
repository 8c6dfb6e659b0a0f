"""The dashboard registry: order, lookup, the shared-request contract, no Textual."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from portal_tui.dashboards.infrastructure import INFRASTRUCTURE
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.registry import DASHBOARDS, dashboard_for, dashboard_names
from portal_tui.dashboards.revenue import REVENUE
from portal_tui.dashboards.volume import VOLUME
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.vocabulary.names import DashboardName

WINDOWS = report_windows(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), ZoneInfo("UTC"))


def test_order_is_pane_order() -> None:
    assert DASHBOARDS == (KPI, VOLUME, REVENUE, INFRASTRUCTURE)
    assert dashboard_names() == dashboard_names()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (DashboardName.KPI, KPI),
        ("volume", VOLUME),
        ("Revenue", REVENUE),
        ("INFRASTRUCTURE", INFRASTRUCTURE),
    ],
)
def test_lookup(name: DashboardName | str, expected: object) -> None:
    assert dashboard_for(name) is expected


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: kpi, volume, revenue, infrastructure"):
        dashboard_for("spotlight")


def test_every_row_model_names_its_workspace() -> None:
    for dashboard in DASHBOARDS:
        assert issubclass(dashboard.row_model, BaseModel)
        fields = dashboard.row_model.model_fields
        assert {"instance", "workspace_id", "workspace"} <= set(fields), dashboard.name


def test_stats_requests_are_shared_so_one_cycle_fetches_each_once() -> None:
    needs = [n for d in DASHBOARDS for n in d.needs(WINDOWS).values()]
    stats = {n for n in needs if n.endpoint is Endpoint.STATS}
    assert len(stats) == 4  # MTD, 7 days, 30 days, last month: nothing else
    mtd = KPI.needs(WINDOWS)["stats_mtd"]
    assert VOLUME.needs(WINDOWS)["stats_mtd"] == mtd == REVENUE.needs(WINDOWS)["stats_mtd"]
    assert all(n.endpoint is not Endpoint.SENDER_EMAILS for n in REVENUE.needs(WINDOWS).values())


def test_dashboards_do_not_import_textual() -> None:
    code = (
        "import sys, portal_tui.dashboards.registry; "
        "sys.exit(1 if any(m.split('.')[0] == 'textual' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
