"""Judging a cycle in a forked child: same verdict and record, nothing held on this GIL
(issue 20, keys at the end of a big refresh)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from portal_tui.engine import apart
from portal_tui.engine.apart import FORK_AVAILABLE, run_apart
from support import rig
from test_consistency import full_registry

needs_fork = pytest.mark.skipif(not FORK_AVAILABLE, reason="fork is Linux-only here")


@needs_fork
def test_the_work_runs_in_a_child_and_its_result_comes_back() -> None:
    parent = os.getpid()
    pid, value = run_apart(lambda: (os.getpid(), {"rows": list(range(5))}))
    assert pid != parent and value == {"rows": [0, 1, 2, 3, 4]}
    assert apart.last.forked and apart.last.peak_rss_mb > 0


@needs_fork
def test_what_the_child_changes_stays_in_the_child() -> None:
    memo: dict[str, int] = {}

    def work() -> int:
        memo["filled"] = 1
        return len(memo)

    assert run_apart(work) == 1
    assert memo == {}  # the caller must return what it needs: the monitor returns its memo


@needs_fork
def test_the_works_own_error_is_raised_here() -> None:
    def work() -> None:
        raise ValueError("bad rule input")

    with pytest.raises(ValueError, match="bad rule input"):
        run_apart(work)


@needs_fork
def test_a_result_that_does_not_pickle_is_computed_here_instead() -> None:
    calls: list[int] = []

    def work() -> Any:
        calls.append(os.getpid())
        return threading.Lock()  # cannot be pickled

    result = run_apart(work)
    assert hasattr(result, "acquire") and not apart.last.forked
    assert calls == [os.getpid()]  # the child's call is not seen here; the fallback's is


def test_without_apart_the_work_runs_here() -> None:
    assert run_apart(os.getpid, apart=False) == os.getpid()


async def _findings_of(tmp_path: Path, judge_apart: bool) -> list[Any]:
    out: list[Any] = []
    async with rig(tmp_path, clients=full_registry()) as r:
        r.monitor.judge_apart = judge_apart
        await r.monitor.refresh()
        r.faults.add_spec("decrease@3=interested:0.5")
        for _ in range(2):
            r.clock.advance(60)  # type: ignore[attr-defined]
            await r.monitor.refresh(force=True)
            out.append(
                (
                    [(f.rule, f.subject, f.message, f.occurrences) for f in r.monitor.findings],
                    {
                        k: (v.checksum, v.source_digest)
                        for k, v in r.monitor.consistency.checksums.items()
                    },
                    sorted(r.monitor.consistency.digest_memo.items()),
                    await r.store.open_findings(),
                )
            )
    return out


@needs_fork
async def test_the_monitor_judged_apart_finds_and_records_what_it_finds_in_a_thread(
    tmp_path: Path,
) -> None:
    here = await _findings_of(tmp_path / "thread", judge_apart=False)
    forked = await _findings_of(tmp_path / "child", judge_apart=True)
    assert apart.last.forked
    assert here[1][0] and here[1][0][0][:2] == ("mtd-counters", "sim/Globex MTD")
    assert here[1][2]  # the payload digests are remembered across cycles, child or not
    assert [x[:3] for x in forked] == [x[:3] for x in here]
    assert [len(x[3]) for x in forked] == [len(x[3]) for x in here]


def test_the_digest_memo_keeps_only_responses_a_cache_can_serve_again() -> None:
    from datetime import UTC, datetime, timedelta

    from portal_tui.consistency.checksums import prune_digests

    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    memo = {
        ("stats/1", now - timedelta(minutes=4)): "old",  # replaced by a newer response
        ("stats/1", now - timedelta(minutes=2)): "newer",
        ("stats/1", now): "newest",
        ("mailboxes/1", now - timedelta(minutes=9)): "kept",  # still its request's latest
        ("mailboxes/2", now - timedelta(hours=3)): "expired",
    }
    prune_digests(memo, now)
    assert memo == {("stats/1", now): "newest", ("mailboxes/1", now - timedelta(minutes=9)): "kept"}
