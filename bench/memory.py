"""Peak RSS of the client at 1,000 workspaces and 50,000 mailboxes, in its own process.

The child (``python -m bench.memory --child``) opens a real store, restores
snapshots, then runs two forced full refreshes through :class:`PortalMonitor`
(the second with the first's snapshots and cache in memory, as a console
that has been up for a while holds them) against :mod:`bench.simproc`, and
reports the peak RSS of itself only: the simulator is another process. It
tunes glibc's allocator and paces the collector first, as ``portal-tui`` does
at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scenario import Upstream, client_config
from bench.upstream import ROOT, simulator_process


def _rss_mb() -> float:
    """This process's peak RSS (MB): ``VmHWM``, the high-water mark of its own memory.

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child of
    the suite's process (which has held a 1,000-workspace refresh itself)
    starts out reporting its parent's size: the first full run's 272 MB for
    one refresh and for two alike was the parent's.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # Elsewhere ru_maxrss (KiB on Linux, bytes on macOS; this suite reports Linux).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024 / 1024


async def _child(workspaces: int, mailboxes: int, per_page: int) -> dict[str, Any]:
    from portal_tui.engine.memory import pace_collections, tune_allocator
    from portal_tui.engine.monitor import PortalMonitor
    from portal_tui.store.database import Store
    from portal_tui.vocabulary.clock import SystemClock

    tune_allocator()  # as ``portal-tui`` does at start-up (cli.main)
    pace_collections()
    upstream = Upstream(workspaces, mailboxes, per_page, median=0.2)  # timeouts only
    baseline = _rss_mb()
    async with simulator_process(
        workspaces=workspaces, mailboxes=mailboxes, per_page=per_page, latency="none"
    ) as sim:
        config, secrets = client_config(upstream, sim.base_url, request_deadline=600.0)
        clock = SystemClock()
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "bench.sqlite3", clock=clock)
            monitor = PortalMonitor(config, secrets=secrets, clock=clock, store=store)
            await monitor.restore()
            cycles = []
            peaks = []
            requests = 0
            for _ in range(2):
                start = time.perf_counter()
                outcome = await monitor.refresh(force=True)
                assert outcome is not None
                cycles.append(time.perf_counter() - start)
                peaks.append(_rss_mb())
                requests = outcome.requests_made
                # A console drops the outcome when its refresh worker ends; holding it
                # here would keep every payload of the first cycle through the second.
                del outcome
            # What the paced sweep (portal_tui.engine.memory, at most every 10 minutes, after a
            # refresh) costs a console holding this much: one full collection.
            start = time.perf_counter()
            found = gc.collect()
            sweep_ms = (time.perf_counter() - start) * 1000
            tracked = len(gc.get_objects())
            retained = _current_rss_mb()
            rows = sum(len(s.rows) for s in monitor.snapshots.values())
            await monitor.aclose()
            await store.close()
    return {
        "peak_rss_mb": _rss_mb(),
        "peak_after_first_mb": peaks[0],
        "retained_rss_mb": retained,
        "sweep_ms": sweep_ms,
        "sweep_found": found,
        "tracked_objects": tracked,
        "start_rss_mb": baseline,
        "cycle_seconds": cycles,
        "rows": rows,
        "requests": requests,
    }


async def measure_peak_rss(workspaces: int, mailboxes: int, per_page: int) -> dict[str, Any]:
    """Run the child once and return what it reported."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.memory",
        "--child",
        str(workspaces),
        str(mailboxes),
        str(per_page),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.memory child exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    """``--child W M P``: measure and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--child", nargs=3, type=int, metavar=("WORKSPACES", "MAILBOXES", "PP"))
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_child(*args.child))))


if __name__ == "__main__":
    main()
