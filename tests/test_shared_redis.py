"""The shared tier across machines: Redis, with a real redis-server on loopback (issue 18).

Workers on separate records files stand in for consoles on separate jump
boxes: only Redis connects them. Redis is an accelerator: stopped before or
during a refresh, every worker still finishes with all of its data, fetched
for itself, and says the tier is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_tui.config import Config, Secrets, parse_config
from portal_tui.reports.doctor_report import Level
from portal_tui.reports.doctor_shared import check_shared
from shared_rig import (
    REDIS_PASSWORD_ENV,
    RedisServer,
    environment,
    free_port,
    redis_binary,
    redis_server,
    start_workers,
    straddles,
    upstream,
    write_config,
)

pytestmark = pytest.mark.skipif(
    redis_binary() is None,
    reason="redis-server is not installed (apt-get install redis-server; .ci/run does)",
)
PASSWORD = "redis-test-password-8f3a"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server(PASSWORD) as server:
        yield server


def redis_lines(server: RedisServer | None, url: str | None = None, timeout: float = 10) -> str:
    """``[shared]`` lines for Redis. A process whose Redis call outlasts ``timeout`` fetches
    for itself: a busy machine's stalls must not read as Redis going away, except where
    a test takes it away."""
    return (
        f"redis_url = '{url or (server.url if server else '')}'\n"
        f"redis_password_env = '{REDIS_PASSWORD_ENV}'\n"
        f"redis_timeout = {timeout:g}\n"
    )


async def test_three_processes_on_three_files_share_one_refresh_through_redis(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with upstream() as up:
        env = environment(
            tmp_path, up.simulator.dataset.master_token, **{REDIS_PASSWORD_ENV: PASSWORD}
        )
        alone = write_config(tmp_path / "alone.toml", up.base_url)
        go = tmp_path / "go"
        go.touch()
        (worker,) = await start_workers(1, alone, [tmp_path / "alone.sqlite3"], go, env, True)
        await worker.result()
        one = up.requests()
        up.reset()

        config = write_config(tmp_path / "r.toml", up.base_url, redis_lines(redis))
        go = tmp_path / "go-redis"
        dbs = [tmp_path / f"box{i}.sqlite3" for i in range(3)]
        workers = await start_workers(3, config, dbs, go, env, True)
        go.touch()
        reports = [await w.result() for w in workers]

        for report in reports:
            assert report["tier"] == "redis" and report["healthy"], report["label"]
            assert report["failures"] == []
        assert up.requests() == one  # each distinct request once between the three boxes
        assert straddles(up.log) == 0
        assert sum(r["sources"].get("here", 0) for r in reports) == 42
        assert sum(r["sources"].get("shared", 0) for r in reports) == 2 * 42
        for db in dbs:  # nothing of Redis's password reached any file
            assert PASSWORD.encode() not in db.read_bytes()


async def test_two_boxes_on_one_master_token_never_switch_it_under_each_other(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with upstream(workspaces=8, faults="latency=uniform:0.01:0.05") as up:
        env = environment(
            tmp_path, up.simulator.dataset.master_token, **{REDIS_PASSWORD_ENV: PASSWORD}
        )
        config = write_config(tmp_path / "r.toml", up.base_url, redis_lines(redis))
        go = tmp_path / "go"
        dbs = [tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"]
        workers = await start_workers(2, config, dbs, go, env, True, ["kpi", "infrastructure"])
        go.touch()
        reports = [await w.result() for w in workers]
        assert straddles(up.log) == 0
        assert all(r["failures"] == [] and r["sources"].get("here", 0) > 0 for r in reports)


async def test_with_redis_stopped_each_process_fetches_for_itself_and_says_so(
    tmp_path: Path,
) -> None:
    async with upstream() as up:
        env = environment(tmp_path, up.simulator.dataset.master_token)
        nobody = f"redis://127.0.0.1:{free_port()}/0"
        config = write_config(
            tmp_path / "r.toml", up.base_url, redis_lines(None, nobody, timeout=1)
        )
        go = tmp_path / "go"
        go.touch()
        began = time.monotonic()
        workers = await start_workers(2, config, [tmp_path / "a.sqlite3"], go, env, True)
        reports = [await w.result() for w in workers]
        assert time.monotonic() - began < 60
        for report in reports:
            assert report["failures"] == []
            assert report["tier"] == "redis" and not report["healthy"]
            assert report["label"].startswith("shared tier DOWN (Redis 127.0.0.1:")
            assert report["sources"] == {"here": 42}


async def test_redis_going_away_mid_refresh_never_hangs_a_refresh(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with upstream(workspaces=8, faults="latency=fixed:0.05") as up:
        env = environment(
            tmp_path, up.simulator.dataset.master_token, **{REDIS_PASSWORD_ENV: PASSWORD}
        )
        config = write_config(tmp_path / "r.toml", up.base_url, redis_lines(redis, timeout=1))
        go = tmp_path / "go"
        # One records file: it keeps the master-token lock when Redis goes (boxes that
        # share nothing but Redis have nothing left to share it through).
        workers = await start_workers(2, config, [tmp_path / "one.sqlite3"], go, env, True)
        go.touch()
        while True:  # a few requests in (the upstream is in this process; no event to await)
            if up.simulator.counters.requests >= 8:
                break
            await asyncio.sleep(0.01)
        redis.stop()
        stopped = time.monotonic()
        reports = [await w.result(within=90) for w in workers]
        assert time.monotonic() - stopped < 45  # no wait on a dead Redis past its timeouts
        for report in reports:
            assert report["failures"] == [], report["failures"]
            assert not report["healthy"] and "DOWN" in report["label"]
        assert straddles(up.log) == 0  # the records file took over the master-token lock


async def test_doctor_says_whether_redis_answers(tmp_path: Path, redis: RedisServer) -> None:
    def config(url: str) -> Config:
        return parse_config(
            f"[shared]\nredis_url = '{url}'\nredis_password_env = '{REDIS_PASSWORD_ENV}'\n"
        )

    db = tmp_path / "r.sqlite3"
    secrets = Secrets({REDIS_PASSWORD_ENV: PASSWORD})
    up = await check_shared(config(redis.url), secrets, db, demo=False)
    assert up.level is Level.OK and "answers" in up.summary
    refused = Secrets({REDIS_PASSWORD_ENV: "not-the-password"})
    wrong = await check_shared(config(redis.url), refused, db, demo=False)
    assert wrong.level is Level.WARNING
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    down = await check_shared(config(nobody), secrets, db, demo=False)
    assert down.level is Level.WARNING and "fetch for itself" in down.summary
    assert PASSWORD not in down.summary + "".join(down.details)
