"""Bad local input: the database file, the config, the environment, the disk.

Each case goes through the real command line and must give one clear line
on stderr and the documented exit code (3 for anything the operator must
fix; a verdict when portal-tui can carry on, e.g. after moving a damaged
file aside), never a traceback, and never lose user data: every file present
before is hashed before and after (a damaged database moved aside keeps its
exact bytes under its new name).

Database cases run ``python -m portal_tui.cli`` in a subprocess (a FIFO
would hang a test in-process); config cases call ``cli.main`` in-process,
which is the same code without the process start-up cost.

We run as root, so ``chmod 000`` means nothing: unreadable files are
simulated by a wrapper that makes ``open``/``os.access`` refuse the one path
with PermissionError, and a read-only data directory is a real read-only
tmpfs mount when the sandbox allows ``mount`` (else the same wrapper refuses
writes with EROFS; the test says which it used).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal_tui.cli import main

EXE = [sys.executable, "-m", "portal_tui.cli"]
SIM_TOKEN_ENV = "PORTAL_TUI_SIM_MASTER_TOKEN"

# A wrapper around the real CLI that makes one path unreadable (PermissionError) or one
# directory read-only (EROFS), as a non-root user or a read-only mount would.
DENY = textwrap.dedent(
    """
    import errno, os, pathlib, sys
    target, kind = os.environ["PTUI_DENY_PATH"], os.environ["PTUI_DENY_KIND"]
    real_open, real_access = pathlib.Path.open, os.access

    def hit(path):
        return str(path) == target or (kind == "rofs" and str(path).startswith(target + "/"))

    def deny_open(self, *args, **kwargs):
        if hit(self):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def deny_access(path, mode, **kwargs):
        if hit(path) and (kind == "unreadable" or mode & os.W_OK):
            return False
        return real_access(path, mode, **kwargs)

    real_statvfs = os.statvfs
    class _RO:
        def __init__(self, real): self._real = real
        def __getattr__(self, name): return getattr(self._real, name)
        f_flag = os.ST_RDONLY

    def ro_statvfs(path):
        real = real_statvfs(path)
        return _RO(real) if kind == "rofs" and hit(path) else real

    pathlib.Path.open, os.access, os.statvfs = deny_open, deny_access, ro_statvfs
    from portal_tui.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    """Every regular file under ``folder`` (recursively) and its hash."""
    return {
        str(p.relative_to(folder)): sha(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def assert_one_clear_line(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A healthy simulator on loopback for the cases where the check carries on."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    server = subprocess.Popen(
        [*EXE, "simulate", "--port", str(port), "--workspaces", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        seen = ""
        deadline = time.monotonic() + 20
        while "Press Ctrl-C" not in seen and time.monotonic() < deadline:
            seen += server.stdout.readline()
        token = re.search(rf"{SIM_TOKEN_ENV}='([^']+)'", seen)
        assert token, seen
        yield f"http://127.0.0.1:{port}/api", token.group(1)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def env(tmp_path: Path, upstream: tuple[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    base.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        **{SIM_TOKEN_ENV: upstream[1]},
    )
    return base


def good_config(tmp_path: Path, upstream: tuple[str, str], extra: str = "") -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(
        f"[[instances]]\nname = 'sim'\nbase_url = '{upstream[0]}'\n"
        f"master_token_env = '{SIM_TOKEN_ENV}'\n[retry]\nattempts = 1\n{extra}"
    )
    return path


def run(
    args: list[str], env: dict[str, str], *, wrapper: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (optionally behind the DENY wrapper)."""
    command = [sys.executable, str(wrapper), *args] if wrapper else [*EXE, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def cli(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[list[str]], subprocess.CompletedProcess[str]]:
    """The real CLI in this process (``cli.main``): the same code, without start-up cost."""

    def invoke(args: list[str]) -> subprocess.CompletedProcess[str]:
        for key, value in env.items():
            if key.startswith(("XDG_", "PORTAL_TUI")):
                monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return invoke


async def _make_store(path: Path) -> None:
    from datetime import UTC, datetime

    from portal_tui.fetch.events import ApiCallRecord
    from portal_tui.store import CycleRecord, Store
    from portal_tui.vocabulary.clock import FakeClock

    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    call = ApiCallRecord("sim", "stats", "GET", "Acme", 200, 10.0, True, None, None, 1, "auto", at)
    async with await Store.open(path, clock=FakeClock(at)) as store:
        await store.record_cycle(CycleRecord("auto", at, at, ["kpi"], [call] * 300))


def make_records(path: Path) -> Path:
    """A real records file with history in it."""
    import asyncio

    asyncio.run(_make_store(path))
    return path


# -- the database file -----------------------------------------------------------------------


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()  # the last connection: the WAL is checkpointed into the file


def _newer_version(path: Path) -> None:
    make_records(path)
    _sql(path, "PRAGMA user_version = 99")


def _other_program(path: Path) -> None:
    _sql(
        path,
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)",
        "INSERT INTO invoices (total) VALUES (12.5)",
    )


def _damaged_pages(path: Path) -> None:
    make_records(path)
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)
    path.write_bytes(bytes(data))


DB_REFUSED = [
    # name, file name under the store folder, how to make it, what the message says
    ("a directory", "records.sqlite3", lambda p: p.mkdir(), "is a directory"),
    ("a FIFO", "records.sqlite3", os.mkfifo, "not a regular file"),
    (
        "a newer schema version",
        "records.sqlite3",
        _newer_version,
        "newer than this portal-tui understands",
    ),
    ("another program's SQLite file", "records.sqlite3", _other_program, "another program"),
    (
        "a parent that is a file",
        "f/r.sqlite3",
        lambda p: p.parent.write_text("x"),
        "cannot create the directory",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "fragment"), [c[1:] for c in DB_REFUSED], ids=[c[0] for c in DB_REFUSED]
)
def test_a_database_path_that_cannot_be_used_is_refused_untouched(
    tmp_path: Path,
    cli: Callable[[list[str]], subprocess.CompletedProcess[str]],
    upstream: tuple[str, str],
    name: str,
    make: Callable[[Path], None],
    fragment: str,
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / name
    make(db)
    config = good_config(tmp_path, upstream)
    before = hashes(tmp_path)
    result = cli(["check", "--config", str(config), "--db", str(db)])
    assert result.returncode == 3, result.stderr
    assert_one_clear_line(result.stderr, "local database error", fragment)
    assert result.stdout == ""
    assert hashes(tmp_path) == before  # not a byte changed, nothing deleted


def test_an_unreadable_database_is_refused_untouched(
    tmp_path: Path, env: dict[str, str], upstream: tuple[str, str]
) -> None:
    db = make_records(tmp_path / "records.sqlite3")
    wrapper = tmp_path / "deny.py"
    wrapper.write_text(DENY)
    before = hashes(tmp_path)
    result = run(
        ["check", "--config", str(good_config(tmp_path, upstream)), "--db", str(db)],
        {**env, "PTUI_DENY_PATH": str(db), "PTUI_DENY_KIND": "unreadable"},
        wrapper=wrapper,
    )
    assert result.returncode == 3
    assert_one_clear_line(result.stderr, str(db), "not readable and writable")
    assert hashes(tmp_path) == {**before, "portal.toml": sha(tmp_path / "portal.toml")}


@pytest.mark.parametrize("kind", ["empty", "garbage", "damaged pages"])
def test_an_empty_or_corrupt_database_is_set_aside_and_the_check_carries_on(
    tmp_path: Path,
    cli: Callable[[list[str]], subprocess.CompletedProcess[str]],
    upstream: tuple[str, str],
    kind: str,
) -> None:
    db = tmp_path / "records.sqlite3"
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "garbage":
        db.write_bytes(os.urandom(256) + b"not SQLite" * 500)
    else:
        _damaged_pages(db)
    original = sha(db)
    result = cli(
        ["check", "--json", "--config", str(good_config(tmp_path, upstream)), "--db", str(db)]
    )
    # A verdict (the upstream is healthy; the registry is empty, which may warn): the
    # check could be made, so not 3.
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["status"] == ("OK", "WARNING")[result.returncode]
    assert "Traceback" not in result.stderr
    aside = [
        p
        for p in tmp_path.iterdir()
        if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))
    ]
    if kind == "empty":
        assert result.stderr == "" and aside == []  # an empty file is simply a new database
    else:
        assert_one_clear_line(result.stderr, "moved aside", "Nothing was deleted")
        (moved,) = aside
        assert sha(moved) == original  # the damaged bytes are kept, byte for byte
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM refresh_cycles").fetchone() == (1,)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_a_data_directory_on_a_read_only_file_system(
    tmp_path: Path, env: dict[str, str], upstream: tuple[str, str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(data))
    try:
        store_dir = data / "portal-tui"
        store_dir.mkdir()
        make_records(store_dir / "portal-tui.sqlite3")
        config = good_config(tmp_path, upstream)
        if mounted:
            assert _mount("-o", "remount,ro", str(data)), "remount read-only failed"
            how = "a real read-only tmpfs mount"
            wrapper, extra = None, {}
        else:  # no mount in this sandbox: refuse writes under the directory instead
            how = "a wrapper refusing writes (EROFS)"
            wrapper = tmp_path / "deny.py"
            wrapper.write_text(DENY)
            extra = {"PTUI_DENY_PATH": str(store_dir), "PTUI_DENY_KIND": "rofs"}
        before = hashes(data)
        # No --db: the default location under the (read-only) user data directory.
        result = run(["check", "--config", str(config)], {**env, **extra}, wrapper=wrapper)
        assert result.returncode == 3, (how, result.stderr)
        assert_one_clear_line(result.stderr, "read-only file system", str(store_dir))
        assert hashes(data) == before, how
        print(f"read-only data directory tested with {how}")
    finally:
        if mounted:
            subprocess.run(["umount", str(data)], capture_output=True)


# -- the config ------------------------------------------------------------------------------

INSTANCE = "[[instances]]\nname = 'a'\nbase_url = 'https://bison.example/api'\n"
CONFIG_MISTAKES = [
    # name, text, fragment of the message, (key, line) when known
    ("TOML syntax", "[ttl\nkpi = 1\n", "TOML syntax error", (None, 1)),
    ("duplicate key", "[ttl]\nkpi = 1\nkpi = 2\n", "TOML syntax error", (None, 3)),
    ("unknown key (typo)", "[ttl]\nkpii = 1\n", "unknown key", ("ttl.kpii", 2)),
    ("wrong type", "[retry]\nattempts = 'many'\n", "must be a number", ("retry.attempts", 2)),
    (
        "out of range",
        INSTANCE + "concurrency = 0\n",
        "greater than",
        ("instances.0.concurrency", 4),
    ),
    ("bad choice", "[[clients]]\nname = 'A'\nbilling_type = 'free'\n", "per_lead", None),
    ("bad URL", "[[instances]]\nname = 'a'\nbase_url = 'ftp://x'\n", "http", None),
    ("unknown time zone", "reporting_timezone = 'Mars/Olympus'\n", "unknown time zone", None),
    ("duplicate instances", INSTANCE + INSTANCE, "unique", None),
    (
        "client of an unknown instance",
        INSTANCE + "[[clients]]\nname = 'A'\ninstance = 'b'\n",
        "not configured",
        None,
    ),
    (
        "literal token in an _env key",
        INSTANCE + "master_token_env = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'\n",
        "literal tokens are refused",
        ("instances.0.master_token_env", 4),
    ),
    (
        "a token key",
        INSTANCE + "token = 'abc123'\n",
        "tokens never live in the config file",
        ("instances.0.token", 4),
    ),
    (
        "an api_key key",
        "[[clients]]\nname = 'A'\napi_key = 'abc123'\n",
        "tokens never live in the config file",
        ("clients.0.api_key", 3),
    ),
    (
        "credentials in the URL",
        "[[instances]]\nname = 'a'\nbase_url = 'https://me:pw@h/api'\n",
        "credentials",
        None,
    ),
    (
        "a token in the URL's query",
        "[[instances]]\nname = 'a'\nbase_url = 'https://h/api?api_token=abc'\n",
        "query string",
        None,
    ),
    (
        "attempt timeout over the deadline",
        INSTANCE + "attempt_timeout = 60\nrequest_deadline = 30\n",
        "longer than request_deadline",
        None,
    ),
    ("TTL over max staleness", "[ttl]\ninfrastructure = 7200\n", "longer than max_staleness", None),
    ("no instances at all", "", "no [[instances]] configured", None),
    ("negative money", "[[clients]]\nname = 'A'\nprice_per_lead = -5\n", "greater than", None),
    (
        "missing token env var",
        INSTANCE + "master_token_env = 'PORTAL_TUI_TEST_NOT_SET'\n",
        "PORTAL_TUI_TEST_NOT_SET is not set",
        ("master_token_env", 4),
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment", "where"),
    [c[1:] for c in CONFIG_MISTAKES],
    ids=[c[0] for c in CONFIG_MISTAKES],
)
def test_every_kind_of_config_mistake_is_one_line_and_exit_3(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    fragment: str,
    where: tuple[str | None, int] | None,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("PORTAL_TUI_TEST_NOT_SET", raising=False)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    before = sha(path)
    code = main(["check", "--config", str(path), "--db", str(tmp_path / "r.sqlite3")])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert_one_clear_line(err, "config error", str(path), fragment)
    if where is not None:
        key, line = where
        assert f"line {line}" in err
        if key:
            assert f"key '{key}'" in err
    assert sha(path) == before
    assert not (tmp_path / "r.sqlite3").exists()  # nothing written on a config error
    assert not (tmp_path / "data").exists()  # and no crash.log: it was not a crash
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dc" not in err  # a refused token is not echoed


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "not utf-8", "unreadable"])
def test_a_config_file_that_cannot_be_read(tmp_path: Path, env: dict[str, str], kind: str) -> None:
    path = tmp_path / "portal.toml"
    wrapper = None
    extra: dict[str, str] = {}
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "not utf-8":
        path.write_bytes(b"\xff\xfe name = 1")
    elif kind == "unreadable":
        path.write_text(INSTANCE)
        wrapper = tmp_path / "deny.py"
        wrapper.write_text(DENY)
        extra = {"PTUI_DENY_PATH": str(path), "PTUI_DENY_KIND": "unreadable"}
    before = hashes(tmp_path)
    result = run(["check", "--config", str(path)], {**env, **extra}, wrapper=wrapper)
    assert result.returncode == 3
    expected = {
        "missing": "not found",
        "directory": "is a directory",
        "fifo": "not a regular file",
        "not utf-8": "not UTF-8",
        "unreadable": "permission denied",
    }[kind]
    assert_one_clear_line(result.stderr, "config error", str(path), expected)
    assert hashes(tmp_path) == before


def test_a_world_readable_config_naming_token_variables_is_fine(
    tmp_path: Path, env: dict[str, str], upstream: tuple[str, str]
) -> None:
    config = good_config(tmp_path, upstream, f"[storage]\npath = '{tmp_path / 'r.sqlite3'}'\n")
    config.chmod(0o644)
    result = run(["check", "--config", str(config)], env)
    assert result.returncode in (0, 1), result.stderr  # a verdict, not a refusal
    assert result.stdout.startswith(("portal-tui check: OK", "portal-tui check: WARNING"))
