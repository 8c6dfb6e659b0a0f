"""The dashboard registry: order, lookup, declarations, dependencies, no Textual."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from portal_tui.config import Config
from portal_tui.dashboards.base import ComputeContext
from portal_tui.dashboards.declaration import TotalsSpec
from portal_tui.dashboards.infrastructure import INFRASTRUCTURE
from portal_tui.dashboards.kpi import KPI
from portal_tui.dashboards.registry import (
    DASHBOARDS,
    Registry,
    RegistryError,
    compute_order,
    dashboard_for,
    dashboard_names,
)
from portal_tui.dashboards.revenue import REVENUE
from portal_tui.dashboards.volume import VOLUME
from portal_tui.dashboards.windows import report_windows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.vocabulary.names import DashboardName

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOWS = report_windows(NOW, ZoneInfo("UTC"))


def test_order_is_pane_order() -> None:
    assert DASHBOARDS == (KPI, VOLUME, REVENUE, INFRASTRUCTURE)
    assert dashboard_names() == ("kpi", "volume", "revenue", "infrastructure")


def test_compute_order_puts_what_is_read_first() -> None:
    # Revenue reads Infrastructure's mailbox costs; the rest keep pane order.
    assert compute_order() == ("infrastructure", "kpi", "volume", "revenue")


class _Board:
    """A stand-in with just what the registry reads."""

    def __init__(self, name: str, *depends_on: str) -> None:
        self.name = DashboardName(name)
        self.depends_on = tuple(DashboardName(d) for d in depends_on)


def _registry(*boards: _Board) -> Registry:
    dashboards: Any = boards
    return Registry(dashboards)


def test_a_dependency_cycle_is_refused_naming_it() -> None:
    with pytest.raises(RegistryError, match="cycle: a -> b -> c -> a"):
        _registry(_Board("a", "b"), _Board("b", "c"), _Board("c", "a"), _Board("d"))
    with pytest.raises(RegistryError, match="cycle: a -> a"):
        _registry(_Board("a", "a"))


def test_unknown_dependencies_and_twin_names_are_refused() -> None:
    with pytest.raises(RegistryError, match="'a' depends on unknown 'zz'"):
        _registry(_Board("a", "zz"))
    with pytest.raises(RegistryError, match="two dashboards are called 'a'"):
        _registry(_Board("a"), _Board("a"))


def test_a_chain_is_computed_in_dependency_order() -> None:
    chain = _registry(_Board("c", "b"), _Board("a"), _Board("b", "a"), _Board("d"))
    assert chain.compute_order == ("a", "b", "c", "d")
    assert chain.names == ("c", "a", "b", "d")  # pane order is the listing's


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda d: str(d.name))
def test_declarations_match_what_the_dashboard_computes(board: Any) -> None:
    fields = board.row_model.model_fields
    for column in board.columns:
        assert column.field in fields, column
    ctx = ComputeContext(windows=WINDOWS, config=Config(), now=NOW)
    assert set(board.summarize([], ctx).totals) == set(board.totals.kinds)  # typed totals
    assert board.title and board.tab_label and board.default_ttl > 0
    assert board.prepare(ctx).windows is WINDOWS


def test_a_totals_line_may_name_only_declared_totals() -> None:
    with pytest.raises(ValueError, match="undeclared totals: nope"):
        TotalsSpec(kinds={"a": "int"}, line="{a} and {nope}")
    assert TotalsSpec(kinds={"a": "int", "b": "money"}, line="{b} · {a}").shown == ("b", "a")


def test_revenue_reads_mailbox_costs_from_the_infrastructure_snapshot() -> None:
    from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta

    ctx = ComputeContext(windows=WINDOWS, config=Config(), now=NOW)
    assert REVENUE.prepare(ctx).mailbox_costs == {}  # no Infrastructure data yet
    row = INFRASTRUCTURE.row_model.model_construct(
        instance="a", workspace_id=1, workspace="W", mailbox_cost=12.5, needs_review=2
    )
    infra = DashboardSnapshot(
        name=DashboardName.INFRASTRUCTURE,
        rows=[row],
        row_meta={("a", 1): RowMeta(NOW)},
    )
    costs = REVENUE.prepare(replace(ctx, upstream={DashboardName.INFRASTRUCTURE: infra}))
    cost = costs.mailbox_costs[("a", 1)]
    assert (cost.amount, cost.as_of, cost.needs_review) == (12.5, NOW, 2)


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
