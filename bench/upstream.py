"""The parent's side of :mod:`bench.simproc`: start it, reset it, read what it served."""

from __future__ import annotations

import asyncio
import heapq
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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
    trace: list[list[Any]] = field(default_factory=list, repr=False)

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

    def replay(self, concurrency: int, hang_wait: float = 0.0, *, service: bool = False) -> float:
        """What an ideal client would have taken for these latencies: see :func:`replay`."""
        return replay(self.trace, concurrency, hang_wait, service=service)


def replay(
    trace: Sequence[Sequence[Any]],
    concurrency: int,
    hang_wait: float = 0.0,
    *,
    service: bool = False,
) -> float:
    """Wall time of an idealised zero-overhead sliding window serving ``trace`` again.

    The same requests with the latencies they were served, at ``concurrency``,
    with the dependencies a refresh has: the workspace list before everything
    else, a collection's page 1 before its later pages, a retry after the
    attempt before it (at once: no backoff). It is *non-clairvoyant*, like any
    real client: it cannot know a latency before the answer comes, so it
    starts requests that unlock others first, then the rest in arrival order,
    and a slot is refilled the instant it frees. The gap between this and
    max(ΣL/C, max L) is what no real scheduler could close; the gap between
    the client's wall time and this is the client's own doing. A hang
    (latency ``None``) holds its slot for ``hang_wait``.

    ``service``: each request takes its *service time* instead (arrival to
    response built: the latency plus the simulator's own work, which a real
    upstream would count in its latency but the drawn latency does not).
    """
    attempts: dict[tuple[str, str, str], list[float]] = {}
    for entry in trace:
        _at, path, label, query, latency = entry[:5]
        if latency is not None and service and len(entry) > 5:
            latency = entry[5]
        key = (path, label, json.dumps(query))
        attempts.setdefault(key, []).append(hang_wait if latency is None else latency)
    keys = list(attempts)  # arrival order of each request's first attempt
    order = {key: n for n, key in enumerate(keys)}
    roots = [k for k in keys if k[0].endswith("/workspaces/v1.1") and k[1] == "master"]
    first_pages = {k[1]: k for k in keys if k[0].endswith("/sender-emails") and _page(k) == 1}
    children: dict[tuple[str, str, str] | None, list[tuple[str, str, str]]] = {}
    for key in keys:
        if key in roots:
            parent = None
        elif _page(key) > 1 and key[1] in first_pages:
            parent = first_pages[key[1]]
        else:
            parent = roots[0] if roots else None
        children.setdefault(parent, []).append(key)
    ready: list[tuple[int, float, int, int]] = []  # (has no dependents, ready at, order, try)

    def make_ready(key: tuple[str, str, str], at: float, attempt: int) -> None:
        heapq.heappush(ready, (0 if children.get(key) else 1, at, order[key], attempt))

    for key in children.get(None, []):
        make_ready(key, 0.0, 0)
    running: list[tuple[float, int, int]] = []  # (finishes at, order, try)
    now = 0.0
    while ready or running:
        while ready and len(running) < max(1, concurrency):
            _, _, n, attempt = heapq.heappop(ready)
            heapq.heappush(running, (now + attempts[keys[n]][attempt], n, attempt))
        now, n, attempt = heapq.heappop(running)
        key = keys[n]
        if attempt + 1 < len(attempts[key]):
            make_ready(key, now, attempt + 1)
        else:
            for child in children.get(key, []):
                make_ready(child, now, 0)
    return now


def _page(key: tuple[str, str, str]) -> int:
    page = dict(json.loads(key[2])).get("page")
    return int(page) if page is not None else 0


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
        limit=1 << 26,  # a stats line carries the trace: ~70 bytes per request served
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
