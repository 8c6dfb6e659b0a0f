"""A fifth dashboard is one module plus one registry line (issue 14).

The module is ``tests/toy_dashboard.py``; the line is the ``monkeypatch``
in :func:`toy`. Nothing in ``src/`` names it, yet it is computed in the
refresh cycle after the dashboard it reads, takes a ``[ttl]`` entry and a
``--dashboard`` choice, is recorded in SQLite, reported by ``check --json``
and given a console pane with its columns and totals line.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from console_scenario import running_console, screen_text, settle
from portal_tui.cli.main import main
from portal_tui.console.bindings import help_rows, panes
from portal_tui.dashboards import registry
from portal_tui.dashboards.registry import Registry, compute_order, dashboard_names
from portal_tui.vocabulary.errors import ConfigError
from support import MASTER, hand_dataset
from test_secrets import ENV_NAMES, simulator_thread, write_config
from toy_dashboard import BOUNCES, NAME


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the toy dashboard: the one registry line."""
    monkeypatch.setattr(registry, "REGISTRY", Registry((*registry.DASHBOARDS, BOUNCES)))


@pytest.mark.usefixtures("toy")
def test_the_registry_places_it_after_what_it_reads() -> None:
    assert dashboard_names()[-1] == NAME
    order = compute_order()
    assert order.index(NAME) > order.index("kpi")
    assert ("bounces", "Bounces") in panes()


@pytest.mark.usefixtures("toy")
def test_computed_recorded_and_in_check_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = hand_dataset().tokens()
    monkeypatch.setenv(ENV_NAMES["master"], MASTER)
    monkeypatch.setenv(ENV_NAMES[2], tokens[2])
    monkeypatch.setenv(ENV_NAMES[3], tokens[3])
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with simulator_thread("") as (base_url, _sim):
        config = write_config(tmp_path, base_url)
        with config.open("a") as handle:
            handle.write("[ttl]\nbounces = 90.0\n")  # its TTL: a key no code lists
        code = main(["check", "--json", "--config", str(config)])
        report = json.loads(capsys.readouterr().out)
        assert code in (0, 1), report
        board = report["dashboards"]["bounces"]
        assert board["rows"] >= 2 and board["error"] is None
        assert board["totals"]["workspaces"] == board["rows"]
        assert set(report["dashboards"]) == set(dashboard_names())

        # Alone, it reads KPI's snapshot from the records (KPI is not refreshed).
        code = main(["check", "--json", "--config", str(config), "--dashboard", "bounces"])
        alone = json.loads(capsys.readouterr().out)
        assert list(alone["dashboards"]) == ["bounces"]
    with sqlite3.connect(tmp_path / "records.sqlite3") as db:
        (payload,) = db.execute(
            "SELECT payload FROM dashboard_snapshots WHERE dashboard = 'bounces'"
        ).fetchone()
        (kpi_payload,) = db.execute(
            "SELECT payload FROM dashboard_snapshots WHERE dashboard = 'kpi'"
        ).fetchone()
    rows = json.loads(payload)["rows"]
    leads = {r["workspace"]: r["leads_generated"] for r in json.loads(kpi_payload)["rows"]}
    assert rows and {r["workspace"]: r["kpi_leads"] for r in rows} == leads


def test_unregistered_it_is_an_unknown_ttl_key_and_dashboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from portal_tui.config import parse_config

    with pytest.raises(ConfigError) as info:
        parse_config("[ttl]\nbounces = 90.0\n", dashboard_ttls=registry.default_ttls())
    assert (info.value.key, info.value.line) == ("ttl.bounces", 2)
    with pytest.raises(SystemExit):
        main(["check", "--dashboard", "bounces"])
    assert "invalid choice: 'bounces'" in capsys.readouterr().err


@pytest.mark.usefixtures("toy")
async def test_it_gets_a_pane_with_its_columns_and_totals(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", size=(120, 30)) as (app, pilot, runtime, _):
        snaps = runtime.monitor.snapshots
        assert NAME in snaps  # computed by the start-up refresh, reading KPI's fresh rows
        leads = {r.key: getattr(r, "leads_generated", None) for r in snaps["kpi"].rows}
        assert {r.key: getattr(r, "kpi_leads", None) for r in snaps[NAME].rows} == leads
        assert any(leads.values())
        number = [pane for pane, _ in panes()].index("bounces") + 1
        await pilot.press(str(number))
        await settle(pilot)
        assert app.current_pane().id == "bounces"
        text = screen_text(app)
        for header in ("Sent", "Bounced", "Bounce%", "KPI leads"):
            assert header in text
        assert "toy dashboard" in text  # its totals line
        assert f"{number} Bounces" in text  # its tab
        assert help_rows()[0][0] == "1-9"  # nine panes now: nine pane keys in the help


async def test_an_app_made_after_it_is_unregistered_has_no_such_pane(tmp_path: Path) -> None:
    # The pane keys are bound per app from the registry of the moment, not at import.
    async with running_console(tmp_path / "c.db", size=(120, 30)) as (app, pilot, _, _):
        await pilot.press("9")  # eight panes: no ninth key
        await settle(pilot)
        assert app.current_pane().id == "overview"
        await pilot.press("8")
        await settle(pilot)
        assert app.current_pane().id == "history"
        assert "Bounces" not in screen_text(app)
