"""The benchmark suite at a tiny size, so its code cannot rot (issue 5).

This runs ``python -m bench --smoke`` for real (the simulator in its own
process, loopback HTTP, SQLite) and checks that it produces sane rows. It
asserts nothing about speed: timing targets belong to the full run, whose
results are in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_the_smoke_run_writes_sane_rows(tmp_path: Path) -> None:
    out, raw = tmp_path / "bench.md", tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "bench", "--smoke", "--only", "refresh,sender,master,sqlite",
            "--out", str(out), "--json", str(raw),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "**Command**: `python -m bench --smoke" in text and "**Machine**" in text
    sections = json.loads(raw.read_text())
    titles = list(sections)
    assert [t.split(" ")[0] for t in titles] == ["Full", "Sender", "Master", "SQLite"]

    refresh = sections[titles[0]]
    schedules = [row[2] for row in refresh["rows"]]
    assert schedules.count("sliding window") == 2  # plain and with hangs
    assert {"fixed batches of 5", "sequential"} <= set(schedules)
    for row in refresh["rows"]:
        made, needed = (int(x) for x in row[10].split(" / "))
        assert made >= needed > 0  # retries only ever add requests
        assert float(row[3].split(" ")[0]) > 0 and float(row[4].split(" ")[0]) > 0
    for key, figures in refresh["data"].items():
        assert figures["wall"]["median"] > 0 and figures["ratio"]["median"] > 0, key
        # No client beats the ideal replay of what it was served; it never beats the bound.
        assert figures["ideal_ratio"]["median"] >= 1.0 - 1e-9, key
        assert figures["client_ratio"]["median"] > 0, key
        parts = [figures[n]["runs"][0] for n in ("ideal_ratio", "simulator_share", "client_ratio")]
        assert parts[0] * parts[1] * parts[2] == pytest.approx(figures["ratio"]["runs"][0]), key

    (sender_row,) = sections[titles[1]]["rows"]
    assert int(sender_row[2]) >= 4  # at least a page per workspace at 15 per page

    (master_row,) = sections[titles[2]]["rows"]
    made, needed = (int(x) for x in master_row[5].split(" / "))
    assert made >= needed > 0

    sqlite = sections[titles[3]]
    assert sqlite["data"]["sizes"] and all(v > 0 for v in sqlite["data"]["sizes"].values())


def test_figures_and_percentiles() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.stats import Figure, percentile
        from bench.upstream import Served
    finally:
        sys.path.remove(str(ROOT))
    figure = Figure.of([3.0, 1.0, 2.0], "s")
    assert (figure.median, figure.low, figure.high) == (2.0, 1.0, 3.0)
    assert figure.text() == "2.00 s (1.00–3.00)"
    assert Figure.of([5.0], "ms", 0).text() == "5 ms (1 run)"
    assert percentile(list(range(1, 101)), 99) == 99
    served = Served(10, 10, 10.0, 4.0, 0, 0, {}, {}, 5, {})
    assert served.lower_bound(5) == 4.0  # max(10 / 5, 4)
    hung = Served(10, 9, 9.0, 1.0, 1, 0, {}, {}, 5, {})
    assert hung.lower_bound(5, hang_wait=3.0) == 3.0  # max((9 + 3) / 5, 3)
    master = Served(0, 0, 0.0, 0.0, 0, 2, {}, {}, 5, {"2": [0.1, 1.0, 0.5], "3": [0.2, 0.2, 0.2]})
    assert master.master_lower_bound(5) == pytest.approx((0.1 + 0.5) + (0.2 + 0.2))


def test_the_ideal_replay_keeps_dependencies_and_starts_what_unlocks_work_first() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.upstream import replay
    finally:
        sys.path.remove(str(ROOT))
    ws = "api-user:1"
    page = [["per_page", "15"]]
    trace = [  # [arrived, path, token, query, latency, service time]
        [0.0, "/api/workspaces/v1.1", "master", [], 1.0, 1.1],
        [1.0, "/api/workspaces/v1.1/stats", ws, [["n", "1"]], 1.0, 1.1],
        [1.0, "/api/workspaces/v1.1/stats", ws, [["n", "2"]], 1.0, 1.1],
        [1.0, "/api/sender-emails", ws, [["page", "1"], *page], 1.0, 1.1],
        [2.0, "/api/sender-emails", ws, [["page", "2"], *page], 2.0, 2.1],
    ]
    # At 2: the list [0,1]; page 1 (it unlocks page 2) and one stats [1,2]; then page 2
    # [2,4] beside the other stats [2,3]. In arrival order it would end at 5.
    assert replay(trace, 2) == pytest.approx(4.0)
    assert replay(trace, 2, service=True) == pytest.approx(4.3)  # 1.1 + 1.1 + 2.1
    assert replay(trace, 1) == pytest.approx(6.0)  # one slot: ΣL
    # A hang holds its slot for the attempt timeout, then its retry runs.
    hung = [*trace, [3.0, "/api/workspaces/v1.1/stats", ws, [["n", "3"]], None]]
    hung.append([6.0, "/api/workspaces/v1.1/stats", ws, [["n", "3"]], 0.5, 0.5])
    assert replay(hung, 1, hang_wait=3.0) == pytest.approx(6.0 + 3.0 + 0.5)


@pytest.mark.timeout(120)
def test_the_fetch_cost_bench_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.fetch_cost", "--requests", "20", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok", "retried"]
    assert all(float(line.split()[1]) > 0 for line in lines)


@pytest.mark.timeout(300)
def test_the_records_month_bench_runs_beside_its_baseline() -> None:
    """Issue 20's bench at a tiny size: this tree beside ``git archive HEAD~0`` (the same
    code, so the same file size), with roll-ups after an hour."""
    args = ["--days", "2", "--workspaces", "3", "--hours", "3", "--raw-hours", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "bench.records_month", *args, "--json", "--baseline", "HEAD"],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    both = json.loads(result.stdout)
    mine, base = both["this tree"], both["HEAD"]
    for run in (mine, base):
        assert set(run["sizes"]) == {"1", "2"} and all(v > 0 for v in run["sizes"].values())
        assert run["api_calls_per_hour"] > 0 and run["reads"]["history_30d_calls"] > 0
    assert "api_call_rollups" in mine["tables_at_30"]  # attempts past an hour were rolled up
    # Every attempt written is counted, raw or rolled up.
    assert mine["reads"]["history_30d_calls"] == mine["api_calls_per_hour"] * 2 * 3


@pytest.mark.timeout(180)
def test_the_console_pty_harness_measures_the_real_console(tmp_path: Path) -> None:
    """``bench.console_pty`` at a tiny size: the real console in a pty, two refreshes."""
    raw = tmp_path / "pty.jsonl"
    result = subprocess.run(
        [
            sys.executable, "-m", "bench.console_pty", "--workspaces", "4", "--mailboxes", "60",
            "--median", "0.002", "--tail", "0.5", "--settle", "0.2", "--json", str(raw),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = [json.loads(line) for line in raw.read_text().splitlines()]
    assert 20 < run["hwm_after_one_mb"] <= run["hwm_after_two_mb"] < 1000
    assert run["keys"] >= 4 and run["keys_lost"] == 0  # the tail's keys at least, each seen
    assert 0 < run["key_p50_ms"] <= run["key_p99_ms"] <= run["key_max_ms"] < 30_000
    assert "| keypress→screen p99 |" in result.stdout
