"""Processes, a loopback simulator and a real redis-server for the shared-tier tests.

Every worker is a separate ``python tests/shared_worker.py`` process running
the real runtime; the simulator serves them over loopback HTTP from the test's
own event loop, so its request log (every switch and fetch, with when it was
answered and the latency it was served) is there to read afterwards. Test
scaffolding, not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal_tui.simulator import FaultSet, Simulator, generate_dataset, serve_simulator
from portal_tui.simulator.exchange import RequestRecord
from portal_tui.vocabulary.clock import SystemClock

WORKER = Path(__file__).with_name("shared_worker.py")
TOKEN_ENV = "PORTAL_TUI_SHARED_TEST_MASTER_TOKEN"
REDIS_PASSWORD_ENV = "PORTAL_TUI_SHARED_TEST_REDIS_PASSWORD"
SWITCH = "switch-workspace"


@dataclass
class Upstream:
    """The simulator on loopback: its base URL, its master token and its log."""

    simulator: Simulator
    base_url: str

    @property
    def log(self) -> list[RequestRecord]:
        return list(self.simulator.counters.log)

    def requests(self) -> Counter[tuple[str, int | None]]:
        """Requests answered, by endpoint and the workspace they were served for."""
        return Counter((r.endpoint, r.workspace_id) for r in self.log)

    def reset(self) -> None:
        self.simulator.counters.reset()


@asynccontextmanager
async def upstream(
    workspaces: int = 6, faults: str = "latency=fixed:0.03"
) -> AsyncIterator[Upstream]:
    """A simulator on a free loopback port for the ``async with`` block."""
    dataset = generate_dataset(workspaces, seed=7)
    sim = Simulator(dataset, FaultSet.parse(faults, seed=7), SystemClock())
    async with serve_simulator(sim) as server:
        yield Upstream(sim, server.base_url)


def write_config(path: Path, base_url: str, shared: str = "", lease: float = 15) -> Path:
    """A config naming the simulator, with a master token only, and ``[shared]`` lines."""
    path.write_text(
        "[[instances]]\n"
        "name = 'sim'\n"
        f"base_url = '{base_url}'\n"
        f"master_token_env = '{TOKEN_ENV}'\n"
        "attempt_timeout = 20\n"
        "request_deadline = 60\n"
        "[retry]\nattempts = 2\nbackoff_initial = 0.05\njitter = 0\n"
        f"[shared]\nlease_seconds = {lease:g}\npoll_interval = 0.02\n" + shared
    )
    return path


def environment(tmp: Path, token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    env.update(XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"))
    env[TOKEN_ENV] = token
    env.update(extra)
    return env


@dataclass
class Worker:
    process: asyncio.subprocess.Process

    async def result(self, within: float = 90) -> dict[str, Any]:
        """The worker's report once it has finished (raises with its stderr if it failed)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        out, err = await asyncio.wait_for(self.process.communicate(), within)
        lines = [line for line in out.decode().splitlines() if line.strip()]
        if self.process.returncode != 0 or not lines:
            raise AssertionError(f"worker exited {self.process.returncode}: {err.decode()}")
        report: dict[str, Any] = json.loads(lines[-1])
        report["stderr"] = err.decode()
        return report

    def kill(self) -> None:
        """kill -9: no cleanup, no release of anything it holds."""
        self.process.send_signal(signal.SIGKILL)


async def start_workers(
    count: int,
    config: Path,
    dbs: Sequence[Path],
    go: Path,
    env: dict[str, str],
    force: bool,
    dashboards: Sequence[str] = (),
) -> list[Worker]:
    """``count`` workers (worker i on ``dbs[i % len(dbs)]``, refreshing
    ``dashboards[i % len(dashboards)]`` or all), each ready and waiting for GO."""
    workers = []
    for i in range(count):
        boards = [dashboards[i % len(dashboards)]] if dashboards else []
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), str(config), str(dbs[i % len(dbs)]), str(go),
            "1" if force else "0", *boards,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        workers.append(Worker(process))
    for worker in workers:
        assert worker.process.stdout is not None
        line = await asyncio.wait_for(worker.process.stdout.readline(), 60)
        assert json.loads(line) == {"ready": True}, line
    return workers


def straddles(log: Sequence[RequestRecord]) -> int:
    """Master-token requests during which the token was switched: each one may have
    been served for a workspace its process did not ask for (mixing).

    A request arrives ``latency`` before it is answered and reads the token's
    workspace when answered; a switch takes effect when it is answered.
    """
    switches = [r.at for r in log if r.endpoint == SWITCH and r.status == 200]
    reads = [
        (r.at - r.latency, r.at)
        for r in log
        if r.token == "master" and r.endpoint not in (SWITCH, "workspaces")
    ]
    return sum(1 for start, end in reads for s in switches if start < s < end)


# -- a real redis-server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class RedisServer:
    """``redis-server`` on loopback, no persistence; stop and start it at will."""

    binary: str
    port: int
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.process.stderr!r}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def redis_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


@contextlib.contextmanager
def redis_server(password: str | None = None) -> Iterator[RedisServer]:
    """A running redis-server on a free loopback port (the caller skips if none is installed)."""
    binary = redis_binary()
    assert binary is not None
    server = RedisServer(binary, free_port(), password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
