"""Secrets: known fake tokens never reach a file, an output or a screenshot; TLS is verified.

A full refresh runs over loopback HTTP with known tokens (a master token and
api-user tokens) while the upstream fails in the ways most likely to echo a
request back: a 401 revoked token, 5xx bursts, a reset mid-body, a malformed
body. Then every place a token could end up is searched, byte for byte:

- the SQLite file and its ``-wal``/``-shm`` (while the writer still has it
  open, and again after ``check`` closed it);
- ``check`` output, human and ``--json``, stdout and stderr;
- ``export`` (Markdown, JSON and ``-o FILE``), ``history`` and ``doctor``;
- ``crash.log`` and the one line an internal error prints, after an
  internal error whose message carries a token;
- the console screenshots (``screenshots/*.svg`` and the snapshot tests'
  SVGs), searched for the demo's tokens, which are what the console shows.

Also: TLS verification is on by default (a self-signed loopback server is
refused), off only with ``verify_tls = false``, which ``check`` shows; a
world-readable config naming token variables is fine (test_bad_input); a
config holding a literal token is refused without echoing it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from pydantic import SecretStr

from portal_tui.cli import main
from portal_tui.config import InstanceConfig
from portal_tui.simulator import Simulator, build_demo
from portal_tui.upstream.client import EmailBisonClient
from portal_tui.upstream.models import WorkspacesResponse
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import MASTER, hand_dataset, rig, simulator_in_thread

ROOT = Path(__file__).resolve().parents[1]
FAULTS = (
    "revoked@3,5xx@2/stats=1:codes=500/502/503,"
    "reset@4/sending-schedules=at=0.5,malformed@4/sender-emails"
)
ENV_NAMES = {"master": "SECRETS_TEST_MASTER", 2: "SECRETS_TEST_ACME", 3: "SECRETS_TEST_GLOBEX"}


def fake_tokens() -> list[str]:
    """Every token of the hand dataset: the master and each workspace's api-user token."""
    return [MASTER, *hand_dataset().tokens().values()]


def leaks(blob: bytes | str, tokens: list[str]) -> list[str]:
    """The tokens found in ``blob`` (raw, or as they would look URL- or JSON-escaped)."""
    data = blob if isinstance(blob, bytes) else blob.encode("utf-8", "replace")
    return [t for t in tokens if t.encode() in data or t[4:-4].encode() in data]


def simulator_thread(faults: str) -> AbstractContextManager[tuple[str, Simulator]]:
    """The hand dataset served over loopback HTTP from a thread (so the CLI can run here)."""
    return simulator_in_thread(hand_dataset(), faults)


def write_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(
        "[[instances]]\nname = 'sim'\n"
        f"base_url = '{base_url}'\nmaster_token_env = '{ENV_NAMES['master']}'\n"
        "sender_emails_per_page = 2\nattempt_timeout = 1.0\nrequest_deadline = 3.0\n"
        f"{extra}"
        "[[clients]]\nname = 'Acme Corp'\nmonthly_kpi = 30\n"
        f"api_key_env = '{ENV_NAMES[2]}'\n"
        "[[clients]]\nname = 'Globex'\nmonthly_kpi = 20\n"
        f"api_key_env = '{ENV_NAMES[3]}'\n"
        "[retry]\nattempts = 2\nbackoff_initial = 0.05\njitter = 0.0\n"
        f"[storage]\npath = '{tmp_path / 'records.sqlite3'}'\n"
    )
    return path


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[[list[str]], tuple[int, str, str]]:
    """``cli.main`` with the fake tokens in the environment; returns (code, stdout, stderr)."""
    tokens = hand_dataset().tokens()
    monkeypatch.setenv(ENV_NAMES["master"], MASTER)
    monkeypatch.setenv(ENV_NAMES[2], tokens[2])
    monkeypatch.setenv(ENV_NAMES[3], tokens[3])
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def invoke(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return int(code), out, err

    return invoke


def db_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".sqlite3" in p.name)


async def test_a_failing_refresh_writes_no_token_to_sqlite(tmp_path: Path) -> None:
    tokens = fake_tokens()
    # The rig's store is opened WITHOUT the token list to redact: nothing may depend on it.
    async with rig(tmp_path, http=True, faults=FAULTS, attempts=2, threshold=1000) as r:
        for _ in range(2):
            await r.monitor.refresh(force=True)
        failures = [f for s in r.monitor.snapshots.values() for f in s.failures]
        assert any(f.status_code == 401 for f in failures)
        assert any(f.error_type == "5xx" for f in failures)
        files = db_files(tmp_path)
        assert any(p.name.endswith("-wal") for p in files), files  # looked at while open
        for path in files:
            assert leaks(path.read_bytes(), tokens) == [], path
        # Even the free text most likely to echo a request carries none.
        for call in await r.store.recent_api_calls(limit=5000):
            assert "Bearer" not in (call.error_message or "")
            assert leaks(call.endpoint + (call.error_message or ""), tokens) == []


def test_no_token_in_any_output_file_or_screenshot(
    tmp_path: Path,
    run_cli: Callable[[list[str]], tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = fake_tokens()
    searched: dict[str, bytes | str] = {}
    with simulator_thread(FAULTS) as (base_url, _sim):
        config = write_config(tmp_path, base_url)
        for args in (["check", "--json"], ["check"]):
            code, out, err = run_cli([*args, "--config", str(config)])
            assert code in (1, 2), err  # failures were seen: a WARNING or CRITICAL verdict
            searched[" ".join(args)] = out + err
            if "--json" in args:
                failed = json.loads(out)["dashboards"]["kpi"]["failed_workspaces"]
                assert 401 in {f["status_code"] for f in failed}
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
        searched["incident.md"] = (tmp_path / "incident.md").read_bytes()

        # An internal error whose message carries a token, as a library might raise.
        def explode(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError(
                f"header dump: Authorization: Bearer {MASTER}; raw {MASTER}; "
                f"workspace token {hand_dataset().tokens()[2]}"
            )

        monkeypatch.setattr("portal_tui.reports.check.run_check", explode)
        code, out, err = run_cli(["check", "--config", str(config)])
        assert code == 3 and "internal error" in err
        searched["internal error line"] = out + err

    crash_log = tmp_path / "data" / "portal-tui" / "crash.log"
    assert crash_log.exists()
    searched["crash.log"] = crash_log.read_bytes()
    for path in db_files(tmp_path):
        searched[path.name] = path.read_bytes()
    assert any(name.endswith(".sqlite3") for name in searched)

    found = {name: leaks(blob, tokens) for name, blob in searched.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_no_demo_token_in_console_screenshots() -> None:
    tokens = list(build_demo().tokens.values())
    shots = sorted(ROOT.glob("screenshots/*.svg")) + sorted(ROOT.glob("tests/**/*.svg"))
    assert shots, "no screenshots to search (the console's snapshot tests make them)"
    hits = {str(p.relative_to(ROOT)): leaks(p.read_bytes(), tokens) for p in shots}
    assert {name: found for name, found in hits.items() if found} == {}


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def _tls_listing(cert: Path, key: Path, verify_tls: bool | None) -> object:
    """One listing request against a self-signed loopback TLS server."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            body = b'{"data": []}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    options: dict[str, object] = {"name": "tls", "base_url": f"https://127.0.0.1:{port}/api"}
    if verify_tls is not None:
        options["verify_tls"] = verify_tls
    client = EmailBisonClient(InstanceConfig.model_validate(options))
    try:
        return await client.request(
            "GET",
            "workspaces/v1.1",
            token=SecretStr("tls-test-token-1234"),
            model=WorkspacesResponse,
        )
    except UpstreamError as exc:
        return exc
    finally:
        await client.aclose()
        server.close()


async def test_tls_is_verified_by_default(self_signed: tuple[Path, Path]) -> None:
    assert InstanceConfig(name="a", base_url="https://h/api").verify_tls is True
    refused = await _tls_listing(*self_signed, verify_tls=None)
    assert isinstance(refused, UpstreamError) and refused.error_type is ErrorType.NETWORK
    assert "CERTIFICATE_VERIFY_FAILED" in refused.message or "certificate" in refused.message
    accepted = await _tls_listing(*self_signed, verify_tls=False)
    assert not isinstance(accepted, UpstreamError), accepted


def test_tls_off_is_shown_by_check(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    with simulator_thread("") as (base_url, _sim):
        shown = {}
        for verify in (True, False):
            config = write_config(tmp_path, base_url, f"verify_tls = {str(verify).lower()}\n")
            code, human, err = run_cli(["check", "--config", str(config)])
            code_json, out, _ = run_cli(["check", "--json", "--config", str(config)])
            assert code == code_json and code in (0, 1), err  # a verdict either way
            shown[verify] = (human, json.loads(out)["instances"][0]["verify_tls"])
    assert "TLS VERIFICATION OFF" in shown[False][0] and shown[False][1] is False
    assert "TLS VERIFICATION OFF" not in shown[True][0] and shown[True][1] is True


def test_httpx_client_verifies_by_default() -> None:
    client = EmailBisonClient(InstanceConfig(name="a", base_url="https://h/api"))
    try:
        pool = client.transport._pool  # type: ignore[attr-defined]
        context: ssl.SSLContext = pool._ssl_context
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    finally:
        asyncio.run(client.aclose())


def test_a_literal_token_in_the_config_is_refused_and_not_echoed(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    literal = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    for body in (
        f"master_token_env = '{literal}'\n",
        f"token = '{literal}'\n",
        f"api_key = '{literal}'\n",
    ):
        path = tmp_path / "literal.toml"
        path.write_text(f"[[instances]]\nname = 'a'\nbase_url = 'https://h/api'\n{body}")
        code, out, err = run_cli(["check", "--config", str(path)])
        assert code == 3 and out == ""
        assert literal not in err
        assert "token" in err and ("literal tokens are refused" in err or "never live" in err)
