"""A bearer token that would cross the network unencrypted is warned about, loudly and everywhere.

Plain ``http://`` to a host that is not loopback: ``check`` says so on stderr,
on the instance's line and as ``"plaintext_token": true`` in ``--json``; the
console shows a banner on the Overview and a mark in the header of every
pane. Loopback (the simulator, a local proxy) and ``https://`` are quiet, as
is the demo, whose upstream is in-process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from console_scenario import running_console, screen_text, settle
from portal_tui.cli import main
from portal_tui.config import InstanceConfig, is_loopback_host
from support import silent_far_host

UNREACHABLE = "http://10.255.255.1:9/api"  # not loopback; never contacted where it is used


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[[list[str]], tuple[int, str, str]]:
    monkeypatch.setenv("PLAINTEXT_TEST_MASTER", "plaintext-test-master-token-77")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def invoke(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return int(code), out, err

    return invoke


def write_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(
        f"[[instances]]\nname = 'far'\nbase_url = '{base_url}'\n"
        "master_token_env = 'PLAINTEXT_TEST_MASTER'\n"
        "attempt_timeout = 0.2\nrequest_deadline = 0.3\n"
        "[retry]\nattempts = 1\n"
        f"[storage]\npath = '{tmp_path / 'records.sqlite3'}'\n"
    )
    return path


@pytest.mark.parametrize(
    ("url", "clear"),
    [
        ("http://send.example.com/api", True),
        ("http://10.0.0.7:8080/api", True),
        ("http://Send.Example.com/api", True),
        ("https://send.example.com/api", False),
        ("http://127.0.0.1:8000/api", False),
        ("http://localhost/api", False),
        ("http://[::1]:8000/api", False),
    ],
)
def test_plaintext_token_is_plain_http_to_a_host_that_is_not_loopback(
    url: str, clear: bool
) -> None:
    assert InstanceConfig(name="a", base_url=url).plaintext_token is clear


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.2") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host(None) and not is_loopback_host("") and not is_loopback_host("h")


def test_check_warns_on_stderr_on_the_instance_line_and_in_json(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    with silent_far_host() as url:  # not loopback; never answers
        config = write_config(tmp_path, url)
        code, human, err = run_cli(["check", "--config", str(config)])
        assert code == 2  # unreachable: the warning comes on top of the verdict
        assert "UNENCRYPTED" in err and "instance far" in err and err.startswith("portal-tui: ")
        assert "TOKEN SENT UNENCRYPTED" in human
        code, out, err = run_cli(["check", "--json", "--config", str(config)])
    assert json.loads(out)["instances"][0]["plaintext_token"] is True
    assert "UNENCRYPTED" in err


def test_check_is_quiet_over_loopback(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/api")  # refused at once
    _code, human, err = run_cli(["check", "--config", str(config)])
    assert "UNENCRYPTED" not in err + human
    _code, out, err = run_cli(["check", "--json", "--config", str(config)])
    assert json.loads(out)["instances"][0]["plaintext_token"] is False
    assert "UNENCRYPTED" not in err


async def test_console_banner_and_header_on_every_pane(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, runtime, _clock):
        assert "UNENCRYPTED" not in screen_text(app) + app.sub_title  # the demo: in-process
        monitor = runtime.monitor
        config = monitor.config
        far = config.instances[0].model_copy(update={"base_url": UNREACHABLE})
        monitor.config = config.model_copy(update={"instances": [far]})
        monitor.demo = False
        app.tick()
        await pilot.pause()
        assert "⚠ TOKEN SENT UNENCRYPTED to instance demo" in screen_text(app)
        assert "⚠ TOKEN UNENCRYPTED" in app.sub_title
        await pilot.press("2")
        await settle(pilot)
        app.tick()
        assert "⚠ TOKEN UNENCRYPTED" in app.sub_title and "UNENCRYPTED" in screen_text(app)
        monitor.config, monitor.demo = config, True
