"""Regenerate ``screenshots/*.svg`` from the demo console.

    python scripts/screenshots.py [--out screenshots]

Runs the console headless on the built-in simulator (27 workspaces, the
demo's own faults: a flaky workspace, a rate-limited one, a revoked token,
duplicated mailboxes, numbers sent as strings) with a FakeClock that only
moves when this script moves it, so the pictures are the same every run.
No network, no tokens: the demo's fake tokens never reach the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from portal_tui.simulator import LatencyModel, demo_fault_spec, generate_dataset
from portal_tui.vocabulary.clock import FakeClock

# The deterministic scenario is test scaffolding: it lives with the tests, not in the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from console_scenario import running_console, scenario_clock, settle

WIDE = (120, 40)
NARROW = (80, 24)
LATENCY = LatencyModel.lognormal(0.08, 0.5, cap=1.5)
"""Per-request latency (seeded per request, so repeatable), slept on the FakeClock."""


def _activity(app: Any, clock: FakeClock) -> tuple[int, int, int]:
    monitor = app.runtime.monitor
    return (clock.pending_sleepers, len(monitor.active_calls()), monitor.fetcher.requests_made)


async def quiesce(app: Any, clock: FakeClock) -> None:
    """Let every task woken by the clock run until nothing changes (so runs repeat)."""
    previous, still = None, 0
    while still < 3:
        for _ in range(5):
            await asyncio.sleep(0)
        current = _activity(app, clock)
        still = still + 1 if current == previous else 0
        previous = current


async def run_clock(pilot: Pilot[Any], clock: FakeClock, step: float = 0.02) -> None:
    """Move the clock in small steps until the refresh is done (response times stay real)."""
    app: Any = pilot.app
    for _ in range(20_000):
        if not app.runtime.monitor.refreshing:
            break
        clock.advance(step)
        await quiesce(app, clock)
    await settle(pilot)


async def shoot(pilot: Pilot[Any], out: Path, name: str, size: tuple[int, int]) -> Path:
    """Save the screen at ``size`` as ``out/name.svg``."""
    app: Any = pilot.app
    await pilot.resize_terminal(*size)
    await pilot.pause()
    app.clear_notifications()
    app.tick()
    await pilot.pause()
    path = out / f"{name}.svg"
    path.write_text(app.export_screenshot(title=f"portal-tui --demo · {name}", simplify=True))
    return path


async def main(out: Path) -> list[Path]:
    """Drive the demo through a start-up, a failing refresh and a retry storm; shoot each."""
    out.mkdir(parents=True, exist_ok=True)
    faults = demo_fault_spec(generate_dataset(27, seed=7)).split(",", 1)[1]  # minus its latency
    clock = scenario_clock()
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_console(
            Path(tmp) / "demo.sqlite3",
            clock=clock,
            size=WIDE,
            workspaces=27,
            faults=faults,
            latency=LATENCY,
            settle_first=False,
        ) as (app, pilot, runtime, _):
            await run_clock(pilot, clock)  # the startup refresh
            clock.advance(150)
            await pilot.press("R")  # a second failed cycle: hysteresis flips, notifications
            await run_clock(pilot, clock)
            clock.advance(45)
            shots.append(await shoot(pilot, out, "overview", WIDE))
            shots.append(await shoot(pilot, out, "overview-80x24", NARROW))
            await pilot.press("2")
            await settle(pilot)
            shots.append(await shoot(pilot, out, "kpi", WIDE))
            await pilot.press("5")
            await settle(pilot)
            shots.append(await shoot(pilot, out, "infrastructure", WIDE))
            # A retry storm: two more workspaces answer 503/429 while a forced refresh runs.
            runtime.simulator.faults.add_spec("5xx@15=1.0,429@21=1.0:retry_after=4")
            await pilot.press("6", "R")
            for _ in range(40):  # some answers arrive, some are waiting to retry
                clock.advance(0.02)
                await quiesce(app, clock)
            await settle(pilot)
            shots.append(await shoot(pilot, out, "failures", WIDE))
            await pilot.press("8")
            await settle(pilot)
            shots.append(await shoot(pilot, out, "history", WIDE))
            await pilot.press("question_mark")
            await pilot.pause()
            shots.append(await shoot(pilot, out, "help", WIDE))
            await pilot.press("escape")
            await run_clock(pilot, clock, step=0.5)
            del app
    return shots


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "screenshots"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    written = asyncio.run(main(args.out))
    for path in written:
        print(path)
    print(f"{len(written)} screenshots in {time.perf_counter() - started:.1f} s", file=sys.stderr)
