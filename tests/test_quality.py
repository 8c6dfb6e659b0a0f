"""Guards that keep the code honest: lint, types, and the core/console boundary."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "portal_tui"
CONSOLE = PACKAGE / "console"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed in this environment; pip install -e '.[test]'")
    return found


def test_ruff_is_clean() -> None:
    targets = [p for p in ("src", "tests", "bench", "scripts") if (ROOT / p).is_dir()]
    result = subprocess.run(
        [_tool("ruff"), "check", *targets], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [_tool("mypy"), "--no-error-summary"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_textual() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if CONSOLE not in path.parents
        and any(n == "textual" or n.startswith("textual.") for n in _imports(path))
    ]
    assert offenders == []


def test_core_never_imports_the_console() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if CONSOLE not in path.parents
        and path.name != "cli.py"  # cli imports the console lazily, inside a function
        and any(n.startswith("portal_tui.console") for n in _imports(path))
    ]
    assert offenders == []


def test_headless_check_path_does_not_load_textual() -> None:
    code = (
        "import sys; import portal_tui.cli, portal_tui.check, portal_tui.monitor, "
        "portal_tui.runtime; print(','.join(m for m in ('textual', 'rich') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
