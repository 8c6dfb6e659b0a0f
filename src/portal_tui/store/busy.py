"""Waiting out another process's lock on the SQLite file.

SQLite's own busy timeout (:data:`BUSY_TIMEOUT_MS`, real time) waits inside
each statement; :func:`while_busy` retries on top of it with a backoff slept
on the injected clock.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.retrying import retry_after_failure

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


def error_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of an error (SQLITE_BUSY, ...), if known."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """Whether another connection holds a lock we need (worth retrying)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = error_code(exc)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class WaitBusy(wait_exponential):
    """Exponential backoff, each wait drawn in [½, 1] of its step.

    The draw keeps two processes that met on the lock from coming back to it
    in step.
    """

    def __call__(self, retry_state: RetryCallState) -> float:
        return super().__call__(retry_state) * random.uniform(0.5, 1.0)


async def while_busy(
    clock: Clock,
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    first_wait: float,
    max_wait: float,
    what: str,
) -> T:
    """``attempt()``, tried again while another process holds a lock on the file.

    At most ``attempts`` tries; between them a backoff from ``first_wait``,
    doubling up to ``max_wait`` (:class:`WaitBusy`), slept on ``clock``. It
    is on top of SQLite's own busy timeout, which waits (real time) inside
    each try. The first try runs outside tenacity, so the usual uncontended
    call costs nothing more. Any other error, or the last try's busy error,
    is raised as it is. ``what`` names the operation in the log.
    """
    try:
        return await attempt()
    except sqlite3.OperationalError as exc:
        if not is_busy(exc) or attempts <= 1:
            raise
        # Handed over, not kept in a local: its traceback holds this frame.
        failed = [exc]

    def note(state: RetryCallState) -> None:
        log.info("%s: locked, retrying (attempt %d)", what, state.attempt_number + 1)

    return await retry_after_failure(
        AsyncRetrying(
            sleep=clock.sleep,
            stop=stop_after_attempt(attempts),
            wait=WaitBusy(multiplier=first_wait, max=max_wait),
            retry=retry_if_exception(is_busy),
            before_sleep=note,
            reraise=True,
        ),
        failed.pop(),
        lambda _number: attempt(),
    )
