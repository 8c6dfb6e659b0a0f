"""``portal-tui verify``: re-fetch a sample past the cache and diff it with what is shown.

The work is :func:`portal_tui.engine.verification.verify_workspaces` (the
console calls it too); this module runs it for the command line and prints
the result: a table on stdout (``--json``: schema 1), exit 0 when every
sampled row matches the upstream, 1 when some could not be re-fetched, 2 on a
divergence, 3 when there is nothing to verify or the workspace is unknown.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any, TextIO

from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.verification import DEFAULT_SAMPLE, VerifyRun, verify_workspaces
from portal_tui.vocabulary.freshness import format_age

SCHEMA = 1


async def run_verify(
    monitor: PortalMonitor,
    *,
    sample: int = DEFAULT_SAMPLE,
    workspace: str | None = None,
    rng: random.Random | None = None,
) -> VerifyRun:
    """One verify run against the records the monitor's store holds (recorded in it too)."""
    return await verify_workspaces(monitor, sample=sample, workspace=workspace, rng=rng)


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def verify_json(run: VerifyRun) -> dict[str, Any]:
    """The ``--json`` document (schema 1)."""
    return {
        "schema": SCHEMA,
        "kind": "portal-tui.verify",
        "status": run.status,
        "exit_code": int(run.exit_code),
        "run_at": _when(run.run_at),
        "candidates": run.candidates,
        "sampled": [{"instance": i, "workspace_id": w, "workspace": n} for i, w, n in run.sampled],
        "results": [
            {
                "instance": v.instance,
                "workspace_id": v.workspace_id,
                "workspace": v.workspace,
                "dashboard": v.dashboard.value,
                "status": v.status,
                "recorded_at": _when(v.recorded_at),
                "fetched_at": _when(v.fetched_at),
                "differences": [d.as_dict() for d in v.differences],
                "message": v.message,
            }
            for v in run.verdicts
        ],
    }


def print_verify_json(run: VerifyRun, out: TextIO) -> None:
    """``--json``."""
    out.write(json.dumps(verify_json(run), indent=2, default=str) + "\n")


def print_verify(run: VerifyRun, out: TextIO) -> None:
    """The human report: a verdict line, then one line per workspace and dashboard."""
    at = f"{run.run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
    out.write(
        f"portal-tui verify: {run.status} — {len(run.sampled)} of {run.candidates} "
        f"workspace(s) re-fetched past the cache at {at}\n"
    )
    width = max((len(v.workspace) for v in run.verdicts), default=9)
    for v in run.verdicts:
        age = (
            f"recorded {format_age((run.run_at - v.recorded_at).total_seconds())} ago"
            if v.recorded_at is not None
            else "recorded (time unknown)"
        )
        out.write(
            f"  {v.workspace:<{width}}  {v.dashboard.value:<14}  {v.status:<10}  {age}: "
            f"{v.message}\n"
        )
        if v.status == "differs":
            for d in v.differences:
                out.write(f"      {d}\n")
