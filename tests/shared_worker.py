"""One portal-tui process for the shared-tier tests: the real runtime, one refresh.

``python tests/shared_worker.py CONFIG DB GO FORCE [DASHBOARDS]`` opens the runtime as the
console and ``check`` do (config, records file, shared tier), waits until the
file GO exists (so that several workers begin their refresh together), runs
one refresh of every dashboard or of DASHBOARDS (comma-separated; forced if
FORCE is 1) and prints one JSON line: where the data came from, the requests
it made, the tier's status and when it was done (unix time). Test
scaffolding, not installed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from portal_tui.engine.runtime import open_runtime
from portal_tui.vocabulary.names import DashboardName


async def main(
    config: str, db: str, go: Path, force: bool, names: list[DashboardName] | None
) -> None:
    runtime = await open_runtime(config_arg=config, db_arg=db)
    try:
        print(json.dumps({"ready": True}), flush=True)
        while True:  # another process creates it: nothing here to wait on but the file
            if go.exists():
                break
            await asyncio.sleep(0.005)
        began = time.time()
        outcome = await runtime.monitor.refresh(names, force=force, triggered_by="check")
        assert outcome is not None
        status = runtime.monitor.shared_status()
        print(
            json.dumps(
                {
                    "sources": outcome.source_totals,
                    "made": outcome.requests_made,
                    "failures": sorted(
                        f"{f.dashboard.value}:{f.workspace}:{f.message}"
                        for s in outcome.snapshots.values()
                        for f in s.failures
                    ),
                    "tier": status.kind,
                    "healthy": status.healthy,
                    "label": status.label,
                    "began": began,
                    "done": time.time(),
                }
            ),
            flush=True,
        )
    finally:
        await runtime.aclose()


if __name__ == "__main__":
    boards = [DashboardName(n) for n in sys.argv[5].split(",")] if len(sys.argv) > 5 else None
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "1", boards))
