"""80×24 reads whole: pinned name columns, reverse sort, the footer, whole last errors,
and NO_COLOR that can be read (issue 19, item 4).

Pilot tests on a 6-workspace simulator with a frozen clock, and snapshot
pictures at 80×24 (``--snapshot-update`` rewrites them under
``tests/__snapshots__/test_console_layout/``). The NO_COLOR pictures are
also read back as colours (:mod:`svg_contrast`): no text on them may be
nearly invisible, as the CRITICAL line was (grey 237 on grey 233).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import Monochrome
from textual.pilot import Pilot

from console_scenario import (
    drive,
    open_scenario,
    running_console,
    scenario_clock,
    screen_text,
    settle,
)
from portal_tui.console.app import PortalConsole
from portal_tui.console.no_color import MIN_CONTRAST, ReadableMonochrome, contrast
from portal_tui.console.table_model import Column, TableRow, TableView
from portal_tui.console.widgets.key_bar import key_bar_text
from portal_tui.console.widgets.row_preview import RowPreview
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.vocabulary.clock import FakeClock
from svg_contrast import TextRun, text_runs

SNAPSHOTS = Path(__file__).parent / "__snapshots__"
REVOKED = "revoked@8"
"""Workspace 8 of the 6-workspace scenario answers 401 (Summitroot Media)."""


def is_decoration(run: TextRun) -> bool:
    """Rules, underlines and scrollbars: box drawing and block characters, no words."""
    return all(ch == " " or "\u2500" <= ch <= "\u259f" for ch in run.text)


def make_app(tmp_path: Path, clock: FakeClock) -> PortalConsole:
    async def opener() -> Any:
        return await open_scenario(tmp_path / "snap.sqlite3", clock, workspaces=6)

    return PortalConsole(opener=opener, auto_refresh=False, handle_signals=False)


async def revoked_then_refreshed(pilot: Pilot[Any], clock: FakeClock) -> None:
    """One workspace's token is revoked and everything refreshed: a CRITICAL verdict."""
    await settle(pilot)
    pilot.app.runtime.simulator.faults.add_spec(REVOKED)  # type: ignore[attr-defined]
    clock.advance(200)
    await pilot.press("R")
    await settle(pilot)


def data_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ok " in line or "stale" in line]


# -- pinned columns -------------------------------------------------------------------


async def test_the_name_column_stays_when_the_table_scrolls_right(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, runtime, _):
        await pilot.press("2")
        await settle(pilot)
        table = app.query_one("#kpi-table", RowTable)
        workspaces = sorted(w.name for w in runtime.simulator.dataset.workspaces)
        before = screen_text(app)
        assert "Bounced" not in before  # the last columns are off screen at 80
        table.scroll_to(x=table.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        after = screen_text(app)
        header = next(line for line in after.splitlines() if "Workspace" in line)
        assert "State" in header and "Bounced" in header  # pinned, and the far right
        assert "Leads" not in header  # scrolled away from the pinned columns
        shown = [name for name in workspaces if name in after]
        assert shown == workspaces  # every row still says whose it is
        assert all("│" in line for line in data_rows(after))  # the rule after the pin
        table.scroll_to(x=0, animate=False, immediate=True)
        await pilot.pause()
        assert screen_text(app) == before  # unscrolled: nothing pinned, nothing moved


def test_pinned_kpi_table_scrolled_right(snap_compare: Any, tmp_path: Path) -> None:
    """KPI at 80×24 scrolled to its last column: State and Workspace stay at the left."""
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = pilot.app.query_one("#kpi-table", RowTable)
        table.scroll_to(x=table.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(80, 24), run_before=run_before)


def test_pinned_columns_give_way_when_they_would_fill_the_width() -> None:
    view = TableView([Column("a", "A", pinned=True), Column("b", "B"), Column("c", "C")])
    assert view.pinned_count == 1
    unpinned = TableView([Column("a", "A"), Column("b", "B", pinned=True)])
    assert unpinned.pinned_count == 0  # only a leading run of columns is pinned


# -- reverse sort ---------------------------------------------------------------------


def test_reverse_sort_flips_the_direction_and_the_default_order() -> None:
    view = TableView([Column("name", "Name"), Column("n", "N", numeric=True)])
    rows = [
        TableRow(str(i), (name, str(n)), (name, n))
        for i, (name, n) in enumerate([("b", 2), ("a", 3), ("c", 1)])
    ]
    view.set_rows(rows)
    assert view.reverse_sort() == "default order, reversed"
    assert [r.cells[0] for r in view.rows] == ["c", "a", "b"]
    assert view.cycle_sort() == "Name ↑"  # a new column starts in its own direction
    assert [r.cells[0] for r in view.rows] == ["a", "b", "c"]
    assert view.reverse_sort() == "Name ↓"
    assert [r.cells[0] for r in view.rows] == ["c", "b", "a"]
    assert view.cycle_sort() == "N ↓"  # numbers: largest first
    assert view.reverse_sort() == "N ↑"
    assert [r.cells[1] for r in view.rows] == ["1", "2", "3"]
    assert view.cycle_sort() == "default order"  # and back, not reversed
    assert [r.cells[0] for r in view.rows] == ["b", "a", "c"]


async def test_capital_s_reverses_the_sort_of_the_table(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        await pilot.press("2")
        await settle(pilot)
        table = app.query_one("#kpi-table", RowTable)
        ranked = [r.key for r in table.view.rows]
        await pilot.press("S")
        assert [r.key for r in table.view.rows] == ranked[::-1]
        await pilot.press("s", "s", "s")  # State, Workspace, Leads (largest first)
        leads = [r.sort_values[2] for r in table.view.rows]
        assert leads == sorted(leads, reverse=True)
        await pilot.press("S")
        assert [r.sort_values[2] for r in table.view.rows] == sorted(leads)
        assert "Leads ↑" in screen_text(app)  # the header says which way


def test_reverse_sorted_kpi_table(snap_compare: Any, tmp_path: Path) -> None:
    """KPI at 80×24 sorted by Leads, smallest first (``s`` three times, then ``S``)."""
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("s", "s", "s", "S")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(80, 24), run_before=run_before)


# -- the footer -----------------------------------------------------------------------


@pytest.mark.parametrize("width", range(18, 201, 7))
def test_the_footer_always_offers_help_and_quit_and_the_panes(width: int) -> None:
    for paused in (False, True):
        text = key_bar_text(width, paused=paused).plain
        assert len(text) <= width
        assert "? help" in text and "q quit" in text and "1-8" in text


async def test_the_footer_at_80_columns(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        footer = screen_text(app).splitlines()[-1]
        for word in ("1-8", "r refresh", "/ filter", "s sort", "S", "? help", "q quit"):
            assert word in footer
        await pilot.press("p")
        await pilot.pause()
        assert "p resume" in screen_text(app).splitlines()[-1]


# -- whole texts ----------------------------------------------------------------------


async def test_the_failures_pane_shows_the_selected_last_error_whole(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, runtime, clock):
        runtime.simulator.faults.add_spec(REVOKED)
        clock.advance(200)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        table = app.query_one("#failures-table", RowTable)
        message = table.selected.cells[6] if table.selected else ""
        assert len(message) > 40  # longer than the column shows at 80
        text = screen_text(app)
        flat = " ".join(line.strip() for line in text.splitlines())
        assert f"Last error: {message}" in flat
        assert "Request: stats" in flat
        await pilot.press("down")
        await pilot.pause()
        preview = app.query_one("#failure-preview", RowPreview)
        assert table.selected is not None
        assert table.selected.cells[7] in str(preview.render())  # follows the cursor


def test_failures_pane_no_color(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR at 80×24: Failures with a revoked token, the last error whole below."""
    monkeypatch.setenv("NO_COLOR", "1")
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await revoked_then_refreshed(pilot, clock)
        await pilot.press("6")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(80, 24), run_before=run_before)


def test_stale_rows_paused_no_color(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR at 80×24: KPI after the instance went down (every row ◐ stale, the
    dashboard ✗ error) with auto-refresh paused (the PAUSED banner)."""
    monkeypatch.setenv("NO_COLOR", "1")
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.runtime.simulator.faults.add_spec("down")  # type: ignore[attr-defined]
        clock.advance(180)
        await pilot.press("R")
        await drive(pilot, clock)
        clock.advance(60)
        await pilot.press("2", "p")
        await settle(pilot)
        pilot.app.clear_notifications()
        pilot.app.tick()  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(80, 24), run_before=run_before)


# -- NO_COLOR contrast ----------------------------------------------------------------


def no_color_pictures() -> list[Path]:
    return sorted(p for p in SNAPSHOTS.rglob("*.svg") if "no_color" in p.name)


def test_there_are_no_color_pictures_to_read() -> None:
    names = {p.name for p in no_color_pictures()}
    assert "test_no_color_loses_nothing.svg" in names
    assert "test_failures_pane_no_color.svg" in names
    assert "test_stale_rows_paused_no_color.svg" in names


@pytest.mark.parametrize("picture", no_color_pictures(), ids=lambda p: p.stem)
def test_every_text_reads_under_no_color(picture: Path) -> None:
    runs = text_runs(picture.read_text(encoding="utf-8"))
    assert len(runs) > 20
    faint = [r for r in runs if not is_decoration(r) and r.contrast < MIN_CONTRAST]
    assert faint == [], faint
    verdict = [r for r in runs if "CRITICAL" in r.text and "Health" in r.text]
    assert all(r.contrast >= 7 for r in verdict)  # the verdict line stands out


MODAL_PICTURES = ("finding_view",)
"""Pictures of a modal screen: the console behind it is dimmed on purpose."""


def colour_pictures() -> list[Path]:
    return sorted(
        p
        for p in SNAPSHOTS.rglob("*80x24*.svg")
        if "no_color" not in p.name and not any(m in p.name for m in MODAL_PICTURES)
    )


@pytest.mark.parametrize("picture", colour_pictures(), ids=lambda p: p.stem)
def test_the_header_and_verdict_read_in_colour(picture: Path) -> None:
    """In colour too: the header at AA, the bold verdict near it (Textual's ANSI red on
    its background is 4.47), and no text under 3 (an unfocused table's selected row
    was light grey on pure white: 1.3)."""
    runs = text_runs(picture.read_text(encoding="utf-8"))
    header = [r for r in runs if r.line == 0]
    assert header and all(r.contrast >= MIN_CONTRAST for r in header), header
    verdict = [r for r in runs if "Health" in r.text]
    assert all(r.contrast >= 4.4 for r in verdict), verdict
    faint = [r for r in runs if not is_decoration(r) and r.contrast < 3]
    assert faint == [], faint


def _grey_of(style: Style) -> int:
    assert style.color is not None and style.color.triplet is not None
    return style.color.triplet.red


def test_the_old_filter_hid_red_text_and_the_new_one_does_not() -> None:
    """The cause: luminance greys make red (the "bad" tone) nearly the background's grey."""
    background = Color.parse("#121212")
    red = Style(color=RichColor.parse("#cc0000"), bold=True)
    old = Monochrome().apply([Segment("✖ CRITICAL", red)], background)[0].style
    new = ReadableMonochrome().apply([Segment("✖ CRITICAL", red)], background)[0].style
    assert old is not None and new is not None
    assert contrast(_grey_of(old), 0x12) < 2  # what NO_COLOR showed: 237 on 233
    assert contrast(_grey_of(new), 0x12) >= 7
    muted = Style(color=RichColor.parse("#595959"))
    lifted = ReadableMonochrome().apply([Segment("muted", muted)], background)[0].style
    assert lifted is not None
    assert contrast(_grey_of(lifted), 0x12) >= MIN_CONTRAST
    assert _grey_of(lifted) < 0xE0  # still dimmer than body text: lifted, not flattened
    rule = ReadableMonochrome().apply([Segment("━━━", muted)], background)[0].style
    assert rule is not None and _grey_of(rule) == 0x59  # decoration keeps its grey


async def test_no_color_console_uses_the_readable_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with running_console(tmp_path / "c.db") as (app, _, _, _):
        kinds = [type(f) for f in app._filters]
        assert ReadableMonochrome in kinds and Monochrome not in kinds


async def test_the_mailbox_caption_shows_a_cut_address_whole(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        await pilot.press("5")
        await settle(pilot)
        table = app.query_one("#mailbox-table", RowTable)
        width = table.view.widths[0]
        long = next(i for i, r in enumerate(table.view.rows) if len(r.cells[0]) > width)
        table.focus()
        table.move_cursor(long)
        await pilot.pause()
        address = table.view.rows[long].cells[0]
        caption = next(line for line in screen_text(app).splitlines() if "Mailboxes" in line)
        assert f"▸ {address}" in caption  # whole, though the column cuts it
        short = next(i for i, r in enumerate(table.view.rows) if len(r.cells[0]) <= width)
        table.move_cursor(short)
        await pilot.pause()
        caption = next(line for line in screen_text(app).splitlines() if "Mailboxes" in line)
        assert "▸" not in caption and "tab: other table" in caption
