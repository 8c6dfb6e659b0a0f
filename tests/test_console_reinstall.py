"""The console survives its own package being replaced on disk (issue 16, item 8).

``pip install -e .`` into a running console's venv, then ``C``, crashed with
``ModuleNotFoundError: portal_tui.console.screens``: the confirm screen was
imported on first use, from files that had changed. Now every module the
console imports lazily is preloaded once it has started; should one be
missed, the console exits with one line and code 3 instead of a traceback.

The test runs the console from a copy of the package in a subprocess (its
own ``sys.modules``), renames the copy away once the console has started,
as a reinstall that moves files leaves it, then drives the keys with
Textual's Pilot. With the preload emptied, the same run must end in the one
line: the test can fail.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import portal_tui
from portal_tui.console.preload import LAZY_MODULES

PACKAGE = Path(portal_tui.__file__).parent

DRIVER = textwrap.dedent(
    """
    import asyncio, importlib, json, sys
    from pathlib import Path

    copy, mode = Path(sys.argv[1]), sys.argv[2]
    sys.path.insert(0, str(copy))
    import portal_tui
    assert Path(portal_tui.__file__).is_relative_to(copy), portal_tui.__file__
    import portal_tui.console.preload as preload
    if mode == "no-preload":
        preload.LAZY_MODULES = ()
    from portal_tui.console.bindings import panes
    from console_scenario import running_console, settle

    KEYS = ["C", "y", "question_mark", "escape", "p", "p", "s", "r"]
    for number, _ in enumerate(panes(), start=1):
        KEYS += [str(number), "down", "enter", "escape"]

    async def main():
        async with running_console(copy / "c.db", size=(100, 30)) as (app, pilot, _, _):
            await asyncio.wait_for(app.composed.wait(), 60)
            # The package replaced on disk under the running console.
            (copy / "portal_tui").rename(copy / "portal_tui.replaced")
            importlib.invalidate_caches()
            said, screens, pressed = [], set(), []
            notify = app.notify
            app.notify = lambda message, **kw: (said.append(str(message)), notify(message, **kw))
            for key in KEYS:
                if app.return_code is not None:
                    break
                pressed.append(key)
                # Pilot waits for the screen to take the key; an app that exits meanwhile
                # never does, so wait for whichever comes first.
                press = asyncio.create_task(pilot.press(key))
                while not press.done() and app.return_code is None:
                    await asyncio.wait({press}, timeout=0.05)
                if app.return_code is not None:
                    press.cancel()
                    break
                await press
                await pilot.pause()
                screens.add(type(app.screen).__name__)
            if app.is_running:
                await settle(pilot)
            print(json.dumps({
                "running": app.is_running,
                "return_code": app.return_code,
                "exit_line": app.exit_line,
                "pressed": pressed,
                "said": said,
                "screens": sorted(screens),
            }))

    asyncio.run(main())
    """
)


def run_console_from_a_copy(tmp_path: Path, mode: str) -> dict[str, object]:
    copy = tmp_path / "site"
    shutil.copytree(PACKAGE, copy / "portal_tui", ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "drive.py"
    script.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent)  # console_scenario, with the tests
    result = subprocess.run(
        [sys.executable, str(script), str(copy), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    outcome: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    assert (copy / "portal_tui.replaced").is_dir() and not (copy / "portal_tui").exists()
    return outcome


def test_the_console_keeps_working_after_its_package_is_replaced(tmp_path: Path) -> None:
    outcome = run_console_from_a_copy(tmp_path, "preload")
    assert outcome["running"] is True, outcome
    assert outcome["exit_line"] is None
    said = outcome["said"]
    assert isinstance(said, list) and any("Cleared all caches" in s for s in said), outcome
    # The confirm, help and workspace detail screens were all shown from preloaded modules.
    assert {"ConfirmScreen", "HelpScreen", "WorkspaceDetailScreen"} <= set(outcome["screens"])  # type: ignore[call-overload]
    assert len(outcome["pressed"]) > 30  # type: ignore[arg-type]


def test_a_module_missed_by_the_preload_ends_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    outcome = run_console_from_a_copy(tmp_path, "no-preload")
    assert outcome["running"] is False and outcome["return_code"] == 3, outcome
    line = str(outcome["exit_line"])
    assert line.startswith("portal-tui: the console's own files changed on disk")
    assert "portal_tui.console.screens" in line and "\n" not in line
    assert outcome["pressed"] == ["C"]  # the first key that needed a module from disk


# Imported inside functions, but only while starting (before the screen is taken), or by
# code the console never runs (the CLI's other commands, doctor, the simulator, tests).
STARTUP_OR_ELSEWHERE = {
    "portal_tui.console.terminal",  # App.get_driver_class, at start-up
    "portal_tui.engine.runtime",  # run_console, before the app
    "portal_tui.simulator.demo",  # open_runtime --demo, before the app
    "portal_tui.console.app",  # run_console / scenario: the app itself
}
NOT_THE_CONSOLE = ("cli/", "reports/doctor.py", "reports/doctor_shared.py", "simulator/")


def test_every_lazy_import_the_console_can_reach_is_preloaded() -> None:
    lazy: dict[str, str] = {}
    for module in PACKAGE.rglob("*.py"):
        where = str(module.relative_to(PACKAGE))
        if where.startswith(NOT_THE_CONSOLE):
            continue
        for function in ast.walk(ast.parse(module.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                lazy.update((name, where) for name in names if name.startswith("portal_tui"))
    missing = {m: w for m, w in lazy.items() if m not in LAZY_MODULES + tuple(STARTUP_OR_ELSEWHERE)}
    assert not missing, f"add to portal_tui.console.preload.LAZY_MODULES: {missing}"
    assert "portal_tui.console.screens.confirm" in lazy  # the scan does find them


@pytest.mark.parametrize("name", LAZY_MODULES)
def test_every_preloaded_module_exists(name: str) -> None:
    import importlib

    importlib.import_module(name)
