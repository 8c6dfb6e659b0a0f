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

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying

T = TypeVar("T")


async def retry_after_failure(
    retrying: AsyncRetrying, first: BaseException, attempt: Callable[[int], Awaitable[T]]
) -> T:
    """The retry phase of a call whose attempt 1 failed with ``first``.

    ``attempt(n)`` makes attempt ``n`` (from 2). Returns its result once one
    succeeds; when ``retrying`` stops or declines to retry, raises what it
    raises (the last attempt's own error with ``reraise=True``).
    """
    async for try_ in retrying:
        with try_:
            number = try_.retry_state.attempt_number
            if number == 1:
                raise first  # already made by the caller: tenacity gets its outcome
            result = await attempt(number)
            return result
    raise AssertionError("unreachable: tenacity ended without an outcome")  # pragma: no cover
