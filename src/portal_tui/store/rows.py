"""Query results read by column name: the store's one way to read rows.

Every read names its columns in its SELECT (aliasing expressions such as
``count(*)``) and reads them back by those names, never by position, so
reordering, adding or removing a column in a query cannot shift a value into
the wrong field. Names are resolved once per statement from the cursor's
description; a result with two columns of the same name is refused, as the
second would hide the first.

:func:`rows` gives each row as a ``{column: value}`` dict, for building
records (a few hundred rows at most). The History pane's fold over a day of
attempts (100,000 rows and more) uses :func:`in_order` instead: tuples in the
order the caller names, to unpack, which costs nothing per row when the
SELECT lists the columns in that order already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

import aiosqlite

Row = dict[str, Any]
Description = Sequence[Sequence[Any]]
"""``cursor.description``: one entry per column, its name first."""


def column_names(description: Description) -> tuple[str, ...]:
    """The result's column names, in the order SQLite returns them."""
    names = tuple(str(column[0]) for column in description)
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"result columns named twice: {', '.join(twice)} (alias them)")
    return names


async def rows(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Every row of ``sql`` as ``{column name: value}``.

    The statement is run to its end before returning, so no read lock
    outlives the call.
    """
    names, found = await _fetch_all(conn, sql, params)
    return [dict(zip(names, row, strict=True)) for row in found]


async def scalar(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The value of a one-column statement's first row, or None when it has no row.

    ``count(*)``, ``PRAGMA user_version`` and the like: with a single column
    there is no order to get wrong, and a statement with more is refused.
    """
    names, found = await _fetch_all(conn, sql, params)
    if len(names) != 1:
        raise ValueError(f"scalar() wants one column, the statement returns {', '.join(names)}")
    return found[0][0] if found else None


async def _fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any]
) -> tuple[tuple[str, ...], list[Any]]:
    # Two trips to the connection's thread, not three: fetching every row
    # finishes the statement (releasing its read snapshot), so the exhausted
    # cursor is left to be collected rather than closed with a third trip.
    cursor = await conn.execute(sql, params)
    found = list(await cursor.fetchall())
    return column_names(cursor.description), found


Arrange = Callable[[Iterable[Any]], Iterable[tuple[Any, ...]]]
"""Fetched rows in, the same rows as tuples of the wanted columns out."""


def in_order(description: Description, wanted: Sequence[str]) -> Arrange:
    """Put fetched rows in the order of the ``wanted`` column names, to unpack them.

    For hot loops over many rows: names are looked up once here. When the
    statement already returns exactly ``wanted`` in that order, rows pass
    through as they are; otherwise each row is rearranged (or trimmed).
    """
    names = column_names(description)
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ValueError(f"the statement returns no column {', '.join(missing)}")
    if tuple(wanted) == names:
        return _as_they_are
    positions = [names.index(name) for name in wanted]
    if len(positions) == 1:
        (only,) = positions
        return lambda found: ((row[only],) for row in found)
    pick = itemgetter(*positions)
    return lambda found: map(pick, found)


def _as_they_are(found: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    return found
