"""Cold start: import time of the headless ``check`` path, measured in fresh interpreters.

Each run starts a new ``python`` that imports what ``portal-tui check``
imports and prints how long that took (``time.perf_counter`` around the
imports) and whether Textual came along; an empty interpreter's start-up is
timed the same way for reference. ``-X importtime`` names the slowest
modules.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
"""The repository (not imported from :mod:`bench.upstream`: the cold-start child imports this
module, and should load what the console loads, nothing of the bench)."""

CHECK_IMPORTS = (
    "portal_tui.cli, portal_tui.reports.check, portal_tui.engine.runtime, portal_tui.engine.monitor"
)

_PROBE = f"""
import time, sys
t = time.perf_counter()
import {CHECK_IMPORTS}
elapsed = time.perf_counter() - t
print(elapsed, int(any(m == "textual" or m.startswith("textual.") for m in sys.modules)))
"""


def check_import_seconds() -> tuple[float, bool]:
    """Seconds to import the ``check`` path in a fresh interpreter; whether Textual loaded."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "1"


def process_seconds(code: str) -> float:
    """Wall seconds for a fresh ``python -c code`` to start, run and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def slowest_imports(count: int = 5) -> list[tuple[str, float]]:
    """The ``count`` slowest top-level imports of the ``check`` path (cumulative ms)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {CHECK_IMPORTS}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not cumulative.isdigit():
            continue
        module = name.rstrip()
        if not module.startswith(" ") and name == name.lstrip():  # top level only
            found.append((module, int(cumulative) / 1000.0))
    return sorted(found, key=lambda item: -item[1])[:count]


async def first_frame_child(config: str, db: str) -> str:
    """In a fresh interpreter: open the console as ``portal-tui --config --db`` does.

    Prints ``FRAME`` at its first frame with all four restored snapshots
    loaded (:func:`bench.console_rows.cold_start_seconds` times that line),
    then exits.
    """
    from portal_tui.console.app import PortalConsole
    from portal_tui.engine.runtime import open_runtime

    runtime = await open_runtime(config_arg=config, db_arg=db)
    monitor = runtime.monitor
    app = PortalConsole(runtime, auto_refresh=False, startup_refresh=False, handle_signals=False)
    shown = asyncio.Event()
    display = app._display

    def on_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if shown.is_set() or renderable is None:
            return
        if len(monitor.snapshots) == 4 and _overview_shows(app):
            print("FRAME", flush=True)  # now: this frame was just handed to the terminal
            shown.set()

    app._display = on_display  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)):
            await asyncio.wait_for(shown.wait(), 60)
    finally:
        await runtime.aclose()
    return "done"


def _overview_shows(app: Any) -> bool:
    """Whether the Overview (the first pane) has the restored dashboards in its table."""
    from portal_tui.console.widgets.row_table import RowTable

    tables = app.query("#overview-table")
    if not tables:
        return False
    table = tables.first(RowTable)
    return len(table.view.rows) == 4 and all("restored" in r.cells[2] for r in table.view.rows)
