"""Retries on tenacity, entered only after a first failure.

Nearly every call succeeds at once, and a call through a tenacity
``AsyncRetrying`` costs ~0.1 ms of CPU even then (BENCHMARKS.md), so the
first try runs outside it (the caller makes it). Only when that try fails
does the caller build its ``AsyncRetrying`` and call
:func:`retry_after_failure`: tenacity is handed the first try's outcome
as its attempt 1 (it is not run again), so its stop and wait rules, its
``before_sleep`` hook and its attempt numbers cover every attempt, the first
included. Sleep on the injected clock: ``AsyncRetrying(sleep=clock.sleep)``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import tenacity
from tenacity import AsyncRetrying

T = TypeVar("T")
_TENACITY = os.path.dirname(tenacity.__file__) + os.sep


async def retry_after_failure(
    retrying: AsyncRetrying, first: BaseException, attempt: Callable[[int], Awaitable[T]]
) -> T:
    """The retry phase of a call whose attempt 1 failed with ``first``.

    ``attempt(n)`` makes attempt ``n`` (from 2). Returns its result once one
    succeeds; when ``retrying`` stops or declines to retry, raises what it
    raises (the last attempt's own error with ``reraise=True``).

    Leaves no reference cycle behind (a refresh makes none: see
    :mod:`portal_tui.engine.memory`), though tenacity's frames and records hold each
    error while its traceback holds them.
    """
    # Held in a list that the first call empties: a local naming it would be held by
    # its own traceback (through ``numbered``'s frame), a cycle for the collector.
    pending = [first]
    del first
    number = 0

    async def numbered() -> T:
        nonlocal number
        number += 1  # tenacity calls one attempt at a time: this is its attempt number
        if pending:
            raise pending.pop()  # made by the caller: tenacity gets its outcome
        return await attempt(number)

    try:
        result: T = await retrying(numbered)
    except BaseException as exc:
        _drop_tenacity_locals(exc.__traceback__)
        raise
    finally:
        retrying.iter_state.reset()  # its bookkeeping holds bound methods of itself
    return result


def _drop_tenacity_locals(tb: TracebackType | None) -> None:
    """Clear the locals of tenacity's frames in ``tb``; its lines stay.

    tenacity raises the error from frames whose locals hold it (its record of
    the outcome), while the error's traceback holds those frames. They have
    all returned (the error came out of them), so nothing needs the locals.
    Only tenacity's: a frame of another task could still be suspended.
    """
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.startswith(_TENACITY):
            with contextlib.suppress(RuntimeError):  # still running: not ours to clear
                frame.clear()
        tb = tb.tb_next
