"""The fetcher's retries on tenacity: entered only after a failure, on the injected clock.

The behaviour of retries as a whole (what is retried, Retry-After, records)
is in tests/test_fetcher.py; here: the retry phase is built only when
attempt 1 failed, sleeps on the fetcher's clock (virtual time, nothing real),
draws its jitter from the fetcher's rng, and shows its status while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tenacity import AsyncRetrying, RetryCallState

from portal_tui.config import ClientEntry, Config, InstanceConfig, RetryConfig, Secrets
from portal_tui.fetch import fetcher as fetcher_module
from portal_tui.fetch.events import ApiCallRecord, CallPhase, RetryStatus
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.fetch.retry import Deadline, StopBeforeDeadline, backoff_wait
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from test_fetcher import Rig, ok_stats, sequence


class RecordingClock(FakeClock):
    """A FakeClock that remembers every sleep asked of it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[AsyncRetrying]:
    """Every retry phase the fetcher builds."""
    made: list[AsyncRetrying] = []
    real = fetcher_module.retrying

    def counting(*args: Any, **kwargs: Any) -> AsyncRetrying:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(fetcher_module, "retrying", counting)
    return made


async def test_a_request_that_succeeds_at_once_never_enters_tenacity(
    built: list[AsyncRetrying],
) -> None:
    rig = Rig(sequence(ok_stats()))
    for _ in range(3):
        await rig.stats()
    assert built == []
    assert [r.attempt for r in rig.records] == [1, 1, 1]


@pytest.mark.parametrize(
    "response",
    [httpx.Response(404), httpx.Response(422), httpx.Response(200, content=b"{not json")],
)
async def test_an_error_never_retried_never_enters_tenacity(
    built: list[AsyncRetrying], response: httpx.Response
) -> None:
    rig = Rig(sequence(response))
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.attempts == 1 and len(rig.records) == 1
    assert built == []
    assert rig.statuses[-1].phase is CallPhase.FAILED and rig.fetcher.active == {}


async def test_the_retry_phase_is_built_once_after_the_first_failure(
    built: list[AsyncRetrying],
) -> None:
    rig = Rig(sequence(httpx.Response(503), httpx.Response(502), ok_stats()))
    await rig.stats()
    assert len(built) == 1
    assert [(r.attempt, r.status_code) for r in rig.records] == [(1, 503), (2, 502), (3, 200)]
    # tenacity counted attempt 1 (made outside it) as its own first attempt.
    assert built[0].statistics["attempt_number"] == 3


async def test_the_retry_sleeps_on_the_injected_clock_and_shows_while_it_waits() -> None:
    clock = RecordingClock(autojump=False)
    rig = Rig(sequence(httpx.Response(503), ok_stats()), clock)
    retrying = asyncio.Event()
    rig.fetcher.subscribe(lambda s: retrying.set() if s.phase is CallPhase.RETRYING else None)
    task = asyncio.create_task(rig.stats())
    await retrying.wait()

    # Asleep on virtual time: nothing moves until the test moves the clock.
    assert clock.sleeps.count(1.0) == 1  # the 1 s backoff (jitter off), on this clock
    assert not task.done()
    (status,) = rig.fetcher.active.values()
    assert status.phase is CallPhase.RETRYING
    assert (status.workspace, status.dashboards) == ("Acme", ("kpi",))
    assert status.request.startswith("stats ")
    assert (status.attempt, status.max_attempts) == (1, 4)
    assert status.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert (status.last_error_type, status.last_status_code) == ("5xx", 503)
    assert status.describe(clock.now()) == "retry 2/4 in 1 s, 503"
    assert rig.fetcher.limiter("main").in_flight == 0  # no slot held while sleeping

    clock.advance(0.5)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.5)
    await task
    assert clock.monotonic() == 1.0
    phases = [(s.phase, s.attempt) for s in rig.statuses]
    assert phases == [
        (CallPhase.IN_FLIGHT, 1),
        (CallPhase.RETRYING, 1),
        (CallPhase.IN_FLIGHT, 2),
        (CallPhase.SUCCEEDED, 2),
    ]
    assert rig.fetcher.active == {}


async def test_cancelled_while_sleeping_before_a_retry_stops_there() -> None:
    clock = FakeClock(autojump=False)
    calls: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    rig = Rig(handler, clock)
    retrying = asyncio.Event()
    rig.fetcher.subscribe(lambda s: retrying.set() if s.phase is CallPhase.RETRYING else None)
    task = asyncio.create_task(rig.stats())
    await retrying.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(60)
    await asyncio.sleep(0)
    assert len(calls) == 1
    assert rig.fetcher.active == {}
    assert clock.pending_sleepers == 0


async def test_stops_when_the_next_attempt_could_not_start_before_the_deadline() -> None:
    # Attempt 2 starts at 1 s (backoff) and gets a 429 asking for 50 s: attempt 3 would
    # start at 51 s, past the 50 s deadline, so the request fails at once, at 1 s, with
    # attempt 2's own error.
    limited = httpx.Response(429, headers={"Retry-After": "50"})
    rig = Rig(sequence(httpx.Response(503), limited), deadline=50)
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert (info.value.error_type, info.value.status_code) == (ErrorType.RATE_LIMITED, 429)
    assert info.value.attempts == 2
    assert rig.clock.monotonic() == 1.0
    assert rig.statuses[-1].phase is CallPhase.FAILED
    assert [s.attempt for s in rig.statuses if s.phase is CallPhase.RETRYING] == [1]


async def test_jitter_is_drawn_from_the_fetchers_rng() -> None:
    clock = FakeClock()
    client = ClientEntry(name="Acme", id=1, api_key_env="ACME")
    config = Config(
        instances=[InstanceConfig(name="main", base_url="https://bison.test/api")],
        clients=[client],
        retry=RetryConfig(attempts=4, jitter=1.0),
    )
    replies = iter([httpx.Response(503), httpx.Response(503), ok_stats()])
    fetcher = Fetcher(
        config,
        Secrets({"ACME": "acme-tok"}),
        clock,
        transports={"main": httpx.MockTransport(lambda request: next(replies))},
        rng=random.Random(7),
    )
    records: list[ApiCallRecord] = []
    key = RequestKey("main", 1, Endpoint.STATS)
    ws = WorkspaceRef("main", 1, "Acme", client)
    fetched = await fetcher.fetch(key, ws, CallContext("manual", ("kpi",), records.append))
    draws = random.Random(7)
    expected = 1.0 + draws.uniform(0, 1.0) + 2.0 + draws.uniform(0, 1.0)
    assert fetched.attempts == 3
    assert clock.monotonic() == pytest.approx(expected)


def failed_state(attempt: int, error: BaseException) -> RetryCallState:
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_the_wait_is_exponential_capped_and_at_least_retry_after() -> None:
    wait = backoff_wait(RetryConfig(jitter=0.0), random.Random(0))
    busy = UpstreamError(ErrorType.SERVER_5XX, "503", status_code=503)
    assert [wait(failed_state(n, busy)) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]

    def limited(after: float) -> UpstreamError:
        return UpstreamError(ErrorType.RATE_LIMITED, "429", status_code=429, retry_after=after)

    assert wait(failed_state(1, limited(7))) == 7  # longer than the backoff
    assert wait(failed_state(3, limited(0.5))) == 4  # shorter: the backoff stands
    assert wait(failed_state(1, limited(3600))) == 60  # capped at retry_after_cap


def test_the_deadline_stop_reads_the_wait_chosen_for_the_next_attempt() -> None:
    clock = FakeClock()
    stop = StopBeforeDeadline(Deadline(clock, 2.5))
    state = failed_state(1, UpstreamError(ErrorType.TIMEOUT, "slow"))
    state.upcoming_sleep = 2.0
    assert stop(state) is False  # attempt 2 could start at 2 s
    clock.advance(0.5)
    assert stop(state) is True  # it would start at 2.5 s: the deadline itself
    state.upcoming_sleep = 1.9
    assert stop(state) is False


def test_statuses_carry_no_retry_details_on_the_happy_path() -> None:
    status = RetryStatus("main", "Acme", ("kpi",), "stats", CallPhase.IN_FLIGHT, 1, 4)
    assert status.describe(FakeClock().now()) == "attempt 1/4"


@pytest.mark.parametrize(
    "replies",
    [
        [httpx.Response(503), ok_stats()],  # retried, then succeeds
        [httpx.Response(503)],  # fails after every attempt
        [httpx.Response(429, headers={"Retry-After": "600"})],  # stopped by the deadline at once
    ],
)
async def test_a_retried_request_leaves_no_cyclic_garbage(replies: list[httpx.Response]) -> None:
    """A refresh makes no reference cycles (portal_tui.engine.memory); retries used to leave
    their errors, tracebacks and frames (and tenacity's records) in one."""
    rig = Rig(sequence(*replies))
    for _ in range(2):  # the first pays for lazy imports and first-use caches
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            with contextlib.suppress(UpstreamError):
                await rig.stats()
            gc.collect()
            garbage = Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert len(rig.records) >= 2
    assert not garbage, garbage.most_common(8)
