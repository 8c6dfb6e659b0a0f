"""N consoles opened one after another: with and without the shared tier (issue 18).

Each monitor is its own process (``python -m bench.consoles worker ...``)
running the real runtime against the simulator process over loopback HTTP,
refreshing every dashboard once as a console does when it opens (not forced).
They are opened ``GAP`` seconds apart; for each N and each way of running:

- ``alone``: separate records files, ``[shared] enabled = false`` (before);
- ``one file``: one records file (the embedded tier, SQLite leases);
- ``files + Redis``: separate records files and one ``redis-server``.

Measured: upstream requests (the simulator's count) per distinct request (what
one monitor alone needs), and the time to first full data of the last one
opened and of the first (from the start of its refresh to its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.stats import Figure
from bench.upstream import ROOT, simulator_process
from portal_tui.simulator import generate_dataset

GAP = 0.2
"""Seconds between one console opening and the next."""
LATENCY = "lognormal:0.05:1.0:2.5"
"""The simulator's latency: median 50 ms, sigma 1, capped at 2.5 s (as the refresh rows)."""
TOKEN_ENV = "PORTAL_TUI_BENCH_MASTER_TOKEN"


async def _worker(config: str, db: str, go: str) -> None:
    from portal_tui.engine.runtime import open_runtime

    runtime = await open_runtime(config_arg=config, db_arg=db)
    try:
        print(json.dumps({"ready": True}), flush=True)
        while True:  # the driver creates it: a file is all there is to wait on
            if os.path.exists(go):
                break
            await asyncio.sleep(0.002)
        began = time.perf_counter()
        outcome = await runtime.monitor.refresh(triggered_by="startup")
        assert outcome is not None
        done = time.perf_counter()
        status = runtime.monitor.shared_status()
        failures = sum(len(s.failures) for s in outcome.snapshots.values())
        report = {"seconds": done - began, "made": outcome.requests_made, "failures": failures}
        report |= {"sources": outcome.source_totals, "healthy": status.healthy}
        report |= {"fallbacks": status.fallbacks, "problem": status.detail}
        print(json.dumps(report), flush=True)
    finally:
        await runtime.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    """A ``redis-server`` on loopback (no persistence), or None if it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(10)


async def _flush(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def _config(path: Path, base_url: str, shared: str) -> Path:
    path.write_text(
        f"[[instances]]\nname = 'sim'\nbase_url = '{base_url}'\n"
        f"master_token_env = '{TOKEN_ENV}'\nsender_emails_per_page = 100\n"
        f"[shared]\n{shared}"
    )
    return path


async def _open_consoles(
    n: int, config: Path, dbs: list[Path], tmp: Path, env: dict[str, str]
) -> list[dict[str, Any]]:
    procs = []
    for i in range(n):
        go = tmp / f"go-{i}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.consoles", "worker", str(config), str(dbs[i]), str(go),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        )  # fmt: skip
        procs.append((proc, go))
    for proc, _ in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError("a console process did not start")
    for i, (_, go) in enumerate(procs):  # opened one after another, GAP apart
        if i:
            await asyncio.sleep(GAP)
        go.touch()
    reports = []
    for proc, _ in procs:
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"a console process failed: {err.decode()[-2000:]}")
        reports.append(json.loads(out.decode().splitlines()[-1]))
    return reports


async def run_consoles(
    counts: tuple[int, ...],
    workspaces: int,
    mailboxes: int,
    latency: str,
) -> dict[str, Any]:
    """Every way of running at every N: requests per distinct request, time to full data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    # The simulator process generates the same dataset: the same master token.
    env[TOKEN_ENV] = generate_dataset(workspaces, seed=1, mailboxes_total=mailboxes).master_token
    rows: list[dict[str, Any]] = []
    async with simulator_process(
        workspaces=workspaces, mailboxes=mailboxes, per_page=100, latency=latency
    ) as sim:
        with _redis() as redis_url, tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            env.update(XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"))
            modes = {
                "alone (separate files, no tier)": "enabled = false\n",
                "one file (SQLite tier)": "",
            }
            if redis_url:
                modes["separate files + Redis"] = f"redis_url = '{redis_url}'\n"
            distinct = 0
            for mode, shared in modes.items():
                for n in counts:
                    run = tmp / f"{len(rows)}"
                    run.mkdir()
                    config = _config(run / "c.toml", sim.base_url, shared)
                    if mode.startswith("one file"):
                        dbs = [run / "one.sqlite3"] * n
                    else:
                        dbs = [run / f"box{i}.sqlite3" for i in range(n)]
                    await sim.reset(1)
                    if redis_url and "Redis" in mode:
                        await _flush(redis_url)  # nothing left from the run before
                    reports = await _open_consoles(n, config, dbs, run, env)
                    served = await sim.served()
                    if not distinct:  # one console alone: what a refresh needs
                        distinct = served.requests
                    rows.append(
                        {
                            "mode": mode,
                            "n": n,
                            "requests": served.requests,
                            "switches": served.switches,
                            "per_distinct": served.requests / distinct,
                            "first_s": reports[0]["seconds"],
                            "last_s": reports[-1]["seconds"],
                            "failures": sum(r["failures"] for r in reports),
                            "healthy": all(r["healthy"] for r in reports),
                            "fallbacks": sum(r["fallbacks"] for r in reports),
                        }
                    )
    return {"distinct": distinct, "rows": rows, "redis": bool(redis_url)}


HEADER = [
    "consoles",
    "N",
    "upstream requests (switches)",
    "per distinct request",
    "first opened: full data in",
    "last opened: full data in",
    "fallbacks",
]


def cells(row: dict[str, Any]) -> list[str]:
    """One table row."""
    return [
        row["mode"],
        str(row["n"]),
        f"{row['requests']} ({row['switches']})",
        f"{row['per_distinct']:.2f}",
        Figure.of([row["first_s"]], "s", 2).text(),
        Figure.of([row["last_s"]], "s", 2).text(),
        str(row["fallbacks"]),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(_worker(*sys.argv[2:5]))
    else:
        counts = tuple(int(x) for x in (sys.argv[1:2] or ["1,3,10"])[0].split(","))
        result = asyncio.run(run_consoles(counts, 27, 4000, LATENCY))
        print(json.dumps(result, indent=2))
