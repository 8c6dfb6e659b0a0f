"""``portal-tui doctor``: each problem it must find, its exit code, and no token ever shown."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from portal_tui.cli import main
from portal_tui.reports.doctor import Level, run_doctor
from portal_tui.reports.doctor_report import DoctorReport, print_doctor, print_doctor_json
from portal_tui.simulator import FaultSet, LatencyModel, Simulator, serve_simulator
from portal_tui.store.filesystems import Mount, is_network, mount_for, parse_mounts
from support import MASTER, hand_dataset, silent_far_host
from test_cli import EXE, env, run  # noqa: F401  (env is a fixture)

LOCAL = [Mount("/dev/vda", "/", "ext4")]
TOKENS = (MASTER, "acme-api-user-token-0001", "globex-api-user-token-02")


def write_config(tmp_path: Path, base_url: str, *, extra: str = "") -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(
        f"[[instances]]\nname = 'sim'\nbase_url = '{base_url}'\n"
        f"master_token_env = 'SIM_MASTER'\n{extra}"
        "[[clients]]\nname = 'Acme Corp'\napi_key_env = 'ACME_TOKEN'\n"
        f"[storage]\npath = '{tmp_path / 'data' / 'records.sqlite3'}'\n"
    )
    return path


@asynccontextmanager
async def simulator_url() -> AsyncIterator[str]:
    sim = Simulator(hand_dataset(), FaultSet(), latency=LatencyModel.fixed(0.0))
    async with serve_simulator(sim, host="127.0.0.1", port=0) as server:
        yield server.base_url


def text_of(report: DoctorReport) -> str:
    out = io.StringIO()
    print_doctor(report, out)
    print_doctor_json(report, out)
    return out.getvalue()


def by_name(report: DoctorReport) -> dict[str, tuple[Level, str]]:
    return {c.name: (c.level, c.summary) for c in report.checks}


def assert_no_token(text: str) -> None:
    assert not [t for t in TOKENS if t in text]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


async def test_good_config_over_loopback_http_is_all_ok(tmp_path: Path) -> None:
    async with simulator_url() as url:
        env = {"SIM_MASTER": MASTER, "ACME_TOKEN": TOKENS[1]}
        report = await run_doctor(
            config_arg=str(write_config(tmp_path, url)), demo=False, db_arg=None, env=env,
            mounts=LOCAL,
        )  # fmt: skip
    checks = by_name(report)
    assert report.exit_code == 0, text_of(report)
    assert checks["config"][0] is Level.OK and "valid; 1 instance(s)" in checks["config"][1]
    assert checks["tokens"] == (Level.OK, "2 token variable(s): 2 set")
    assert checks["storage"][0] is Level.OK and "ext4" in checks["storage"][1]
    assert checks["database"][0] is Level.INFO  # not created yet, and doctor does not create it
    assert not (tmp_path / "data" / "records.sqlite3").exists()
    assert checks["upstream sim"] == (
        Level.OK,
        "reachable; the master token in $SIM_MASTER works: 3 workspaces listed",
    )
    text = text_of(report)
    assert "1. --config: " in text and "2. $PORTAL_TUI_CONFIG: unset" in text
    assert_no_token(text)


async def test_missing_token_variable_is_unusable_but_everything_is_still_checked(
    tmp_path: Path,
) -> None:
    async with simulator_url() as url:
        report = await run_doctor(
            config_arg=str(write_config(tmp_path, url)), demo=False, db_arg=None,
            env={"ACME_TOKEN": TOKENS[1]}, mounts=LOCAL,
        )  # fmt: skip
    checks = by_name(report)
    assert report.exit_code == 3
    level, summary = checks["tokens"]
    assert level is Level.UNUSABLE and "1 missing (SIM_MASTER)" in summary
    assert "master token $SIM_MASTER: MISSING" in text_of(report)
    assert checks["upstream sim"] == (
        Level.OK,
        "reachable (HTTP 401 without a token, as expected)",
    )
    assert_no_token(text_of(report))


async def test_rejected_token_is_critical_and_never_printed(tmp_path: Path) -> None:
    wrong = "not-the-master-token-but-long-enough"
    async with simulator_url() as url:
        report = await run_doctor(
            config_arg=str(write_config(tmp_path, url)), demo=False, db_arg=None,
            env={"SIM_MASTER": wrong, "ACME_TOKEN": TOKENS[1]}, mounts=LOCAL,
        )  # fmt: skip
    level, summary = by_name(report)["upstream sim"]
    assert report.exit_code == 2 and level is Level.CRITICAL
    assert "TOKEN REJECTED: the master token in $SIM_MASTER got HTTP 401" in summary
    assert wrong not in text_of(report)


async def test_unreachable_instance_is_critical(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api"
    report = await run_doctor(
        config_arg=str(write_config(tmp_path, url)), demo=False, db_arg=None,
        env={"SIM_MASTER": MASTER, "ACME_TOKEN": TOKENS[1]}, mounts=LOCAL, probe_seconds=2,
    )  # fmt: skip
    level, summary = by_name(report)["upstream sim"]
    assert report.exit_code == 2 and level is Level.CRITICAL
    assert summary.startswith("unreachable: ")


async def test_tls_off_and_cleartext_are_warnings(tmp_path: Path) -> None:
    with silent_far_host() as url:  # never answers: the probe times out
        report = await run_doctor(
            config_arg=str(write_config(tmp_path, url, extra="verify_tls = false\n")),
            demo=False, db_arg=None, env={"SIM_MASTER": MASTER, "ACME_TOKEN": TOKENS[1]},
            mounts=LOCAL, probe_seconds=0.2,
        )  # fmt: skip
    level, summary = by_name(report)["upstream sim"]
    assert level is Level.CRITICAL  # unreachable wins over the warnings, which are still said
    assert "TLS certificate verification is OFF" in summary and "unencrypted" in summary


async def test_corrupt_database_is_moved_aside_and_reported(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    db.write_bytes(b"this is not an SQLite file at all" * 100)
    report = await run_doctor(config_arg=None, demo=True, db_arg=str(db), mounts=LOCAL)
    level, summary = by_name(report)["database"]
    assert report.exit_code == 3 and level is Level.UNUSABLE
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and str(aside[0]) in summary and "moved aside" in summary
    assert aside[0].read_bytes().startswith(b"this is not an SQLite file")
    # doctor only reads: no fresh file was started in its place.
    assert sorted(p.name for p in tmp_path.iterdir()) == [aside[0].name]
    again = await run_doctor(config_arg=None, demo=True, db_arg=str(db), mounts=LOCAL)
    assert by_name(again)["database"][0] is Level.INFO and not db.exists()


async def test_network_file_system_is_a_warning(tmp_path: Path) -> None:
    nfs = [*LOCAL, Mount("filer:/export/home", str(tmp_path), "nfs4")]
    report = await run_doctor(config_arg=None, demo=True, db_arg=str(tmp_path / "r.db"), mounts=nfs)
    level, summary = by_name(report)["storage"]
    assert level is Level.WARNING and report.exit_code == 1
    assert "nfs4 is a network file system" in summary


def test_mount_table_parsing() -> None:
    table = parse_mounts(
        "/dev/vda / ext4 rw 0 0\n"
        "filer:/home /mnt/my\\040share nfs4 rw 0 0\n"
        "user@host:/x /mnt/my\\040share/ssh fuse.sshfs rw 0 0\n"
        "tmpfs /tmp tmpfs rw 0 0\n"
    )
    assert mount_for("/mnt/my share/a/b.db", table) == table[1]
    assert mount_for("/mnt/my share/ssh/b.db", table) == table[2]
    assert mount_for("/mnt/my shared/b.db", table) == table[0]  # a prefix, not a parent
    assert mount_for("/srv/x.db", table) == table[0]
    assert [m.network for m in table] == [False, True, True, False]
    assert is_network("cifs") and is_network("smb3") and not is_network("overlay")


def test_no_config_and_demo_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PORTAL_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["doctor"]) == 3
    out = capsys.readouterr().out
    assert "? unusable] config: no config found" in out and "lookup order:" in out
    code = main(["doctor", "--demo", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == doc["exit_code"] and doc["schema"] == 1
    assert [c["check"] for c in doc["checks"]] == [
        "config", "tokens", "storage", "database", "shared tier", "upstream demo",
    ]  # fmt: skip
    upstream = doc["checks"][-1]
    assert upstream["level"] == "ok" and "27 workspaces listed" in upstream["summary"]


def test_doctor_against_simulate_over_real_http(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    port = closed_port()
    server = subprocess.Popen(
        [*EXE, "simulate", "--port", str(port), "--workspaces", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "Press Ctrl-C" not in "".join(lines[-1:]):
            lines.append(server.stdout.readline())
        token = re.search(r"PORTAL_TUI_SIM_MASTER_TOKEN='([^']+)'", "".join(lines))
        assert token, "".join(lines)
        config = tmp_path / "sim.toml"
        config.write_text(
            "[[instances]]\nname = 'simulator'\n"
            f"base_url = 'http://127.0.0.1:{port}/api'\n"
            "master_token_env = 'PORTAL_TUI_SIM_MASTER_TOKEN'\n"
            f"[storage]\npath = '{tmp_path / 'records.db'}'\n"
        )
        good = {**env, "PORTAL_TUI_SIM_MASTER_TOKEN": token.group(1)}
        result = run(["doctor", "--config", str(config)], good, timeout=60)
        assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: e.g. a NFS /tmp
        assert "[✓ ok] upstream simulator: reachable" in result.stdout
        assert "4 workspaces listed" in result.stdout
        assert token.group(1) not in result.stdout + result.stderr
        missing = run(["doctor", "--config", str(config), "--json"], env, timeout=60)
        assert missing.returncode == 3
        doc = json.loads(missing.stdout)
        assert doc["status"] == "UNKNOWN" and doc["checks"][1]["level"] == "unusable"
        assert token.group(1) not in missing.stdout + missing.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
