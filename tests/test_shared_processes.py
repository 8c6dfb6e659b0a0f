"""The shared tier through one records file, with real processes (issue 18).

Each worker is its own process running the real runtime against the simulator
over loopback HTTP; what reached the upstream is read from the simulator's
request log, never from the workers' own accounts.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from shared_rig import environment, start_workers, straddles, upstream, write_config

SWITCH = "switch-workspace"


async def test_three_processes_on_one_file_fetch_each_distinct_request_once(
    tmp_path: Path,
) -> None:
    async with upstream() as up:
        config = write_config(tmp_path / "c.toml", up.base_url)
        env = environment(tmp_path, up.simulator.dataset.master_token)
        # What one process alone asks the upstream for: the distinct requests.
        go = tmp_path / "go"
        go.touch()
        (alone,) = await start_workers(1, config, [tmp_path / "alone.sqlite3"], go, env, True)
        alone_report = await alone.result()
        one = up.requests()
        assert alone_report["sources"] == {"here": 42}
        up.reset()

        go2 = tmp_path / "go2"
        workers = await start_workers(3, config, [tmp_path / "one.sqlite3"], go2, env, True)
        go2.touch()
        reports = [await w.result() for w in workers]

        three = up.requests()
        why = [(r["sources"], r["label"], r["stderr"][-500:]) for r in reports]
        assert three == one, why  # every request once between them, switches included
        assert sum(n for (endpoint, _), n in three.items() if endpoint == SWITCH) == 6
        assert straddles(up.log) == 0
        for report in reports:
            assert report["failures"] == [] and report["healthy"] and report["tier"] == "sqlite"
        here = sum(r["sources"].get("here", 0) for r in reports)
        shared = sum(r["sources"].get("shared", 0) for r in reports)
        assert here == 42 and shared == 2 * 42  # each distinct request fetched by one of them


async def test_two_processes_on_one_master_token_never_switch_it_under_each_other(
    tmp_path: Path,
) -> None:
    async with upstream(workspaces=8, faults="latency=uniform:0.01:0.05") as up:
        env = environment(tmp_path, up.simulator.dataset.master_token)
        # Control: without the shared tier, two processes do mix (the test can fail).
        alone = write_config(tmp_path / "off.toml", up.base_url, "enabled = false\n")
        go = tmp_path / "go-off"
        dbs = [tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"]
        boards = ["kpi", "infrastructure"]
        workers = await start_workers(2, alone, dbs, go, env, True, boards)
        go.touch()
        for w in workers:
            await w.result()
        assert straddles(up.log) > 0
        up.reset()

        # With it, on separate dashboards so that both have their own requests to make.
        shared = write_config(tmp_path / "on.toml", up.base_url)
        go = tmp_path / "go-on"
        workers = await start_workers(2, shared, [tmp_path / "one.sqlite3"], go, env, True, boards)
        go.touch()
        reports = [await w.result() for w in workers]
        assert straddles(up.log) == 0
        assert all(r["failures"] == [] for r in reports)
        # Both fetched (the token was really contended).
        assert all(r["sources"].get("here", 0) > 0 for r in reports)


async def test_a_killed_holder_blocks_nobody_past_its_lease(tmp_path: Path) -> None:
    async with upstream() as probe:
        victim = probe.simulator.dataset.workspaces[2].id
    faults = f"latency=fixed:0.02,hang@{victim}/stats=for=300:first=1"
    async with upstream(faults=faults) as up:
        db = tmp_path / "one.sqlite3"
        config = write_config(tmp_path / "c.toml", up.base_url, lease=2)
        env = environment(tmp_path, up.simulator.dataset.master_token)
        go = tmp_path / "go"
        go.touch()
        (holder,) = await start_workers(1, config, [db], go, env, True)
        while True:  # until the holder is stuck upstream (another process: no event to await)
            if up.simulator.counters.faults["hang"] >= 1:
                break
            await asyncio.sleep(0.01)
        with sqlite3.connect(db) as raw:
            held = raw.execute(
                "SELECT count(*) FROM shared_leases WHERE state = 'held'"
            ).fetchone()[0]
        assert held >= 2  # the workspace's requests and the master token
        holder.kill()
        await holder.process.wait()
        killed_at = time.monotonic()

        (after,) = await start_workers(1, config, [db], go, env, True)
        report = await after.result()
        waited = time.monotonic() - killed_at
        assert report["failures"] == []
        # Past the 2 s leases, far before the 60 s request deadline a waiter gives up at.
        assert waited < 20
        served_after = [
            r for r in up.log
            if r.endpoint == "stats" and r.workspace_id == victim and r.status == 200
        ]  # fmt: skip
        assert served_after, "the hung workspace was fetched again after the kill"
        assert report["sources"].get("here", 0) >= 4  # at least that workspace's stats


async def test_check_json_counts_requests_made_here_and_served_by_the_tier(
    tmp_path: Path,
) -> None:
    async with upstream() as up:
        config = write_config(tmp_path / "c.toml", up.base_url)
        env = environment(tmp_path, up.simulator.dataset.master_token)
        db = tmp_path / "one.sqlite3"
        # Another process is fetching for everyone: the check takes its answers.
        go = tmp_path / "go"
        (worker,) = await start_workers(1, config, [db], go, env, False)
        go.touch()
        await worker.result()
        up.reset()
        command = [sys.executable, "-m", "portal_tui.cli", "check", "--json"]
        check = await asyncio.create_subprocess_exec(
            *command, "--config", str(config), "--db", str(db),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await check.communicate()
        assert check.returncode in (0, 1), err.decode()
        report = json.loads(out)
        shared, by = report["shared"], report["requests"]["distinct_by_source"]
        assert shared["tier"] == "sqlite" and shared["healthy"] and shared["where"] == str(db)
        assert by["here"] + by["shared"] == 42 and by["failed"] == 0
        assert set(shared["dashboards"]) == {"kpi", "volume", "revenue", "infrastructure"}
        # What it did not take from the tier, it asked the upstream for: nothing twice.
        assert sum(up.requests().values()) == report["requests"]["made"]
