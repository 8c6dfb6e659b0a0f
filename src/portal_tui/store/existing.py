"""Opening a records file that must already exist, for the commands that only read it.

``export``, ``history`` and ``doctor`` never create a records file, and never
start a fresh one in place of a damaged one: a damaged file is moved aside
(when its directory allows) and :class:`DamagedRecords` says so, once.

A file this user cannot write (``chmod 444``, a read-only directory or
mount: a copy taken off a server) is opened read-only, so it can still be
reported on. SQLite reads a WAL database read-only only through its ``-shm``
index, which it cannot create in a read-only directory; so a file with no
``-wal`` beside it is read as it is (``immutable``: every record is in the
file, and nothing is created next to it), and a file whose ``-wal`` holds
records but has no ``-shm`` is refused with one line saying how to read it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import aiosqlite

from portal_tui.store.connection import (
    DamagedRecords,
    close_quietly,
    configure,
    connect,
    describe_open_error,
    disk_is_full,
    header_problem,
    inspect,
    move_aside,
    present_files,
    remove_leftovers,
)
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError


def writable(path: Path) -> bool:
    """Whether this user can write the file and create its -wal/-shm beside it."""
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


async def open_existing(
    path: Path, clock: Clock
) -> tuple[aiosqlite.Connection, Path, list[str], bool]:
    """Open an existing records file without creating anything.

    Returns the connection, the expanded path, notices, and whether the file
    is open for writing (False: read-only). Raises StoreError when there is
    no such file, :class:`DamagedRecords` when it is damaged.
    """
    now = clock.now()
    path = path.expanduser()
    if not await asyncio.to_thread(path.is_file):
        what = "is not a regular file" if path.exists() else "does not exist"
        raise StoreError(f"the local records file {path} {what}; nothing was created")
    if (await asyncio.to_thread(path.stat)).st_size == 0:
        raise StoreError(
            f"the local records file {path} is empty: nothing has been recorded there yet; "
            "run 'portal-tui check' or the console first"
        )
    problem = await asyncio.to_thread(header_problem, path)
    can_write = await asyncio.to_thread(writable, path)
    if problem is not None:
        raise await _damaged(path, now, [problem], can_write)
    if can_write:
        before = await asyncio.to_thread(present_files, path)
        try:
            return await _open_checked(path, clock, await connect(path, uri_query="mode=rw"), True)
        except StoreError as exc:
            if isinstance(exc, DamagedRecords) or not disk_is_full(path.parent):
                raise
            # A full disk: SQLite cannot create the -wal/-shm a writer needs, but
            # the records can still be read (an incident report is wanted most now).
            await asyncio.to_thread(remove_leftovers, path, before)
            conn, path, notices, _ = await _open_checked(
                path, clock, await _connect_read_only(path), False
            )
            notices.append(f"the disk holding {path} is full: the records were read read-only")
            return conn, path, notices, False
    return await _open_checked(path, clock, await _connect_read_only(path), False)


async def _open_checked(
    path: Path, clock: Clock, conn: aiosqlite.Connection, can_write: bool
) -> tuple[aiosqlite.Connection, Path, list[str], bool]:
    try:
        problems = await inspect(conn, path)
    except BaseException:
        await close_quietly(conn)
        raise
    if problems:
        await close_quietly(conn)
        raise await _damaged(path, clock.now(), problems, can_write)
    notices: list[str] = []
    if can_write:
        try:
            await configure(conn, path, notices, clock)
        except BaseException:
            await close_quietly(conn)
            raise
    return conn, path, notices, can_write


async def _connect_read_only(path: Path) -> aiosqlite.Connection:
    wal = Path(f"{path}-wal")
    if not await asyncio.to_thread(wal.exists):
        # Every record is in the file: read it as it is; no -wal/-shm is created.
        return await connect(path, uri_query="mode=ro&immutable=1")
    conn = await connect(path, uri_query="mode=ro")
    try:
        await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")
    except sqlite3.Error as exc:
        await close_quietly(conn)
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_CANTOPEN:
            raise StoreError(
                f"the local records file {path} is read-only and its write-ahead log {wal} "
                f"holds records that SQLite reads only through {path}-shm, which cannot be "
                f"created in {path.parent}; copy the file with its -wal to a writable "
                "directory and pass --db COPY"
            ) from exc
        raise describe_open_error(path, exc) from exc
    return conn


async def _damaged(path: Path, now: datetime, problems: list[str], movable: bool) -> StoreError:
    summary = "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")
    if not movable:
        return DamagedRecords(
            f"the local records file {path} is damaged ({summary}); it is read-only, so it was "
            "left as it is. There is nothing to report from it."
        )
    aside = await asyncio.to_thread(move_aside, path, now)
    return DamagedRecords(
        f"the local records file {path} is damaged ({summary}); it was moved aside to {aside} "
        "(nothing deleted) and no new file was started: the console or 'portal-tui check' "
        "starts one."
    )
