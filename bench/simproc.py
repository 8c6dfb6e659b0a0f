"""The simulator in its own process, for benchmarks: real loopback HTTP, its own core.

The benchmarked client and the simulated upstream must not share one
interpreter (one GIL, one event loop): in production they are different
machines. The parent talks to this process over stdin/stdout, one JSON
object per line:

- on start it prints ``{"base_url": ...}`` once it listens;
- ``{"cmd": "reset", "seed": N}`` starts a fresh simulator (same dataset,
  fault rolls and latency draws re-seeded with ``N``, counters zeroed) so
  that every scheduler in one run is served the very same latencies;
- ``{"cmd": "stats"}`` answers with what was served since the last reset,
  including a trace of every request (what it asked for, when it arrived,
  the latency it was served, or null if it never finished: a hang) for the
  replay reference of :mod:`bench.replay`;
- ``{"cmd": "quit"}`` (or end of input) stops it.

Run as ``python -m bench.simproc --workspaces 27 --mailboxes 4000 ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from portal_tui.simulator import FaultSet, LatencyModel, Simulator, generate_dataset
from portal_tui.simulator.core import SimRequest, SimResponse
from portal_tui.simulator.server import SimulatorServer
from portal_tui.vocabulary.clock import SystemClock


class TracingSimulator(Simulator):
    """A simulator that also keeps, per request, what it was and the latency it was served."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # [arrived, endpoint path, token label, sorted query, latency or None, service time]
        self.trace: list[list[Any]] = []

    async def handle(self, request: SimRequest) -> SimResponse:
        """Serve ``request`` as the simulator does, noting its latency once it is served."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        label = self.dataset.token_label(token.strip()) if scheme.lower() == "bearer" else "none"
        entry: list[Any] = [
            self.clock.monotonic(),
            request.path,
            label,
            sorted(request.query.items()),
            None,
        ]
        self.trace.append(entry)
        logged = len(self.counters.log)
        response = await super().handle(request)
        # The log entry is appended just before handle returns, with no await between.
        if len(self.counters.log) > logged:
            entry[4] = self.counters.log[-1].latency
            # Arrival to response built: the latency plus the simulator's own work.
            entry.append(self.clock.monotonic() - entry[0])
        return response


def _latency(spec: str) -> LatencyModel | None:
    """``lognormal:MEDIAN:SIGMA:CAP``, ``fixed:S`` or ``none``."""
    parts = spec.split(":")
    if parts[0] == "none":
        return None
    if parts[0] == "fixed":
        return LatencyModel.fixed(float(parts[1]))
    if parts[0] == "lognormal":
        cap = float(parts[3]) if len(parts) > 3 else None
        return LatencyModel.lognormal(float(parts[1]), float(parts[2]), cap)
    raise ValueError(f"unknown latency spec {spec!r}")


def served(sim: TracingSimulator) -> dict[str, Any]:
    """What the simulator served since its creation (no tokens: counts and latencies)."""
    counters = sim.counters
    completed = [r.latency for r in counters.log]
    # Per workspace, for the master-token lower bound: [switch latency, other ΣL, other max L].
    per_workspace: dict[int, list[float]] = {}
    for r in counters.log:
        if r.workspace_id is None:
            continue
        entry = per_workspace.setdefault(r.workspace_id, [-1.0, 0.0, 0.0])
        if r.endpoint == "switch-workspace":
            # At least one switch is needed: the quickest one served is a floor.
            entry[0] = r.latency if entry[0] < 0 else min(entry[0], r.latency)
        else:
            entry[1] += r.latency
            entry[2] = max(entry[2], r.latency)
    return {
        "requests": counters.requests,
        "completed": len(completed),
        "latency_sum": sum(completed),
        "latency_max": max(completed, default=0.0),
        "hangs": counters.faults.get("hang", 0),
        "switches": counters.switches,
        "by_endpoint": dict(counters.by_endpoint),
        "by_status": {str(k): v for k, v in counters.by_status.items()},
        "max_in_flight": counters.max_in_flight,
        "per_workspace": {str(k): [max(0.0, v[0]), v[1], v[2]] for k, v in per_workspace.items()},
        "trace": sim.trace,
    }


async def _serve(args: argparse.Namespace) -> None:
    dataset = generate_dataset(args.workspaces, seed=args.seed, mailboxes_total=args.mailboxes)
    latency = _latency(args.latency)
    clock = SystemClock()

    def build(seed: int) -> TracingSimulator:
        faults = FaultSet.parse(args.faults, seed=seed)
        return TracingSimulator(dataset, faults, clock, max_per_page=args.per_page, latency=latency)

    simulator = build(args.seed)
    server = SimulatorServer(simulator)
    await server.start()
    print(json.dumps({"base_url": server.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command["cmd"] == "reset":
                # Between runs nothing is in flight: swapping the simulator is safe.
                simulator = server.simulator = build(int(command["seed"]))
                reply: dict[str, Any] = {"ok": True}
            elif command["cmd"] == "stats":
                reply = served(simulator)
            else:
                break
            print(json.dumps(reply), flush=True)
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until told to quit."""
    parser = argparse.ArgumentParser(prog="python -m bench.simproc")
    parser.add_argument("--workspaces", type=int, default=27)
    parser.add_argument("--mailboxes", type=int, default=4000)
    parser.add_argument("--per-page", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", default="none")
    parser.add_argument("--faults", default="")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
