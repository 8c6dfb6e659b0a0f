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
        made, needed = (int(x) for x in row[7].split(" / "))
        assert made >= needed > 0  # retries only ever add requests
        assert float(row[3].split(" ")[0]) > 0 and float(row[4].split(" ")[0]) > 0
    for key, figures in refresh["data"].items():
        assert figures["wall"]["median"] > 0 and figures["ratio"]["median"] > 0, key

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
