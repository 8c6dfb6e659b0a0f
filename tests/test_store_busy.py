"""The SQLite busy wait (``store.busy.while_busy``): tenacity on the injected clock.

One implementation serves the transactions and the switch to WAL. With a
real file and another process holding its lock, see
tests/test_store_durability.py; here the rules, on virtual time.
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from collections import Counter
from typing import Any

import pytest
from tenacity import AsyncRetrying

from portal_tui.store import busy
from portal_tui.store.busy import while_busy
from portal_tui.vocabulary.clock import FakeClock


class RecordingClock(FakeClock):
    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


def locked() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


class Script:
    """An attempt that raises the scripted errors in turn, then returns ``"done"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.tries = 0

    async def __call__(self) -> str:
        self.tries += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[AsyncRetrying]:
    made: list[AsyncRetrying] = []

    class Counting(AsyncRetrying):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(busy, "AsyncRetrying", Counting)
    return made


async def run(clock: FakeClock, attempt: Script, attempts: int = 6) -> str:
    return await while_busy(
        clock, attempt, attempts=attempts, first_wait=0.05, max_wait=1.0, what="test"
    )


async def test_an_uncontended_call_never_enters_tenacity(built: list[AsyncRetrying]) -> None:
    clock = RecordingClock()
    assert await run(clock, Script()) == "done"
    assert built == [] and clock.sleeps == []


async def test_retries_while_locked_with_backoff_on_the_injected_clock(
    built: list[AsyncRetrying],
) -> None:
    clock = RecordingClock()
    attempt = Script(locked(), locked(), locked())
    assert await run(clock, attempt) == "done"
    assert attempt.tries == 4 and len(built) == 1
    # 50 ms doubling, each drawn in [½, 1] of its step; all on virtual time.
    steps = [0.05, 0.1, 0.2]
    assert len(clock.sleeps) == 3
    for slept, step in zip(clock.sleeps, steps, strict=True):
        assert step / 2 <= slept <= step
    assert clock.monotonic() == pytest.approx(sum(clock.sleeps))


async def test_the_backoff_is_capped() -> None:
    clock = RecordingClock()
    attempt = Script(*(locked() for _ in range(7)))
    assert await run(clock, attempt, attempts=8) == "done"
    assert all(slept <= 1.0 for slept in clock.sleeps)
    assert clock.sleeps[-1] >= 0.5  # the 1 s cap, drawn in [½, 1]


async def test_gives_up_after_the_attempts_with_the_last_busy_error() -> None:
    clock = RecordingClock()
    last = locked()
    attempt = Script(locked(), locked(), last)
    with pytest.raises(sqlite3.OperationalError) as info:
        await run(clock, attempt, attempts=3)
    assert info.value is last
    assert attempt.tries == 3 and len(clock.sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("disk I/O error"),
        sqlite3.DatabaseError("database disk image is malformed"),
        ValueError("not sqlite at all"),
    ],
)
async def test_other_errors_are_not_retried(error: BaseException) -> None:
    clock = RecordingClock()
    attempt = Script(error)
    with pytest.raises(type(error)) as info:
        await run(clock, attempt)
    assert info.value is error
    assert attempt.tries == 1 and clock.sleeps == []


async def test_a_later_error_that_is_not_busy_ends_the_retries() -> None:
    clock = RecordingClock()
    full = sqlite3.OperationalError("database or disk is full")
    attempt = Script(locked(), full)
    with pytest.raises(sqlite3.OperationalError) as info:
        await run(clock, attempt)
    assert info.value is full
    assert attempt.tries == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize("errors", [2, 6])  # retried then done; still locked at the end
async def test_the_busy_wait_leaves_no_cyclic_garbage(errors: int) -> None:
    clock = RecordingClock()
    await run(clock, Script(locked()))  # first use: lazy imports and caches
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with contextlib.suppress(sqlite3.OperationalError):
            await run(clock, Script(*(locked() for _ in range(errors))))
        gc.collect()
        garbage = Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not garbage, garbage.most_common(8)
