"""First run (issue 19, item 5): ``init``, ``simulate``'s config, ``check``'s progress.

``init`` writes the packaged starter config where the loader looks and
never overwrites; ``simulate`` prints a config whose first ``check`` has a
registry entry for every workspace; ``check`` shows a progress line on
stderr when stderr is a terminal (a real pty) and nothing otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_tui.cli import main
from portal_tui.config import find_config_path, load_config, parse_config
from portal_tui.config.starter import starter_text
from portal_tui.vocabulary import locations

EXE = [sys.executable, "-m", "portal_tui.cli"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    base.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    base["PYTHONUNBUFFERED"] = "1"
    return base


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-process runs: the user dirs under ``tmp_path``, no PORTAL_TUI_* variables."""
    for name in list(os.environ):
        if name.startswith("PORTAL_TUI"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


# -- init -----------------------------------------------------------------------------


def test_the_starter_is_package_data_and_a_valid_config() -> None:
    text = starter_text()
    assert text.startswith("# portal-tui configuration, written by `portal-tui init`.")
    config = parse_config(text, source="starter.toml")
    assert [i.name for i in config.instances] == ["main"]
    assert config.instances[0].master_token_env == "EMAILBISON_MASTER_TOKEN"
    assert "[[clients]]" in text and "[[alerts]]" in text  # commented examples to start from
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "config/starter.toml" in pyproject["tool"]["setuptools"]["package-data"]["portal_tui"]


def test_init_writes_where_the_loader_looks(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = locations.default_config_path()
    assert str(default).startswith(str(home))
    assert find_config_path(None) is None
    assert main(["init"]) == 0
    assert default.read_text(encoding="utf-8") == starter_text()
    assert find_config_path(None) == default  # the loader now finds it
    out = capsys.readouterr()
    assert f"wrote a starter config to {default}" in out.out and out.err == ""
    config = load_config(default, check_env=False)
    assert config.instances[0].base_url.startswith("https://")


def test_init_follows_the_config_variable_and_the_option(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    via_env = home / "from-env" / "portal.toml"
    monkeypatch.setenv("PORTAL_TUI_CONFIG", str(via_env))
    assert main(["init"]) == 0
    assert via_env.read_text(encoding="utf-8") == starter_text()
    explicit = home / "a" / "b" / "c.toml"
    assert main(["init", "--config", str(explicit)]) == 0  # --config wins, dirs are made
    assert main(["--config", str(home / "before.toml"), "init"]) == 0  # before the command too
    assert explicit.is_file() and (home / "before.toml").is_file()
    assert not locations.default_config_path().exists()


def test_init_never_overwrites(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "config.toml"
    path.write_text("# mine, edited\n", encoding="utf-8")
    assert main(["init", "--config", str(path)]) == 3
    assert path.read_text(encoding="utf-8") == "# mine, edited\n"
    err = capsys.readouterr().err
    assert "already exists; not overwriting it" in err and err.count("\n") == 1
    link = home / "link.toml"
    link.symlink_to(home / "nowhere.toml")  # a dangling link is something there too
    assert main(["init", "--config", str(link)]) == 3
    assert not (home / "nowhere.toml").exists()


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("a-file/config.toml", "a-file is a file, not a directory"),
        ("a-dir", "is a directory; give the file's path"),
    ],
)
def test_init_to_a_bad_path_is_one_clear_line(
    home: Path, capsys: pytest.CaptureFixture[str], target: str, says: str
) -> None:
    (home / "a-file").write_text("x", encoding="utf-8")
    (home / "a-dir").mkdir()
    assert main(["init", "--config", str(home / target)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("portal-tui init: cannot write ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_init_refuses_options_that_do_not_apply(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--demo", "init"]) == 3
    assert "--demo does not apply to 'init'" in capsys.readouterr().err
    assert not locations.default_config_path().exists()


def test_no_config_found_points_at_init(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 3
    err = capsys.readouterr().err
    assert "no config found: run `portal-tui init`" in err
    assert str(locations.default_config_path()) in err and "config.example.toml" not in err


# -- simulate's config, and check's progress --------------------------------------------


@pytest.fixture
def simulator(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``portal-tui simulate`` on a free port: (its printed banner, its master token)."""
    process = subprocess.Popen(
        [*EXE, "simulate", "--port", "0", "--workspaces", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while not lines or "Ctrl-C" not in lines[-1]:
        assert time.monotonic() < deadline and process.poll() is None, "simulate did not start"
        lines.append(process.stdout.readline())
    banner = "".join(lines)
    token = banner.split("PORTAL_TUI_SIM_MASTER_TOKEN='")[1].split("'")[0]
    try:
        yield banner, token
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def snippet(banner: str) -> str:
    """The config lines of the banner: from the registry to the instance's last key."""
    lines = banner.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# the client registry"))
    end = next(i for i, line in enumerate(lines) if line.startswith("master_token_env"))
    return "\n".join(lines[start : end + 1]) + "\n"


def registry_warnings(report: dict[str, object]) -> list[str]:
    found = []
    for board in report["dashboards"].values():  # type: ignore[attr-defined]
        for workspace, warnings in board["warnings"].items():
            found += [f"{workspace}: {w}" for w in warnings if "registry" in w]
    return found


def test_simulate_prints_a_config_whose_first_check_knows_every_workspace(
    simulator: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    banner, token = simulator
    config = tmp_path / "sim.toml"
    config.write_text(snippet(banner), encoding="utf-8")
    env = {**env, "PORTAL_TUI_SIM_MASTER_TOKEN": token}
    args = ["check", "--json", "--config", str(config), "--db", str(tmp_path / "a.db")]
    result = subprocess.run([*EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["dashboards"]["kpi"]["rows"] == 4
    assert registry_warnings(report) == []
    assert "registry" not in result.stderr
    assert "checking" not in result.stderr  # stderr is a pipe here: no progress line
    # Without its registry, the same check warns for every workspace.
    bare = snippet(banner).split("]\n", 1)[1]
    config.write_text(bare, encoding="utf-8")
    args[-1] = str(tmp_path / "b.db")
    result = subprocess.run([*EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    assert len({w.split(":")[0] for w in registry_warnings(json.loads(result.stdout))}) == 4


def run_with_stderr_on_a_pty(args: list[str], env: dict[str, str]) -> tuple[int, bytes, str]:
    """Run the CLI with stderr on a pseudo-terminal (80 columns): (code, pty bytes, stdout)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [*EXE, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        assert process.stdout is not None
        out = process.stdout.read().decode()
        code = process.wait(timeout=30)
    finally:
        os.close(master)
    return code, seen, out


def test_check_shows_progress_on_a_terminal_and_clears_it(
    simulator: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    banner, token = simulator
    config = tmp_path / "sim.toml"
    config.write_text(snippet(banner), encoding="utf-8")
    env = {**env, "PORTAL_TUI_SIM_MASTER_TOKEN": token}
    code, seen, out = run_with_stderr_on_a_pty(
        ["check", "--config", str(config), "--db", str(tmp_path / "p.db")], env
    )
    assert code in (0, 1), seen
    text = seen.decode()
    frames = [f for f in text.split("\r") if f.strip()]
    assert any(f.startswith("checking ") and "workspaces answered" in f for f in frames), text
    assert any("requests" in f and "in flight" in f for f in frames)
    assert all(len(f) < 80 for f in frames)  # never wraps at 80 columns
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""  # erased at the end
    assert "checking" not in out and "portal-tui check:" in out  # the report, on stdout


def test_no_progress_object_when_stderr_is_not_a_terminal() -> None:
    import io

    from portal_tui.cli.check_progress import CheckProgress

    stream = io.StringIO()
    assert CheckProgress.on_terminal(object(), stream) is None  # type: ignore[arg-type]
    assert stream.getvalue() == ""
