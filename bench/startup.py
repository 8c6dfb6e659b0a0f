"""Cold start: import time of the headless ``check`` path, measured in fresh interpreters.

Each run starts a new ``python`` that imports what ``portal-tui check``
imports and prints how long that took (``time.perf_counter`` around the
imports) and whether Textual came along; an empty interpreter's start-up is
timed the same way for reference. ``-X importtime`` names the slowest
modules.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.upstream import ROOT

CHECK_IMPORTS = "portal_tui.cli, portal_tui.check, portal_tui.runtime, portal_tui.monitor"

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
