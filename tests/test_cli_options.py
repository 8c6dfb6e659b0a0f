"""Global options (``--config``, ``--db``, ``--demo``) before or after the subcommand (SPEC 8).

Each is honoured in either position or refused with one line and exit 3;
none is ever silently dropped (issue 16).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from portal_tui.cli import UsageError, main, parse_args

EXE = [sys.executable, "-m", "portal_tui.cli"]
TOKEN_ENV = "PORTAL_TUI_TEST_OPTIONS_TOKEN"
WITH_GLOBALS = ["check", "export", "history", "doctor"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    base.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        **{TOKEN_ENV: "a-test-token-value"},
    )
    return base


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, env=env, timeout=120)


def unreachable_config(tmp_path: Path) -> Path:
    """A config whose instance is a closed loopback port and whose records go to config.db."""
    path = tmp_path / "c.toml"
    path.write_text(
        "[[instances]]\nname = 'x'\nbase_url = 'http://127.0.0.1:9/api'\n"
        f"master_token_env = '{TOKEN_ENV}'\nattempt_timeout = 2\nrequest_deadline = 2\n"
        f"[retry]\nattempts = 1\n[storage]\npath = '{tmp_path / 'config.db'}'\n"
    )
    return path


@pytest.mark.parametrize("command", WITH_GLOBALS)
@pytest.mark.parametrize("where", ["before", "after", "split"])
def test_every_global_option_is_taken_in_either_position(command: str, where: str) -> None:
    given = ["--config", "c.toml", "--db", "r.db", "--demo"]
    if where == "before":
        argv = [*given, command]
    elif where == "after":
        argv = [command, *given]
    else:  # some before, some after
        argv = ["--db", "r.db", command, "--config", "c.toml", "--demo"]
    args = parse_args(argv)
    assert (args.command, args.config, args.db, args.demo) == (command, "c.toml", "r.db", True)
    assert not [name for name in vars(args) if name.startswith("after_")]


def test_the_console_takes_the_global_options() -> None:
    args = parse_args(["--config", "c.toml", "--db", "r.db", "--demo"])
    assert (args.command, args.config, args.db, args.demo) == (None, "c.toml", "r.db", True)
    assert parse_args([]).demo is False


@pytest.mark.parametrize("command", WITH_GLOBALS)
def test_the_same_value_twice_is_fine(command: str) -> None:
    args = parse_args(["--db", "r.db", command, "--db", "./r.db"])
    assert args.db == "./r.db"


@pytest.mark.parametrize("command", WITH_GLOBALS)
@pytest.mark.parametrize("option", ["--config", "--db"])
def test_different_values_before_and_after_are_refused(
    command: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match="given twice with different values"):
        parse_args([option, "one", command, option, "two"])
    assert main([option, "one", command, option, "two"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("portal-tui: error:") and len(err.strip().splitlines()) == 1
    assert "'one'" in err and "'two'" in err and option in err


@pytest.mark.parametrize("option", [["--db", "r.db"], ["--config", "c.toml"], ["--demo"]])
def test_a_global_option_simulate_cannot_use_is_refused(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*option, "simulate", "--port", "1"]) == 3
    err = capsys.readouterr().err
    assert f"{option[0]} does not apply to 'simulate'" in err
    assert len(err.strip().splitlines()) == 1


def test_db_before_check_wins_over_the_configs_storage_path(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """The issue's case: ``--db OTHER check --config C`` writes to OTHER, not C's file."""
    config = unreachable_config(tmp_path)
    other = tmp_path / "other.db"
    result = run(["--db", str(other), "check", "--config", str(config)], env)
    assert result.returncode == 2, result.stderr  # the upstream is unreachable: CRITICAL
    assert "upstream unreachable" in result.stdout
    assert other.exists() and not (tmp_path / "config.db").exists()
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT count(*) FROM refresh_cycles").fetchone() == (1,)


def test_config_before_check_is_read(tmp_path: Path, env: dict[str, str]) -> None:
    config = unreachable_config(tmp_path)
    result = run(["--config", str(config), "check"], env)
    assert result.returncode == 2, result.stderr
    assert (tmp_path / "config.db").exists()  # the config's [storage] path was used


def test_demo_before_check_and_before_the_offline_commands(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (``cli.main``): the same code as the command, without its start-up."""
    for key, value in env.items():
        if key.startswith("XDG_"):
            monkeypatch.setenv(key, value)
    capsys.readouterr()
    code = main(["--demo", "check", "--json"])  # no --db: the demo's own records file
    out, err = capsys.readouterr()
    assert code in (1, 2), err  # the demo has troubled workspaces
    assert '"demo": true' in out
    demo_db = Path(env["XDG_DATA_HOME"]) / "portal-tui" / "demo.sqlite3"
    assert demo_db.exists()
    for command in (["export", "--format", "json"], ["history", "--json"]):
        outputs = []
        for argv in (["--demo", *command], ["--db", str(demo_db), *command]):
            assert main(argv) == 0, (argv, capsys.readouterr().err)
            out, err = capsys.readouterr()
            assert err == "" and out
            outputs.append(out)
        assert '"demo": true' in outputs[0] or command[0] == "history"
    # The demo's recorded health (a revoked workspace, flaky ones) is one of doctor's checks.
    assert main(["--demo", "doctor", "--timeout", "5"]) in (0, 1, 2)
    assert str(demo_db) in capsys.readouterr().out
