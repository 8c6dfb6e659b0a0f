"""The parent's side of :mod:`bench.simproc`: start it, reset it, read what it served."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Served:
    """What the simulator served during one run (see :func:`bench.simproc.served`)."""

    requests: int
    completed: int
    latency_sum: float
    latency_max: float
    hangs: int
    switches: int
    by_endpoint: dict[str, int]
    by_status: dict[str, int]
    max_in_flight: int
    per_workspace: dict[str, list[float]]

    def master_lower_bound(self, concurrency: int) -> float:
        """Least wall time when every workspace goes through one master token.

        The token's current workspace is shared state, so workspaces take turns:
        each needs a switch, then its own requests at ``concurrency``. Any
        schedule that never mixes workspaces needs at least
        Σ_w [switch_w + max(ΣL_w / C, max L_w)].
        """
        return sum(
            switch + max(total / max(1, concurrency), longest)
            for switch, total, longest in self.per_workspace.values()
        )

    def lower_bound(self, concurrency: int, hang_wait: float = 0.0) -> float:
        """Least wall time for these latencies at ``concurrency``: max(ΣL / C, max L).

        A hung request holds the client for ``hang_wait`` (the attempt
        timeout: the client cannot know sooner), so each hang adds that much
        to ΣL and puts a floor of ``hang_wait`` under the whole refresh.
        """
        busy = self.latency_sum + self.hangs * hang_wait
        longest = max(self.latency_max, hang_wait if self.hangs else 0.0)
        return max(busy / max(1, concurrency), longest)


class SimProcess:
    """A running ``python -m bench.simproc``; use :func:`simulator_process`."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str) -> None:
        self._proc = proc
        self.base_url = base_url

    async def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write((json.dumps(command) + "\n").encode())
        await self._proc.stdin.drain()
        line = await self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def reset(self, seed: int) -> None:
        """A fresh simulator: counters zeroed, latency draws and fault rolls from ``seed``."""
        await self._ask({"cmd": "reset", "seed": seed})

    async def served(self) -> Served:
        """What was served since the last reset."""
        return Served(**await self._ask({"cmd": "stats"}))


@asynccontextmanager
async def simulator_process(
    *,
    workspaces: int,
    mailboxes: int,
    per_page: int,
    latency: str,
    faults: str = "",
    seed: int = 1,
) -> AsyncIterator[SimProcess]:
    """Start the simulator in its own process for the block."""
    args = [
        "--workspaces", str(workspaces), "--mailboxes", str(mailboxes),
        "--per-page", str(per_page), "--latency", latency, "--faults", faults,
        "--seed", str(seed),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.simproc",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the simulator process did not start")
        yield SimProcess(proc, json.loads(line)["base_url"])
    finally:
        if proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
