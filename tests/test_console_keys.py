"""Pilot tests: every key of SPEC section 7 and every pane, with real effects.

Each test runs the console headless on a 6-workspace simulator with a
frozen FakeClock, so a refresh completes without time passing and nothing
happens unless the test makes it happen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import TabbedContent

from console_scenario import catch_up, running_console, screen_text, settle, until
from portal_tui.console.bindings import keys, panes
from portal_tui.console.panes.base import FilterBox
from portal_tui.console.screens.confirm import ConfirmScreen
from portal_tui.console.screens.detail import WorkspaceDetailScreen
from portal_tui.console.screens.help import HelpScreen
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.vocabulary.names import DashboardName

PANE_MARKERS = {
    "overview": "Health",
    "kpi": "Leads",
    "volume": "Pace",
    "revenue": "Margin",
    "infrastructure": "Mailboxes",
    "failures": "Requests in flight",
    "consistency": "Rules (run after every refresh cycle)",
    "history": "API history",
}


def table(app: Any, selector: str) -> RowTable:
    return app.query_one(selector, RowTable)


def names(rows: RowTable) -> list[str]:
    return [r.cells[1] for r in rows.view.rows]


async def test_number_keys_show_every_pane(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", size=(100, 30)) as (app, pilot, _, _):
        assert app.query_one("#panes", TabbedContent).active == "tab-overview"
        for number, (pane, _label) in reversed(list(enumerate(panes(), start=1))):
            await pilot.press(str(number))
            await settle(pilot)
            assert app.query_one("#panes", TabbedContent).active == f"tab-{pane}"
            assert app.current_pane().id == pane
            assert PANE_MARKERS[pane] in screen_text(app), pane
        await pilot.click("#--content-tab-tab-volume")  # the tab bar, by mouse ...
        await until(pilot, lambda: app.current_pane().id == "volume", "Volume pane")
        app.query_one("#panes Tabs").focus()
        await pilot.press("right")  # ... and by arrow keys
        await until(pilot, lambda: app.current_pane().id == "revenue", "Revenue pane")


async def test_p_pauses_auto_refresh_where_it_cannot_be_missed(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", auto_refresh=True) as (
        app,
        pilot,
        runtime,
        clock,
    ):
        await pilot.press("p")
        await pilot.pause()
        text = screen_text(app)
        assert "⏸ PAUSED · auto-refresh is off" in text  # the reverse-video banner
        assert "⏸ PAUSED" in app.sub_title  # and the header
        assert "p resume" in text  # and the key bar
        requests = runtime.simulator.counters.requests
        clock.advance(15 * 60)  # every TTL lapses
        app.tick()
        await pilot.pause()
        assert not runtime.monitor.refreshing
        assert runtime.simulator.counters.requests == requests
        await pilot.press("p")  # resume: what is due refreshes at once
        await settle(pilot)
        assert "PAUSED" not in screen_text(app)
        assert runtime.simulator.counters.requests > requests
        cycles = await runtime.store.recent_cycles(3)
        assert cycles[0].triggered_by == "auto"


FILTERS = [
    ("1", "#overview-table", "inf", 1),
    ("2", "#kpi-table", "fox", 1),
    ("3", "#volume-table", "fox", 1),
    ("4", "#revenue-table", "fox", 1),
    ("6", "#failures-table", "vol", 1),
    ("7", "#rules-table", "unique", 1),
    ("8", "#history-table", "fox", 1),
]


async def test_slash_filters_rows_of_every_table(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", faults="revoked@12") as (app, pilot, _, _):
        for number, (pane_key, selector, typed, expected) in enumerate(FILTERS):
            await pilot.press(pane_key)
            rows = table(app, selector)
            rows.focus()
            total = len(rows.view.rows)
            assert total > expected, selector
            await pilot.press("slash")
            assert isinstance(app.focused, FilterBox)
            if number == 0:
                await pilot.press(*typed)  # typed key by key ...
            else:
                app.focused.post_message(events.Paste(typed))  # ... or pasted
                await pilot.pause()
            assert len(rows.view.rows) == expected, selector
            assert f"{expected} of {total} rows" in screen_text(app)
            await pilot.press("enter")  # keep the filter, back to the table
            assert app.focused is rows
            await pilot.press("slash", "escape")  # clear it
            assert len(rows.view.rows) == total
        # Infrastructure: the filter goes to whichever of its two tables has the focus.
        await pilot.press("5")
        mailboxes = table(app, "#mailbox-table")
        await catch_up(pilot)
        total = len(mailboxes.view.rows)
        mailboxes.focus()
        await pilot.press("slash")
        app.focused.post_message(events.Paste("frost"))
        await pilot.pause()
        assert 0 < len(mailboxes.view.rows) < total
        assert all("frostscale" in r.search for r in mailboxes.view.rows)
        assert len(table(app, "#infrastructure-table").view.rows) == 6  # untouched


async def test_s_cycles_the_sort_column(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        await pilot.press("2")
        await settle(pilot)
        kpi = table(app, "#kpi-table")
        ranked = names(kpi)
        await pilot.press("s")  # State ↑
        await pilot.press("s")  # Workspace ↑
        await pilot.pause()
        assert kpi.view.sort_description == "Workspace ↑"
        assert names(kpi) == sorted(ranked, key=str.casefold)
        assert "Workspace ↑" in screen_text(app)
        await pilot.press("s")  # Leads ↓ (numbers: largest first)
        leads = [r.sort_values[2] for r in kpi.view.rows]
        assert leads == sorted(leads, reverse=True)


async def test_consistency_pane_shows_open_findings(tmp_path: Path) -> None:
    faults = "dup@11=2:from=4"  # two of Boldcrest's addresses also in Silverspark
    async with running_console(tmp_path / "c.db", faults=faults) as (app, pilot, _, _):
        await pilot.press("7")
        await settle(pilot)
        findings = table(app, "#findings-table").view.rows
        assert len(findings) == 2
        assert {r.cells[0] for r in findings} == {"✗ error"}
        assert {r.cells[1] for r in findings} == {"sender-email-unique"}
        rules = {r.cells[0]: r.cells[2] for r in table(app, "#rules-table").view.rows}
        assert rules["sender-email-unique"] == "2" and rules["mailbox-pages"] == "0"
        assert "2 open: ✗ error 2" in screen_text(app)


async def test_y_copies_and_enter_opens_the_workspace_detail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_console(tmp_path / "c.db", faults="revoked@8") as (app, pilot, _, _):
        copied: list[str] = []
        monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
        await pilot.press("y")  # on Overview: the incident summary
        summary = copied[-1]
        assert summary.startswith("portal-tui incident summary at 2026-11-21 12:00:00Z [DEMO")
        assert "Health 50/100 ✖ CRITICAL" in summary
        assert "KPI" in summary and "Summitroot Media: 4xx 401" in summary
        await pilot.press("2", "slash", *"bold", "enter", "y")  # elsewhere: the selected row
        assert copied[-1].startswith("State: ✔ ok | Workspace: Boldcrest Digital | Leads: ")
        await pilot.press("slash", "escape")
        await pilot.press("slash", *"summit", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, WorkspaceDetailScreen)
        text = app.screen.text
        assert "Summitroot Media" in text
        for title in ("KPI", "Volume", "Revenue", "Infrastructure"):
            assert f"── {title}: ✗ failed" in text
        assert "4xx 401" in text
        assert "failing since 12:00:00Z" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WorkspaceDetailScreen)


async def test_help_lists_every_key(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", size=(130, 60)) as (app, pilot, _, _):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(screen_text(app).split())
        for spec in keys():
            if not spec.key.isdigit():
                assert " ".join(spec.help.split()[:4]) in text, spec.key
        assert "1-8 switch pane: 1 Overview, 2 KPI" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_the_actions(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.policy.paused


async def test_refresh_and_cache_keys(tmp_path: Path) -> None:
    """``r`` this pane (TTL bypassed), ``R`` every dashboard, ``c`` this cache, ``C`` all."""
    async with running_console(tmp_path / "c.db") as (app, pilot, runtime, _):
        counters, monitor = runtime.simulator.counters, runtime.monitor
        stats, mailboxes = counters.by_endpoint["stats"], counters.by_endpoint["sender-emails"]
        await pilot.press("2", "r")
        await settle(pilot)
        assert counters.by_endpoint["stats"] > stats  # within TTL, yet refetched
        assert counters.by_endpoint["sender-emails"] == mailboxes  # not this pane's
        cycles = await runtime.store.recent_cycles(5)
        assert (cycles[0].triggered_by, cycles[0].dashboards) == ("manual", ("kpi",))
        assert app.state.manual_refreshes == 1

        await pilot.press("R")
        await settle(pilot)
        assert counters.by_endpoint["sender-emails"] > mailboxes
        cycles = await runtime.store.recent_cycles(5)
        assert cycles[0].triggered_by == "manual"
        assert set(cycles[0].dashboards) == set(dashboard_names())

        before = monitor.cache_stats()
        assert before.entries_by_tag.get("infrastructure", 0) > 0
        await pilot.press("5", "c")
        after = monitor.cache_stats()
        assert after.entries_by_tag.get("infrastructure", 0) == 0
        assert after.entries_by_tag.get("kpi", 0) == before.entries_by_tag["kpi"]
        assert monitor.snapshots[DashboardName.INFRASTRUCTURE].rows  # data stays on screen
        await pilot.press("1", "c")  # not a dashboard pane: nothing cleared, told why
        assert monitor.cache_stats().entries == after.entries
        assert any("C clears every cache" in n.message for n in app._notifications)

        await pilot.press("C")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert monitor.cache_stats().entries == after.entries
        await pilot.press("C", "y")
        assert monitor.cache_stats().entries == 0


async def test_enter_on_overview_opens_the_dashboard(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        await pilot.press("down", "down", "enter")  # the Revenue row
        assert app.current_pane().id == "revenue"
        written: list[str] = []
        app._driver.write = written.append  # type: ignore[union-attr,method-assign]
        await pilot.press("y")  # copying goes out as OSC 52 (works over SSH)
        assert any(w.startswith("\x1b]52;c;") for w in written)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running
