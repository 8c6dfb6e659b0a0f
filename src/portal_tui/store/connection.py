"""Opening the SQLite file safely: location checks, start-up check, moving a corrupt file aside.

The order matters. A file that does not even start with the SQLite header
is moved aside before SQLite opens it (SQLite would drop a -wal it cannot
use when it closes). The version and owner of the file are read BEFORE any
pragma that writes (``journal_mode=WAL`` rewrites the header), so a file
from a newer portal-tui or from another program is left byte-for-byte as it
was. A file that is not a database or fails ``quick_check`` is renamed, with
its ``-wal`` and ``-shm``, to ``<name>.corrupt-<UTC timestamp>``; nothing is
ever deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import aiosqlite

from portal_tui.store.busy import BUSY_TIMEOUT_MS, error_code, is_busy, while_busy
from portal_tui.store.rows import rows
from portal_tui.store.rows import scalar as _scalar
from portal_tui.store.schema import APPLICATION_ID, latest_version
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)


WAL_SWITCH_ATTEMPTS = 20
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL is truncated back to this after checkpoints
_SIDE_FILES = ("-wal", "-shm")
_IDENTITY_SQL = """
SELECT (SELECT user_version FROM pragma_user_version) AS user_version,
       (SELECT application_id FROM pragma_application_id) AS application_id,
       EXISTS (SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%') AS has_tables
"""
_SQLITE_MAGIC = b"SQLite format 3\x00"
_FIX_HINT = "set [storage] path in the config to a writable location"


def is_corruption(exc: BaseException) -> bool:
    """Whether an error says the file is damaged or not a database at all."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = error_code(exc)
    if code is not None:
        return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


class DamagedRecords(StoreError):
    """The records file is damaged (and was moved aside if it could be); nothing replaced it."""


DISK_FULL_BYTES = 64 * 1024
"""Free space under which an I/O error at open is taken for a full disk."""


def disk_is_full(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has (almost) no space left for us."""
    try:
        stat = os.statvfs(folder)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < DISK_FULL_BYTES


def disk_full_error(path: Path) -> StoreError:
    """The one line for a full disk: what, which file, what to do."""
    return StoreError(
        f"the disk holding the local records file {path} is full; free some space there "
        f"(or {_FIX_HINT}). Nothing was written."
    )


def describe_open_error(path: Path, exc: BaseException) -> StoreError:
    """A StoreError that says which file, what went wrong and what to do."""
    if isinstance(exc, sqlite3.Error) and is_busy(exc):
        return StoreError(
            f"the local records file {path} stayed locked by another process for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s ({exc}); retry, or find the process holding it"
        )
    if isinstance(exc, sqlite3.Error) and (
        error_code(exc) == sqlite3.SQLITE_FULL
        # Creating the -wal/-shm on a full disk fails as a plain "disk I/O error".
        or (error_code(exc) == sqlite3.SQLITE_IOERR and disk_is_full(path.parent))
    ):
        return disk_full_error(path)
    return StoreError(
        f"cannot use the local records file {path}: {exc}. Check that it and its directory "
        f"are readable and writable by this user, or {_FIX_HINT}"
    )


def prepare_location(path: Path) -> Path:
    """Create the parent directory and check it can hold the file (+ -wal/-shm).

    Returns the path with ``~`` expanded.
    """
    path = path.expanduser()
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the directory {parent} for the local records file {path}: "
            f"{exc.strerror or exc}. Create it, or {_FIX_HINT}"
        ) from exc
    if not parent.is_dir():
        raise StoreError(f"{parent} is not a directory, so {path} cannot live there; {_FIX_HINT}")
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a records file; {_FIX_HINT}")
    if path.exists() and not path.is_file():
        # A FIFO or device: reading its header would block forever (a hung cron check).
        raise StoreError(
            f"{path} is not a regular file (a FIFO, socket or device?), so it cannot hold "
            f"the local records; {_FIX_HINT}"
        )
    # SQLite in WAL mode creates -wal and -shm next to the file, so the
    # directory itself must be writable, not only the file.
    if not os.access(parent, os.W_OK | os.X_OK):
        if _read_only_mount(parent):
            raise StoreError(
                f"the directory {parent} is on a read-only file system, so the local records "
                f"file {path} cannot be written there; {_FIX_HINT}. Nothing was changed."
            )
        raise StoreError(f"the directory {parent} is not writable by this user; {_FIX_HINT}")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"the local records file {path} is not readable and writable by this user; "
            f"fix its permissions (chmod u+rw) or {_FIX_HINT}"
        )
    return path


def _read_only_mount(folder: Path) -> bool:
    """Whether ``folder`` is on a file system mounted read-only (root included)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


async def connect(path: Path, *, uri_query: str | None = None) -> aiosqlite.Connection:
    """A connection in autocommit mode (we issue BEGIN IMMEDIATE ourselves).

    ``uri_query`` opens the file as an SQLite URI with those parameters
    (``mode=rw``: never create it; ``mode=ro``: read only).
    """
    target = str(path) if uri_query is None else f"{path.absolute().as_uri()}?{uri_query}"
    try:
        conn = await aiosqlite.connect(
            target,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            uri=uri_query is not None,
        )
        await conn.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise describe_open_error(path, exc) from exc
    return conn


def present_files(path: Path) -> frozenset[str]:
    """Which of the file, its -wal and its -shm exist now (suffixes; "" for the file)."""
    return frozenset(s for s in ("", *_SIDE_FILES) if Path(f"{path}{s}").exists())


def remove_leftovers(path: Path, present_before: frozenset[str]) -> None:
    """After a failed open: remove what the attempt created and left empty.

    Only files absent before and holding nothing: a 0-byte records file, a
    0-byte -wal, and the -shm beside them (an index SQLite rebuilds). What
    existed before, or holds data, is never touched.
    """
    wal = Path(f"{path}-wal")
    candidates = [(path, ""), (wal, "-wal")]
    for candidate, suffix in candidates:
        with contextlib.suppress(OSError):
            if suffix not in present_before and candidate.stat().st_size == 0:
                candidate.unlink()
    if "-shm" not in present_before and not wal.exists():
        with contextlib.suppress(OSError):
            Path(f"{path}-shm").unlink()


async def close_quietly(conn: aiosqlite.Connection) -> None:
    """Close, ignoring errors: used on paths that are already failing."""
    with contextlib.suppress(Exception):
        await conn.close()


async def inspect(conn: aiosqlite.Connection, path: Path) -> list[str]:
    """Problems that make the file corrupt (empty when healthy).

    Raises StoreError, without writing anything, for a file from a newer
    portal-tui, a file that belongs to another program, or one we cannot read.
    """
    try:
        # One statement, so one snapshot: another process may be committing
        # the initial schema right now, and separate reads could see a mix.
        (identity,) = await rows(conn, _IDENTITY_SQL)
        version, app_id = identity["user_version"], identity["application_id"]
        has_tables = identity["has_tables"]
        if version > latest_version():
            raise StoreError(
                f"the local records file {path} has schema version {version}, newer than this "
                f"portal-tui understands ({latest_version()}). It was written by a newer release: "
                f"upgrade portal-tui, or {_FIX_HINT}. The file was not changed."
            )
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
            raise StoreError(
                f"{path} is an SQLite file of another program, not portal-tui records; it was "
                f"not changed. Move it, or {_FIX_HINT}"
            )
        checked = await rows(conn, "PRAGMA quick_check")
    except sqlite3.Error as exc:
        if is_corruption(exc):
            return [str(exc)]
        raise describe_open_error(path, exc) from exc
    problems = [str(row["quick_check"]) for row in checked]
    return [] if problems == ["ok"] else problems


def move_aside(path: Path, now: datetime) -> Path:
    """Rename a damaged file (and its -wal/-shm) out of the way; returns the new name.

    The -wal/-shm keep their suffix on the new name, so SQLite tools opening
    the aside file still see its write-ahead log.
    """
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(Path(f"{aside}{suffix}").exists() for suffix in ("", *_SIDE_FILES)):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        os.replace(path, aside)
        for suffix in _SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{aside}{suffix}"))
    except OSError as exc:
        raise StoreError(
            f"the local records file {path} is damaged and could not be moved aside "
            f"({exc.strerror or exc}). Move it away by hand, or {_FIX_HINT}"
        ) from exc
    return aside


async def configure(
    conn: aiosqlite.Connection, path: Path, notices: list[str], clock: Clock
) -> None:
    """Per-connection settings; WAL is persistent in the file once set."""
    try:
        mode = await _use_wal(conn, path, clock)
        if mode.lower() != "wal":
            # e.g. a network filesystem without shared memory: still usable,
            # but readers and writers now block each other.
            notices.append(
                f"{path}: write-ahead logging is unavailable (journal mode {mode}); "
                "two consoles on this file may wait on each other"
            )
        await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
        await conn.execute_fetchall("PRAGMA foreign_keys = ON")
        await conn.execute_fetchall(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    except sqlite3.Error as exc:
        raise describe_open_error(path, exc) from exc


async def _use_wal(conn: aiosqlite.Connection, path: Path, clock: Clock) -> str:
    """Switch the file to WAL unless it already is; returns the resulting journal mode.

    Switching needs an exclusive lock and SQLite may refuse it at once,
    without waiting out the busy timeout, while other connections are open
    (several consoles starting on a fresh file). So it is retried here.
    """

    async def switch() -> str:
        current = str(await _scalar(conn, "PRAGMA journal_mode"))
        if current.lower() == "wal":
            return current
        return str(await _scalar(conn, "PRAGMA journal_mode = WAL"))

    return await while_busy(
        clock,
        switch,
        attempts=WAL_SWITCH_ATTEMPTS,
        first_wait=0.02,
        max_wait=0.5,
        what=f"switching {path} to write-ahead logging",
    )


async def open_checked(path: Path, clock: Clock) -> tuple[aiosqlite.Connection, Path, list[str]]:
    """Connect, check, move a corrupt file aside if need be, and configure.

    Returns the connection, the expanded path and the notices for the user
    (e.g. "moved aside"). ``clock`` dates a file moved aside and paces the
    retries while another process holds the file's lock.
    """
    now = clock.now()
    notices: list[str] = []
    # Filesystem calls off the event loop: the data dir may be on a slow mount.
    path = await asyncio.to_thread(prepare_location, path)
    # A file that is not SQLite at all is moved aside before SQLite sees it:
    # SQLite would otherwise discard the -wal beside it when it closes.
    problem = await asyncio.to_thread(header_problem, path)
    if problem is not None:
        notices.append(await _set_aside(path, now, [problem]))
    conn = await connect(path)
    try:
        problems = await inspect(conn, path)
    except BaseException:
        await close_quietly(conn)
        raise
    if problems:
        await close_quietly(conn)
        notices.append(await _set_aside(path, now, problems))
        conn = await connect(path)
    try:
        await configure(conn, path, notices, clock)
    except BaseException:
        await close_quietly(conn)
        raise
    return conn, path, notices


def header_problem(path: Path) -> str | None:
    """Why the file cannot be an SQLite database, or None (also when absent or empty)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(
            f"cannot read the local records file {path}: {exc.strerror or exc}; {_FIX_HINT}"
        ) from exc
    if not head or head == _SQLITE_MAGIC:
        return None
    return "file is not a database: it does not start with the SQLite header"


async def _set_aside(path: Path, now: datetime, problems: list[str]) -> str:
    aside = await asyncio.to_thread(move_aside, path, now)
    summary = "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")
    notice = (
        f"The local records file {path} was damaged ({summary}). It was moved aside to "
        f"{aside} and a fresh file was started; history before now is in the old file. "
        "Nothing was deleted: keep it for inspection, or remove it when no longer needed."
    )
    log.info("%s", notice)  # the user is told through the store's notices, once
    return notice
