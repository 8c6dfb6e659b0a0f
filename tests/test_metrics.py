"""``portal-tui metrics`` (issue 17, item 6): OpenMetrics from the records alone, in
agreement with the verdict every other face gives; the textfile written atomically;
the example Prometheus rules checked against what the exporter emits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as parse_text

from portal_tui.cli import main
from portal_tui.engine.verdict import verdict_from_records
from portal_tui.reports import export as export_module
from portal_tui.reports.export import build_report
from portal_tui.reports.metrics import LEVELS, read_snapshot, render_openmetrics
from portal_tui.reports.records_file import RecordsLocation
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock
from support import MASTER, NOW, hand_dataset, token_env
from test_export import incident_records

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "portal-tui.rules.yml"
AFTER = NOW + timedelta(seconds=180)


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of an OpenMetrics text by sample name (the parser also checks the text)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append((dict(s.labels), s.value))
    return found


def one(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    (value,) = [v for lab, v in found[name] if all(lab.get(k) == x for k, x in labels.items())]
    return value


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


async def test_metrics_agree_with_the_verdict_and_the_records(tmp_path: Path) -> None:
    path = await incident_records(tmp_path)
    async with await Store.open(path, clock=FakeClock(AFTER)) as store:
        verdict = await verdict_from_records(store, AFTER)
        report = await build_report(
            store, RecordsLocation(path, "--db"), now=AFTER, since=timedelta(minutes=5)
        )
        text = render_openmetrics(await read_snapshot(store, AFTER))
        counts = await store.api_call_counts(AFTER - timedelta(minutes=5))
    assert text.endswith("# EOF\n")
    found = samples(text)
    # The one verdict: the score and level check/export/doctor give.
    assert verdict.level == "CRITICAL" and verdict.score == 50
    assert one(found, "portal_tui_health_score") == verdict.score == report["health"]["score"]
    assert one(found, "portal_tui_health_level") == LEVELS["CRITICAL"] == 2
    assert one(found, "portal_tui_last_cycle_timestamp_seconds") == pytest.approx(
        (NOW + timedelta(seconds=120)).timestamp(), abs=5
    )
    # Globex's token revoked: FAILING after hysteresis, on every dashboard it feeds.
    failing = {
        (lab["instance"], lab["workspace"], lab["dashboard"]): v
        for lab, v in found["portal_tui_workspace_failing"]
    }
    assert failing == {
        ("sim", "Globex", d): 1.0 for d in ("kpi", "volume", "revenue", "infrastructure")
    }
    # Dashboard ages from data_cache_metadata: the last good refresh a minute ago.
    assert one(found, "portal_tui_dashboard_age_seconds", dashboard="kpi") == pytest.approx(
        60, abs=1
    )
    assert one(found, "portal_tui_dashboard_ttl_seconds", dashboard="kpi") == 120
    # Open findings by (rule, severity); validation errors by severity, all four present.
    rules = {
        (lab["rule"], lab["severity"]): v for lab, v in found["portal_tui_consistency_findings"]
    }
    expected: dict[tuple[str, str], float] = {}
    for f in report["consistency_findings"]:
        key = (f["rule"], f["severity"])
        expected[key] = expected.get(key, 0) + 1
    assert rules == expected and ("sender-email-unique", "error") in rules
    assert {lab["severity"] for lab, _ in found["portal_tui_validation_errors"]} >= {
        "info",
        "warning",
        "error",
        "critical",
    }
    # API attempts in the 5-minute window: ok + each error kind = every attempt logged.
    (total,) = [c for c in counts if c.error_type is None]
    requests = {lab["outcome"]: v for lab, v in found["portal_tui_api_requests_total"]}
    assert requests["ok"] == total.attempts - total.failed
    assert requests["4xx"] == total.failed > 0
    assert sum(requests.values()) == total.attempts
    assert one(found, "portal_tui_api_window_seconds") == 300
    # The response-time histogram counts the same attempts; buckets are cumulative.
    assert one(found, "portal_tui_api_response_seconds_gcount", instance="sim") == total.attempts
    buckets = [v for lab, v in found["portal_tui_api_response_seconds_bucket"]]
    assert buckets == sorted(buckets) and buckets[-1] == total.attempts
    assert one(found, "portal_tui_api_response_seconds_gsum", instance="sim") > 0


async def test_no_records_yet_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    async with await Store.open(path, clock=FakeClock(NOW)) as store:
        found = samples(render_openmetrics(await read_snapshot(store, NOW)))
    assert one(found, "portal_tui_health_level") == LEVELS["UNKNOWN"] == 3
    assert one(found, "portal_tui_health_score") == 0
    assert "portal_tui_dashboard_age_seconds" not in found  # never refreshed: no age, not 0


def test_the_command_prints_what_export_says_and_no_token(tmp_path: Path) -> None:
    path = asyncio.run(incident_records(tmp_path))
    code, out, err = run_cli(["metrics", "--db", str(path)])
    assert (code, err) == (0, "")
    found = samples(out)
    code, report_text, _ = run_cli(["export", "--format", "json", "--db", str(path)])
    health = json.loads(report_text)["health"]
    # Both read the same file on the real clock (weeks after the rig's cycles): same verdict.
    assert one(found, "portal_tui_health_score") == health["score"]
    assert one(found, "portal_tui_health_level") == LEVELS[health["status"]]
    tokens = [MASTER, *token_env(hand_dataset()).values()]
    assert not any(token in out for token in tokens)
    code, out, _ = run_cli(["metrics", "--since", "1h", "--db", str(path)])
    assert code == 0 and one(samples(out), "portal_tui_api_window_seconds") == 3600


def test_the_textfile_is_replaced_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = asyncio.run(incident_records(tmp_path))
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "portal_tui.prom"
    target.write_text("old_metric 1\n")
    seen: dict[str, Any] = {}
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        # At the moment of the rename the reader still sees the old file whole, and the
        # new one is complete beside it, in the same directory (so the rename is atomic).
        seen["target"] = Path(dst).read_text()
        seen["temp_dir"] = Path(src).parent
        seen["temp"] = Path(src).read_text()
        real_replace(src, dst)

    monkeypatch.setattr(export_module.os, "replace", replace)
    code, out, err = run_cli(["metrics", "--db", str(path), "--textfile", str(target)])
    assert (code, out, err) == (0, "", "")
    assert seen["target"] == "old_metric 1\n" and seen["temp_dir"] == folder
    new = target.read_text()
    assert seen["temp"] == new and "old_metric" not in new
    names = {f.name for f in parse_text(new)}  # node_exporter reads the classic text format
    assert {"portal_tui_health_score", "portal_tui_workspace_failing"} <= names
    assert [p.name for p in folder.iterdir()] == ["portal_tui.prom"]  # no temp file left


def test_a_failed_textfile_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = asyncio.run(incident_records(tmp_path))
    target = tmp_path / "portal_tui.prom"
    target.write_text("old_metric 1\n")

    def full(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module.os, "replace", full)
    code, out, err = run_cli(["metrics", "--db", str(path), "--textfile", str(target)])
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "cannot write" in err and "No space left" in err
    assert target.read_text() == "old_metric 1\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    code, _, err = run_cli(["metrics", "--db", str(path), "--textfile", str(tmp_path / "no/x")])
    assert code == 3 and "no directory" in err


# -- the example rules file --------------------------------------------------------------------


def emitted_names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples} | {
        f.name for f in text_string_to_metric_families(text)
    }


async def test_the_rules_reference_only_metrics_the_exporter_emits(tmp_path: Path) -> None:
    names = emitted_names(await incident_exposition(tmp_path))
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    alerts = {r["alert"] for r in rules}
    assert {"PortalTuiDataIntegrity", "PortalTuiDashboardStale", "PortalTuiUpstreamErrorRate"} <= (
        alerts
    )
    for rule in rules:
        used = set(re.findall(r"\bportal_tui_\w+", rule["expr"] + json.dumps(rule["annotations"])))
        assert used and used <= names, (rule["alert"], used - names)


async def incident_exposition(tmp_path: Path) -> str:
    path = await incident_records(tmp_path)
    async with await Store.open(path, clock=FakeClock(AFTER)) as store:
        return render_openmetrics(await read_snapshot(store, AFTER))


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_the_rules_and_they_fire_on_real_output(tmp_path: Path) -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # Feed the exposition of a real incident to promtool's rule unit tests: the rules
    # must fire on what the exporter really emits.
    text = asyncio.run(incident_exposition(tmp_path))
    series = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            series.append({"series": f"{s.name}{{{labels}}}", "values": f"{s.value:g}x20"})
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "1m",
                        "alertname": "PortalTuiWorkspaceFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "instance": "sim",
                                    "workspace": "Globex",
                                },
                                "exp_annotations": {
                                    "summary": "portal-tui: workspace Globex is FAILING"
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "15m",
                        "alertname": "PortalTuiHealthCritical",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical"},
                                "exp_annotations": {
                                    "summary": "portal-tui health is CRITICAL (score 50)"
                                },
                            }
                        ],
                    },
                    {"eval_time": "15m", "alertname": "PortalTuiDataIntegrity", "exp_alerts": []},
                ],
            }
        ],
    }
    spec = tmp_path / "rules_test.yml"
    spec.write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        ["promtool", "test", "rules", str(spec)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
