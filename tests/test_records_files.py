"""The records file as the read-only commands and a full disk meet it (issue 16, items 4 and 7).

- ``export``, ``history`` and ``doctor`` never create a records file: a damaged
  one is moved aside (byte for byte), said once, exit 3, and nothing new
  takes its place.
- A file this user cannot write (a read-only mount, ``chmod 444``) is read
  read-only, so a copy taken off a server can be reported on; nothing is
  created beside it.
- A full disk at open is one line naming the file, exit 3, and leaves no
  empty file, -wal or -shm behind.

The read-only directory and the full disk are real tmpfs mounts (we run as
root); without ``mount`` those tests skip and say so. ``chmod 444`` means
nothing to root and the interpreter lives under /root (no other user can run
it), so a 444 file is simulated by a wrapper whose ``os.access`` refuses W_OK
on that one path: what is tested is that portal-tui then opens it read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portal_tui.cli import main
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import CycleRecord, Store
from portal_tui.store.connection import DamagedRecords, describe_open_error
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import StoreError

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # inside any --since
READERS = [
    ["export"],
    ["export", "--format", "json"],
    ["history"],
    ["history", "--json"],
    ["metrics"],
]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment for a subprocess, and the same XDG directories for this process."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_TUI")}
    xdg = {"XDG_DATA_HOME": str(tmp_path / "xdg-data"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    for key in [k for k in os.environ if k.startswith("PORTAL_TUI")]:
        monkeypatch.delenv(key)
    for key, value in xdg.items():
        monkeypatch.setenv(key, value)
    return {**base, **xdg}


def run(
    args: list[str], env: dict[str, str], *, wrapper: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI: in this process (``cli.main``, the same code without the start-up
    cost), or in a subprocess behind ``wrapper``."""
    if wrapper is not None:
        command = [sys.executable, str(wrapper), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


async def _write_records(path: Path, calls: int = 50) -> None:
    call = ApiCallRecord("sim", "stats", "GET", "Acme", 200, 10.0, True, None, None, 1, "auto", AT)
    async with await Store.open(path, clock=FakeClock(AT)) as store:
        await store.record_cycle(CycleRecord("auto", AT, AT, ["kpi"], [call] * calls))


def make_records(path: Path) -> Path:
    asyncio.run(_write_records(path))
    return path


def one_line(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("portal-tui:"), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(512) + b"not SQLite" * 400)


def _damaged_pages(path: Path) -> None:
    make_records(path)
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)
    path.write_bytes(bytes(data))


# -- damaged, missing and empty files ------------------------------------------------------


@pytest.mark.parametrize("damage", [_garbage, _damaged_pages], ids=["garbage", "damaged pages"])
@pytest.mark.parametrize("command", [*READERS, ["doctor", "--demo"]], ids=" ".join)
def test_a_damaged_file_is_moved_aside_once_and_nothing_replaces_it(
    tmp_path: Path, env: dict[str, str], damage: object, command: list[str]
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "records.sqlite3"
    damage(db)  # type: ignore[operator]
    original = sha(db)
    result = run([*command, "--db", str(db)], env)
    assert result.returncode == 3, result.stdout + result.stderr
    (moved,) = [p for p in folder.iterdir()]  # the aside file, and nothing else
    assert ".corrupt-" in moved.name and sha(moved) == original
    assert not db.exists()
    if command[0] == "doctor":  # doctor's report is its output; stderr stays empty
        assert result.stderr == ""
        assert result.stdout.count("moved aside") == 1 and str(moved) in result.stdout
        assert "? unusable" in result.stdout
    else:
        one_line(result.stderr, "local database error", "damaged", "moved aside", str(moved))
        assert "no new file was started" in result.stderr and result.stdout == ""
    # The next reader finds no file, says so, and still creates none.
    again = run([*command, "--db", str(db)], env)
    assert not db.exists() and [p.name for p in folder.iterdir()] == [moved.name]
    if command[0] != "doctor":
        assert again.returncode == 3
        one_line(again.stderr, "no local records")


def test_the_writer_moves_a_damaged_file_aside_and_says_so_once(
    tmp_path: Path, env: dict[str, str]
) -> None:
    db = tmp_path / "records.sqlite3"
    _garbage(db)
    result = run(["check", "--demo", "--db", str(db)], env)
    assert result.returncode in (1, 2), result.stderr  # a verdict on the demo: the check ran
    one_line(result.stderr, "moved aside", "a fresh file was started")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM refresh_cycles").fetchone() == (1,)


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_an_empty_or_missing_file_is_not_made_into_a_database(
    tmp_path: Path, env: dict[str, str], command: list[str]
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    result = run([*command, "--db", str(empty)], env)
    assert result.returncode == 3
    one_line(result.stderr, "is empty", str(empty))
    missing = tmp_path / "missing" / "records.sqlite3"
    result = run([*command, "--db", str(missing)], env)
    assert result.returncode == 3
    one_line(result.stderr, "no local records", str(missing))
    assert [p.name for p in tmp_path.iterdir() if p.name != "xdg-data"] == ["empty.sqlite3"]
    assert empty.read_bytes() == b""


def test_doctor_creates_no_file(tmp_path: Path, env: dict[str, str]) -> None:
    db = tmp_path / "never" / "records.sqlite3"
    result = run(["doctor", "--demo", "--db", str(db)], env)
    assert "no records file yet" in result.stdout
    assert not db.parent.exists()


# -- read-only files ---------------------------------------------------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs at a fresh directory (skips where ``mount`` is not allowed)."""
    point = tmp_path / "mnt"
    point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(point)):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount in this sandbox)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _with_unflushed_wal(db: Path) -> None:
    """Records whose latest cycle is only in ``db``'s -wal: copied while a reader pins it."""
    make_records(db)
    source = db.with_name("live.sqlite3")
    shutil.copy(db, source)
    reader = sqlite3.connect(source, isolation_level=None)
    reader.execute("BEGIN")  # an open read snapshot: no checkpoint can pass it
    reader.execute("SELECT count(*) FROM sqlite_master").fetchall()
    asyncio.run(_write_records(source, calls=7))
    for suffix in ("", "-wal", "-shm"):
        shutil.copy(f"{source}{suffix}", f"{db}{suffix}")
    reader.execute("ROLLBACK")
    reader.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{source}{suffix}").unlink(missing_ok=True)
    assert Path(f"{db}-wal").stat().st_size > 0


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_file_on_a_read_only_mount_is_reported_on(
    tmpfs: Path, env: dict[str, str], command: list[str]
) -> None:
    clean = make_records(tmpfs / "clean.sqlite3")  # closed cleanly: no -wal beside it
    both = tmpfs / "both.sqlite3"
    _with_unflushed_wal(both)  # -wal and -shm beside it
    wal_only = tmpfs / "wal-only.sqlite3"
    _with_unflushed_wal(wal_only)
    Path(f"{wal_only}-shm").unlink()
    assert _mount("-o", "remount,ro", str(tmpfs))
    before = listing(tmpfs)
    for db in (clean, both):
        result = run([*command, "--db", str(db), "--since", "7d"], env)
        assert result.returncode == 0, (db.name, result.stderr)
        assert result.stderr == "" and result.stdout
    # The cycle only in the -wal was read: 50 + 7 calls, against 50 in the clean file.
    assert "57 attempts" in run(["history", "--db", str(both)], env).stdout
    assert "50 attempts" in run(["history", "--db", str(clean)], env).stdout
    result = run([*command, "--db", str(wal_only)], env)
    assert result.returncode == 3
    one_line(result.stderr, "is read-only", f"{wal_only}-shm", "copy the file with its -wal")
    assert listing(tmpfs) == before


DENY_WRITE = textwrap.dedent(
    """
    import os, sys
    target, real_access = os.environ["PTUI_READ_ONLY_PATH"], os.access

    def access(path, mode, **kwargs):  # what a non-owner sees for a chmod 444 file
        if str(path) == target and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    os.access = access
    from portal_tui.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize(
    "command", [["export", "--format", "json"], ["history"], ["metrics"]], ids=" ".join
)
def test_a_file_this_user_cannot_write_is_opened_read_only(
    tmp_path: Path, env: dict[str, str], command: list[str]
) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    db = make_records(folder / "records.sqlite3")
    db.chmod(0o444)
    wrapper = tmp_path / "deny.py"
    wrapper.write_text(DENY_WRITE)
    before = listing(folder)
    result = run(
        [*command, "--db", str(db)], {**env, "PTUI_READ_ONLY_PATH": str(db)}, wrapper=wrapper
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout and result.stderr == ""
    assert listing(folder) == before  # not a byte changed, no -wal or -shm left beside it


async def test_a_read_only_file_with_an_older_schema_is_refused_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import file_at_version

    db = tmp_path / "old.sqlite3"
    file_at_version(db, 1).close()
    before = listing(tmp_path)
    monkeypatch.setattr("portal_tui.store.existing.writable", lambda path: False)
    with pytest.raises(StoreError, match=r"older than this portal-tui reads.*read-only"):
        await Store.open(db, clock=FakeClock(AT), create=False)
    assert listing(tmp_path) == before


async def test_a_damaged_read_only_file_is_left_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "records.sqlite3"
    _garbage(db)
    before = listing(tmp_path)
    monkeypatch.setattr("portal_tui.store.existing.writable", lambda path: False)
    with pytest.raises(DamagedRecords, match="read-only, so it was left as it is"):
        await Store.open(db, clock=FakeClock(AT), create=False)
    assert listing(tmp_path) == before


# -- a full disk -----------------------------------------------------------------------------


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    os.sync()


def test_a_full_disk_at_open_is_one_line_and_leaves_nothing_behind(
    tmpfs: Path, env: dict[str, str]
) -> None:
    """A real full tmpfs: an existing file, and a new one, for the writer and the readers."""
    existing = make_records(tmpfs / "records.sqlite3")
    _fill(tmpfs)
    before = listing(tmpfs)
    for db in (existing, tmpfs / "new.sqlite3"):
        result = run(["check", "--demo", "--db", str(db)], env)
        assert result.returncode == 3, result.stderr
        one_line(result.stderr, "disk holding the local records file", "is full", str(db))
        assert listing(tmpfs) == before, db  # no empty file, -wal or -shm left behind
    # The readers still report: the file is read read-only, and they say why.
    for command in READERS:
        result = run([*command, "--db", str(existing)], env)
        assert result.returncode == 0, result.stderr
        one_line(result.stderr, "is full: the records were read read-only")
        assert result.stdout
    assert listing(tmpfs) == before


def test_an_io_error_on_a_full_disk_is_said_to_be_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite reports a -shm it cannot grow as "disk I/O error": the free space decides."""
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = sqlite3.SQLITE_IOERR  # type: ignore[attr-defined]
    db = tmp_path / "r.sqlite3"
    assert "is full" not in str(describe_open_error(db, error))  # space left: not a full disk
    monkeypatch.setattr("portal_tui.store.connection.disk_is_full", lambda folder: True)
    message = str(describe_open_error(db, error))
    assert message.startswith(f"the disk holding the local records file {db} is full")
