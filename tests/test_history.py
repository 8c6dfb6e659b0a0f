"""``portal-tui history`` on records written by real refresh cycles."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.cli import main
from portal_tui.reports.history import build_history, print_history
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.timespan import describe_span, parse_span
from support import NOW, rig
from test_consistency import full_registry

KPI = DashboardName.KPI


async def troubled_records(tmp_path: Path) -> Path:
    """Acme's stats answer 503 on their first attempt (then recover on retry); Globex's
    token is revoked for two cycles (failing), then restored for two (recovered)."""
    async with rig(tmp_path, clients=full_registry(), faults="revoked@3") as r:
        r.faults.add_spec("fail_first@2/stats=1:status=503")
        for _ in range(2):
            await r.monitor.refresh([KPI], force=True)
            r.clock.advance(30)  # type: ignore[attr-defined]
        r.faults.clear()
        for _ in range(2):
            await r.monitor.refresh([KPI], force=True)
            r.clock.advance(30)  # type: ignore[attr-defined]
        return r.store.path


async def history_of(path: Path, **kwargs: Any) -> dict[str, Any]:
    now = NOW + timedelta(minutes=5)
    async with await Store.open(path, clock=FakeClock(now)) as store:
        return await build_history(store, now=now, since=timedelta(hours=1), **kwargs)


async def test_per_workspace_rates_percentiles_errors_and_transitions(tmp_path: Path) -> None:
    doc = await history_of(await troubled_records(tmp_path))
    assert doc["schema"] == 1 and doc["window"] == "1h"
    entries = {(e["instance"], e["workspace"]): e for e in doc["workspaces"]}
    assert set(entries) == {
        ("sim", None),
        ("sim", "Acme Corp"),
        ("sim", "Globex"),
        ("sim", "Initech"),
    }
    acme = entries[("sim", "Acme Corp")]
    assert acme["errors_by_type"] == {"5xx": 1}  # its very first stats call, then retried
    assert acme["calls"] == 4 * 4 + 1 and acme["failed"] == 1
    assert acme["success_rate"] == round(16 / 17, 4)
    assert 0 < acme["p50_ms"] <= acme["p95_ms"] <= acme["max_ms"]
    assert acme["last_error"].startswith("5xx 503")
    globex = entries[("sim", "Globex")]
    assert globex["errors_by_type"] == {"4xx": 8} and globex["failed"] == 8
    assert [(t["from"], t["to"]) for t in globex["transitions"]] == [
        ("ok", "failing"),
        ("failing", "recovered"),
    ]
    # Worst first within the instance.
    assert doc["workspaces"][0]["workspace"] == "Globex"
    assert doc["calls"] == sum(e["calls"] for e in doc["workspaces"])

    text = io.StringIO()
    print_history(doc, text)
    out = text.getvalue()
    assert "Globex" in out and "4xx×8" in out and "5xx×1" in out and "(instance)" in out
    assert "ok → failing" in out and "failing → recovered" in out


async def test_workspace_filter_is_case_insensitive(tmp_path: Path) -> None:
    path = await troubled_records(tmp_path)
    doc = await history_of(path, workspace="acme CORP")
    assert [e["workspace"] for e in doc["workspaces"]] == ["Acme Corp"]
    assert doc["workspace_filter"] == "acme CORP"
    none = await history_of(path, workspace="Umbrella")
    assert none["workspaces"] == [] and "Globex" in none["known_workspaces"]


def test_cli_history_text_json_and_bad_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = asyncio.run(troubled_records(tmp_path))
    # The records carry the rig's fake dates; the CLI measures from the real clock.
    assert main(["history", "--db", str(db), "--since", "3000d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("portal-tui history: last 3000d") and "Acme Corp" in out
    assert main(["history", "--db", str(db), "--since", "3000d", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {e["workspace"] for e in doc["workspaces"]} >= {"Acme Corp", "Globex"}
    assert main(["history", "--db", str(db), "--since", "3000d", "--workspace", "nope"]) == 0
    err = capsys.readouterr().err
    assert "nothing recorded for workspace 'nope'" in err and "Acme Corp" in err
    for bad in ("1y", "0h", "-1h", "h", "9999d"):
        with pytest.raises(SystemExit) as info:
            main(["history", "--db", str(db), f"--since={bad}"])
        assert info.value.code == 3
        assert "argument --since: invalid time span" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [("1h", 3600, "1h"), ("24h", 86400, "24h"), ("7d", 604800, "7d"), ("90m", 5400, "90m"),
     ("2w", 1209600, "14d"), ("45s", 45, "45s"), (" 1.5h ", 5400, "90m")],
)  # fmt: skip
def test_spans(text: str, seconds: int, shown: str) -> None:
    span = parse_span(text)
    assert span.total_seconds() == seconds and describe_span(span) == shown


async def test_operator_actions_are_in_the_history(tmp_path: Path) -> None:
    path = await troubled_records(tmp_path)
    async with await Store.open(path, clock=FakeClock(NOW + timedelta(minutes=3))) as store:
        await store.record_operator_action("retry-failed", "Globex (sim) on kpi", who="carol")
    doc = await history_of(path)
    assert doc["operator_actions"] == [
        {
            "at": (NOW + timedelta(minutes=3)).isoformat(),
            "who": "carol",
            "action": "retry-failed",
            "detail": "Globex (sim) on kpi",
        }
    ]
    text = io.StringIO()
    print_history(doc, text)
    assert "Operator actions:" in text.getvalue()
    assert "carol retry-failed: Globex (sim) on kpi" in text.getvalue()
