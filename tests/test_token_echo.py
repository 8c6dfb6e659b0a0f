"""An upstream that echoes the bearer token back: no token byte reaches anything we write.

The simulator's ``echo_token`` fault puts the caller's token in field values
(every ``name`` and ``email``), in a field name (a new field per object), in
a count (a validation error whose actual value is the token) and in an error
(a 422 whose reason phrase, message and field errors quote it). A refresh
runs over loopback HTTP with distinctive tokens, then every place a token
could land is searched, byte for byte:

- the SQLite file with its ``-wal``/``-shm``, while the writer has it open
  (the rig's store is given NO token list: the client's scrub alone must do);
- ``check`` (human and ``--json``, stdout and stderr), ``export`` (Markdown,
  JSON, ``-o FILE``), ``history`` and ``doctor``, and the file after them;
- the alert messages ``check`` sends (a real webhook on loopback: FAILING with
  the failure's reason, the findings, the health);
- the console's screens (SVG screenshots and text) of every pane, on an
  echoing demo upstream.

And the echo was really there: the fault fired, ``[REDACTED]`` stands where
the token was, and the rest of each value survived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alert_receiver import receiver
from console_scenario import demo_tokens, running_console, screen_text, settle
from portal_tui.cli import main
from portal_tui.config import InstanceConfig
from portal_tui.simulator import Dataset, Simulator
from portal_tui.upstream.client import EmailBisonClient
from portal_tui.upstream.models import StatsResponse, WorkspacesResponse
from portal_tui.upstream.scrub import SecretScanner, canonical_json
from support import MASTER, hand_dataset, rig, simulator_in_thread

ECHO = (
    "echo_token@2/stats=number:name,"
    "echo_token@3/sending-schedules=error,"
    "echo_token=value:name"
)
TOKENS = {2: "AcmeEchoTok-5Hn2Pz7Lm1Qd6Js0Xw", 3: "GlobexEchoTok-3Fb8Yc2Xe6Tr4Gu9Kv"}
ENV = {"master": "ECHO_TEST_MASTER", 2: "ECHO_TEST_ACME", 3: "ECHO_TEST_GLOBEX"}


def echo_dataset() -> Dataset:
    """The hand dataset with distinctive api-user tokens (the master is support's MASTER)."""
    base = hand_dataset()
    for workspace in base.workspaces:
        if workspace.id in TOKENS:
            workspace.token = TOKENS[workspace.id]  # type: ignore[misc]
    return Dataset(base.workspaces, master_token=MASTER)


def all_tokens() -> list[str]:
    return [MASTER, *echo_dataset().tokens().values()]


def leaks(blob: bytes | str, tokens: list[str]) -> list[str]:
    """The tokens in ``blob``, whole or their middle (as a clipped or escaped copy would be)."""
    data = blob if isinstance(blob, bytes) else blob.encode("utf-8", "replace")
    return [t for t in tokens if t.encode() in data or t[4:-4].encode() in data]


def db_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".sqlite3" in p.name)


def echoing_upstream(faults: str) -> AbstractContextManager[tuple[str, Simulator]]:
    """The echo dataset served over loopback HTTP from a thread."""
    return simulator_in_thread(echo_dataset(), faults)


def write_config(tmp_path: Path, base_url: str, alerts: str = "") -> Path:
    path = tmp_path / "portal.toml"
    # Matched by id: the echoed names no longer read "Acme Corp" / "Globex".
    path.write_text(
        "[[instances]]\nname = 'sim'\n"
        f"base_url = '{base_url}'\nmaster_token_env = '{ENV['master']}'\n"
        "sender_emails_per_page = 2\nattempt_timeout = 2.0\nrequest_deadline = 4.0\n"
        f"[[clients]]\nname = 'Acme Corp'\nid = 2\nmonthly_kpi = 30\napi_key_env = '{ENV[2]}'\n"
        f"[[clients]]\nname = 'Globex'\nid = 3\nmonthly_kpi = 20\napi_key_env = '{ENV[3]}'\n"
        "[retry]\nattempts = 2\nbackoff_initial = 0.05\njitter = 0.0\n"
        f"[storage]\npath = '{tmp_path / 'records.sqlite3'}'\n" + alerts
    )
    return path


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[[list[str]], tuple[int, str, str]]:
    """``cli.main`` with the echo tokens in the environment; returns (code, stdout, stderr)."""
    monkeypatch.setenv(ENV["master"], MASTER)
    monkeypatch.setenv(ENV[2], TOKENS[2])
    monkeypatch.setenv(ENV[3], TOKENS[3])
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def invoke(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return int(code), out, err

    return invoke


async def test_echoed_tokens_never_reach_the_records_file(tmp_path: Path) -> None:
    from portal_tui.config import ClientEntry

    tokens = all_tokens()
    clients = [
        ClientEntry(name="Acme Corp", id=2, monthly_kpi=30, api_key_env="ACME_TOKEN"),
        ClientEntry(name="Globex", id=3, monthly_kpi=20, api_key_env="GLOBEX_TOKEN"),
    ]
    async with rig(
        tmp_path, http=True, dataset=echo_dataset(), clients=clients, faults=ECHO, attempts=2
    ) as r:
        for _ in range(2):
            await r.monitor.refresh(force=True)
        assert r.sim.counters.faults["echo_token"] > 10
        files = db_files(tmp_path)
        assert any(p.name.endswith("-wal") for p in files), files  # looked at while open
        for path in files:
            assert leaks(path.read_bytes(), tokens) == [], path
        # The echo was there, and only the token went: the rest of each value is kept.
        names = {row.workspace for s in r.monitor.snapshots.values() for row in s.rows}
        assert "Initech [REDACTED]" in names, names
        issues = [i for s in r.monitor.snapshots.values() for i in s.issues]
        assert any(i.actual == "'[REDACTED]'" for i in issues), issues
        failures = [f for s in r.monitor.snapshots.values() for f in s.failures]
        assert any(f.status_code == 422 and "[REDACTED]" in f.message for f in failures)


def test_echoed_tokens_never_reach_an_output(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    tokens = all_tokens()
    searched: dict[str, bytes | str] = {}
    with echoing_upstream(ECHO) as (base_url, sim), receiver() as hook:
        # Every event to a webhook: findings, health, and FAILING after one failed cycle.
        alerts = (
            f"[[alerts]]\nname = 'hook'\nurl = '{hook.url}'\n"
            "min_severity = 'info'\nfailure_threshold = 1\n"
        )
        config = write_config(tmp_path, base_url, alerts)
        for args in (["check", "--json"], ["check"]):
            code, out, err = run_cli([*args, "--config", str(config)])
            assert code in (1, 2), err  # the echoes fail calls: a WARNING or CRITICAL verdict
            searched[" ".join(args)] = out + err
            assert "[REDACTED]" in out, out
            if "--json" in args:
                report = json.loads(out)
        boards = report["dashboards"].values()
        actual = {i["actual"] for board in boards for i in board["validation_errors"]}
        assert "'[REDACTED]'" in actual, actual
        drift = [f for f in report["consistency_findings"] if "echo_" in f["message"]]
        assert drift and all("[REDACTED]" in f["message"] for f in drift), drift
        for args in (
            ["export", "--format", "md"],
            ["export", "--format", "json"],
            ["export", "-o", str(tmp_path / "incident.md")],
            ["history"],
            ["history", "--json"],
            ["doctor"],
            ["doctor", "--json"],
        ):
            code, out, err = run_cli([*args, "--config", str(config)])
            assert "Traceback" not in err, (args, err)
            searched[" ".join(args)] = out + err
        assert sim.counters.faults["echo_token"] > 10
        titles = hook.titles()
        notified = [json.dumps(body) for body in hook.accepted]
    kinds = {title.split()[0] for title in titles if title}
    assert {"FAILING", "FINDING"} <= kinds, titles  # the messages that quote the upstream
    assert any("[REDACTED]" in text for text in notified), notified  # they did quote it
    searched["notifications"] = "\n".join(notified)
    searched["incident.md"] = (tmp_path / "incident.md").read_bytes()
    for path in db_files(tmp_path):
        searched[path.name] = path.read_bytes()
    found = {name: leaks(blob, tokens) for name, blob in searched.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}


async def test_echoed_tokens_never_reach_the_console_screen(tmp_path: Path) -> None:
    shots: dict[str, str] = {}
    async with running_console(
        tmp_path / "c.db",
        size=(160, 50),
        faults="echo_token@12/stats=number:name,echo_token@14=error,echo_token=value:name",
    ) as (app, pilot, runtime, _clock):
        tokens = demo_tokens(runtime)
        assert runtime.simulator.counters.faults["echo_token"] > 10
        for key in "12345678":
            await pilot.press(key)
            await settle(pilot)
            shots[f"pane {key} svg"] = app.export_screenshot()
            shots[f"pane {key} text"] = screen_text(app)
        await pilot.press("2", "enter")  # a workspace's detail
        await settle(pilot)
        shots["detail"] = app.export_screenshot()
    assert any("REDACTED" in text for text in shots.values())
    found = {name: leaks(text, tokens) for name, text in shots.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}


async def test_the_client_scrubs_a_token_however_it_is_escaped() -> None:
    token = "Tok|en-With/Slash-And-Quote-9z"
    scanner = SecretScanner([token])
    escaped = json.dumps(token).replace("/", "\\/").replace("T", "\\u0054")[1:-1]
    body = (
        '{"data":{"emails_sent":1,"total_leads_contacted":1,"opened":0,"opened_percentage":0,'
        '"unique_opens_per_contact":0,"unique_opens_per_contact_percentage":0,'
        '"unique_replies_per_contact":0,"unique_replies_per_contact_percentage":0,'
        '"bounced":0,"bounced_percentage":0,"unsubscribed":0,"unsubscribed_percentage":0,'
        f'"interested":0,"interested_percentage":0,"note":"x{escaped}y","k_{escaped}":1}}}}'
    ).encode()
    assert token.encode() not in body  # only escaped forms are in the body
    client = EmailBisonClient(
        InstanceConfig(name="a", base_url="http://h/api"), scanner=scanner
    )
    from portal_tui.upstream.client import Answer

    reply = client.parse(Answer(200, body), StatsResponse)
    data = reply.payload.data  # type: ignore[attr-defined]
    assert data.model_extra == {"note": "x[REDACTED]y", "k_[REDACTED]": 1}
    assert reply.unknown_fields == {"note", "k_[REDACTED]"}
    # Without the token in it, a body goes the fast way, untouched.
    plain = client.parse(Answer(200, b'{"data": [{"id": 1, "name": "Tok"}]}'), WorkspacesResponse)
    assert plain.payload.data[0].name == "Tok"  # type: ignore[attr-defined]


@pytest.mark.parametrize("count", [1, 16, 17, 400])
def test_the_scanner_finds_every_token_at_every_offset(count: int) -> None:
    tokens = [f"{n}|tok{n:04d}-AbCdEfGhIjKlMnOpQrStUvWxYz{n}" for n in range(count)]
    scanner = SecretScanner(tokens)
    for token in (tokens[0], tokens[-1]):
        for pad in range(0, 70, 3):
            data = b"x" * pad + token.encode() + b"tail"
            assert scanner.found(data) == [token], (pad, token)
            assert scanner.scrub(data.decode()) == "x" * pad + "[REDACTED]tail"
    assert scanner.found(b"tok0000-AbCdEfGhIjKlMnOpQrSt" * 40) == []  # a prefix is not a token
    assert not SecretScanner(["short"])  # under 8 characters: not a token


def _reference_canonical(content: bytes) -> bytes:
    """What canonical_json must equal: one regex over every escape, as JSON reads them."""

    def one(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped == b"/":
            return b"/"
        if len(escaped) != 5:
            return match.group(0)
        code = int(escaped[1:], 16)
        if code == 0x22:
            return b'\\"'
        if code == 0x5C:
            return b"\\\\"
        return bytes((code,)) if 0x20 <= code < 0x80 else match.group(0)

    return re.sub(rb"\\(u[0-9a-fA-F]{4}|.)", one, content, flags=re.DOTALL)


PIECES = [b"\\", b"/", b"u", b"00", b"4", b"7", b"1", b"a", b"F", b'"', b"x", b"5c", b"22"]
ESCAPES = [b"\\u0041", b"\\u007a", b"\\u005C", b"\\u0022", b"\\u001f", b"\\ud83d", b"\\u00e9"]


@given(st.lists(st.sampled_from([*PIECES, *ESCAPES, b"\\/", b"\\\\"]), max_size=16))
def test_canonical_json_undoes_exactly_the_escapes_a_token_could_hide_in(
    parts: list[bytes],
) -> None:
    body = b"".join(parts)
    for content in (body, b"\\/" * 70 + body):  # few escapes, many: its two paths
        assert canonical_json(content) == _reference_canonical(content)
