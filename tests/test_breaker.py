"""The circuit breaker: opens on health failures only, one probe, closes on success."""

from __future__ import annotations

import pytest

from portal_tui.fetch.breaker import BreakerState, CircuitBreaker
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError

FIVE_XX = UpstreamError(ErrorType.SERVER_5XX, "HTTP 503", status_code=503)
TIMEOUT = UpstreamError(ErrorType.TIMEOUT, "timed out")
UNAUTHORIZED = UpstreamError(ErrorType.CLIENT_4XX, "HTTP 401", status_code=401)
INVALID = UpstreamError(ErrorType.VALIDATION, "schema mismatch")


def make(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("main", clock, failure_threshold=3, reset_timeout=30)


def fail(breaker: CircuitBreaker, error: UpstreamError, times: int) -> None:
    for _ in range(times):
        probe = breaker.before_call()
        breaker.record_failure(error, probe)


def test_opens_after_threshold_health_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail(breaker, FIVE_XX, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, TIMEOUT, 1)
    assert breaker.state is BreakerState.OPEN
    status = breaker.status()
    assert status.next_probe_at is not None
    assert (status.next_probe_at - clock.now()).total_seconds() == pytest.approx(30)
    with pytest.raises(UpstreamError) as info:
        breaker.before_call()
    assert info.value.error_type is ErrorType.BREAKER_OPEN
    assert "next probe" in info.value.message


@pytest.mark.parametrize("error", [UNAUTHORIZED, INVALID])
def test_client_errors_and_validation_never_open_it(error: UpstreamError) -> None:
    breaker = make(FakeClock())
    fail(breaker, error, 10)
    assert breaker.state is BreakerState.CLOSED


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = make(FakeClock())
    fail(breaker, FIVE_XX, 2)
    breaker.record_success(breaker.before_call())
    fail(breaker, FIVE_XX, 2)
    assert breaker.state is BreakerState.CLOSED


def test_one_probe_after_the_wait_then_closes_on_success() -> None:
    clock = FakeClock(autojump=False)
    breaker = make(clock)
    fail(breaker, FIVE_XX, 3)
    clock.advance(29.9)
    with pytest.raises(UpstreamError):
        breaker.before_call()
    clock.advance(0.2)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.before_call() is True  # the probe
    with pytest.raises(UpstreamError):  # only one probe at a time
        breaker.before_call()
    breaker.record_success(True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.before_call() is False


def test_failed_probe_reopens_for_another_full_wait() -> None:
    clock = FakeClock(autojump=False)
    breaker = make(clock)
    fail(breaker, FIVE_XX, 3)
    clock.advance(30)
    probe = breaker.before_call()
    breaker.record_failure(TIMEOUT, probe)
    assert breaker.state is BreakerState.OPEN
    assert breaker.status().opened_count == 2
    clock.advance(29)
    with pytest.raises(UpstreamError):
        breaker.before_call()


def test_probe_answered_with_4xx_counts_as_upstream_alive() -> None:
    clock = FakeClock(autojump=False)
    breaker = make(clock)
    fail(breaker, FIVE_XX, 3)
    clock.advance(30)
    probe = breaker.before_call()
    breaker.record_failure(UNAUTHORIZED, probe)
    assert breaker.state is BreakerState.CLOSED


def test_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock(autojump=False)
    breaker = make(clock)
    fail(breaker, FIVE_XX, 3)
    clock.advance(30)
    breaker.record_cancelled(breaker.before_call())
    assert breaker.before_call() is True
