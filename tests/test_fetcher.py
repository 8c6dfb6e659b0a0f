"""Fetcher: retries, Retry-After, deadline, breaker, sliding window, status events.

These are unit tests over a scripted httpx transport on virtual time; the
end-to-end behaviour against the simulator (in-process and loopback HTTP)
lives in tests/test_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from portal_tui.config import (
    BreakerConfig,
    ClientEntry,
    Config,
    InstanceConfig,
    RetryConfig,
    Secrets,
)
from portal_tui.fetch.breaker import BreakerState
from portal_tui.fetch.events import ApiCallRecord, CallPhase, RetryStatus
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import STATS_PAYLOAD

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def ok_stats() -> httpx.Response:
    return httpx.Response(200, json={"data": STATS_PAYLOAD})


def make_config(
    *, attempts: int = 4, concurrency: int = 5, threshold: int = 5, deadline: float = 120
) -> Config:
    return Config(
        instances=[
            InstanceConfig(
                name="main",
                base_url="https://bison.test/api",
                master_token_env="MASTER",
                concurrency=concurrency,
                attempt_timeout=45,
                request_deadline=deadline,
            )
        ],
        clients=[ClientEntry(name="Acme", id=1, api_key_env="ACME")],
        retry=RetryConfig(attempts=attempts, jitter=0.0),
        breaker=BreakerConfig(failure_threshold=threshold, reset_timeout=30),
    )


class Rig:
    """A fetcher over a scripted transport, recording calls and statuses."""

    def __init__(self, handler: Handler, clock: FakeClock | None = None, **config: float) -> None:
        self.clock = clock or FakeClock()
        self.config = make_config(**config)  # type: ignore[arg-type]
        self.fetcher = Fetcher(
            self.config,
            Secrets({"MASTER": "master-tok", "ACME": "acme-tok"}),
            self.clock,
            transports={"main": httpx.MockTransport(handler)},
        )
        self.records: list[ApiCallRecord] = []
        self.statuses: list[RetryStatus] = []
        self.fetcher.subscribe(self.statuses.append)
        self.ctx = CallContext("manual", ("kpi",), self.records.append)
        self.ws = WorkspaceRef("main", 1, "Acme", self.config.clients[0])

    async def stats(self, ws_id: int = 1) -> object:
        key = RequestKey(
            "main",
            ws_id,
            Endpoint.STATS,
            (("start_date", "2026-11-01"), ("end_date", "2026-11-21")),
        )
        ws = (
            self.ws
            if ws_id == 1
            else WorkspaceRef(
                "main",
                ws_id,
                f"W{ws_id}",
                ClientEntry(name=f"W{ws_id}", id=ws_id, api_key_env="ACME"),
            )
        )
        return (await self.fetcher.fetch(key, ws, self.ctx)).payload


def sequence(*responses: httpx.Response | Exception) -> Handler:
    items = list(responses)

    async def handler(request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_success_sends_bearer_token_and_accept_header() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_stats()

    rig = Rig(handler)
    payload = await rig.stats()
    assert payload.data.interested == 3  # type: ignore[attr-defined]
    assert seen[0].headers["Authorization"] == "Bearer acme-tok"
    assert seen[0].headers["Accept"] == "application/json"
    assert seen[0].url.params["start_date"] == "2026-11-01"
    assert [r.success for r in rig.records] == [True]


async def test_5xx_retried_with_backoff_then_succeeds_and_every_attempt_logged() -> None:
    rig = Rig(sequence(httpx.Response(503), httpx.Response(502), ok_stats()))
    await rig.stats()
    assert [(r.attempt, r.success, r.status_code) for r in rig.records] == [
        (1, False, 503),
        (2, False, 502),
        (3, True, 200),
    ]
    assert [r.error_type for r in rig.records[:2]] == ["5xx", "5xx"]
    # backoff 1 s then 2 s (jitter off)
    assert rig.clock.monotonic() == pytest.approx(3.0)
    retrying = [s for s in rig.statuses if s.phase is CallPhase.RETRYING]
    assert [(s.attempt, s.max_attempts, s.last_status_code) for s in retrying] == [
        (1, 4, 503),
        (2, 4, 502),
    ]
    assert retrying[0].describe(rig.clock.now() - timedelta(seconds=3)) == "retry 2/4 in 1 s, 503"
    assert rig.statuses[-1].phase is CallPhase.SUCCEEDED
    assert rig.fetcher.active == {}


async def test_gives_up_after_the_configured_attempts_and_never_returns_zero() -> None:
    rig = Rig(sequence(httpx.Response(500)))
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.SERVER_5XX and info.value.attempts == 4
    assert len(rig.records) == 4
    assert rig.statuses[-1].phase is CallPhase.FAILED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_never_retried(status: int) -> None:
    rig = Rig(sequence(httpx.Response(status)))
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.CLIENT_4XX
    assert info.value.status_code == status
    assert len(rig.records) == 1


async def test_malformed_json_is_a_validation_error_not_retried() -> None:
    rig = Rig(sequence(httpx.Response(200, content=b'{"data": {"emails_sent": 1')))
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.VALIDATION
    assert len(rig.records) == 1 and rig.records[0].error_type == "validation"


async def test_error_body_with_200_shape_is_not_read_as_zero() -> None:
    rig = Rig(sequence(httpx.Response(200, json={"data": {"emails_sent": None}})))
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.VALIDATION


async def test_429_waits_for_retry_after_seconds() -> None:
    rig = Rig(sequence(httpx.Response(429, headers={"Retry-After": "7"}), ok_stats()))
    await rig.stats()
    assert rig.clock.monotonic() == pytest.approx(7.0)  # not the 1 s backoff
    assert rig.records[0].error_type == "rate_limited"


async def test_429_waits_for_retry_after_http_date_capped() -> None:
    clock = FakeClock()
    when = email.utils.format_datetime(clock.now() + timedelta(seconds=12), usegmt=True)
    rig = Rig(sequence(httpx.Response(429, headers={"Retry-After": when}), ok_stats()), clock)
    await rig.stats()
    assert clock.monotonic() == pytest.approx(12.0, abs=1.0)
    far = Rig(sequence(httpx.Response(429, headers={"Retry-After": "3600"}), ok_stats()))
    await far.stats()
    assert far.clock.monotonic() == pytest.approx(60.0)  # retry_after_cap


async def test_per_attempt_timeout_is_retried_and_classified() -> None:
    clock = FakeClock()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await clock.sleep(10_000)  # hangs past the attempt timeout
        return ok_stats()

    rig = Rig(handler, clock)
    await rig.stats()
    assert rig.records[0].error_type == "timeout"
    assert rig.records[0].response_time_ms == pytest.approx(45_000)
    assert clock.monotonic() == pytest.approx(46.0)


async def test_whole_request_deadline_stops_retries() -> None:
    clock = FakeClock()

    async def handler(request: httpx.Request) -> httpx.Response:
        await clock.sleep(10_000)
        return ok_stats()

    rig = Rig(handler, clock, deadline=100)
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.TIMEOUT
    assert clock.monotonic() == pytest.approx(100.0)
    assert "deadline of 100 s" in info.value.message
    assert info.value.attempts == 3  # 45 s + 1 s + 45 s + 2 s, then the deadline cuts attempt 3


async def test_connect_errors_are_network_and_retried() -> None:
    rig = Rig(sequence(httpx.ConnectError("refused"), httpx.ReadError("reset"), ok_stats()))
    await rig.stats()
    assert [r.error_type for r in rig.records] == ["network", "network", None]


async def test_breaker_opens_and_fails_fast_then_probe_closes_it() -> None:
    clock = FakeClock()
    healthy = False

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok_stats() if healthy else httpx.Response(503)

    rig = Rig(handler, clock, attempts=1, threshold=3)
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await rig.stats()
    assert rig.fetcher.breakers()[0].state is BreakerState.OPEN
    with pytest.raises(UpstreamError) as info:
        await rig.stats()
    assert info.value.error_type is ErrorType.BREAKER_OPEN
    assert rig.records[-1].error_type == "breaker_open"
    assert len(rig.records) == 4
    healthy = True
    await clock.sleep(30)
    await rig.stats()
    assert rig.fetcher.breakers()[0].state is BreakerState.CLOSED


async def test_sliding_window_does_not_wait_for_the_slowest_of_a_batch() -> None:
    clock = FakeClock()
    latency = {1: 10.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}

    async def handler(request: httpx.Request) -> httpx.Response:
        await clock.sleep(latency[int(request.url.params["ws"])])
        return ok_stats()

    rig = Rig(handler, clock, concurrency=2)

    async def one(ws_id: int) -> None:
        key = RequestKey("main", ws_id, Endpoint.STATS, (("ws", str(ws_id)),))
        await rig.fetcher.fetch(
            key, WorkspaceRef("main", ws_id, f"W{ws_id}", rig.config.clients[0]), rig.ctx
        )

    await asyncio.gather(*(one(i) for i in latency))
    # Fixed batches of 2 would take 10 + 1 + 1 = 12 s; the window takes max(10, 4) = 10 s.
    assert clock.monotonic() == pytest.approx(10.0)
    assert rig.fetcher.limiter("main").max_in_flight == 2


async def test_no_slot_is_held_while_sleeping_between_retries() -> None:
    clock = FakeClock()
    order: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        ws = request.url.params["ws"]
        order.append(f"{ws}@{clock.monotonic():g}")
        if ws == "1" and len([o for o in order if o.startswith("1@")]) == 1:
            return httpx.Response(503)
        await clock.sleep(0.5)
        return ok_stats()

    rig = Rig(handler, clock, concurrency=1)

    async def one(ws_id: int) -> None:
        key = RequestKey("main", ws_id, Endpoint.STATS, (("ws", str(ws_id)),))
        await rig.fetcher.fetch(
            key, WorkspaceRef("main", ws_id, f"W{ws_id}", rig.config.clients[0]), rig.ctx
        )

    await asyncio.gather(one(1), one(2))
    # ws 2 ran during ws 1's 1 s backoff, in the only slot.
    assert order == ["1@0", "2@0", "1@1"]


async def test_redirect_to_another_host_is_not_followed_with_the_token() -> None:
    rig = Rig(sequence(ok_stats()))
    with pytest.raises(UpstreamError):
        await rig.fetcher._instances["main"].client.request(
            "GET",
            "https://evil.test/api/sender-emails?page=2",
            token=rig.fetcher._instances["main"].master_token,  # type: ignore[arg-type]
            model=type(await rig.stats()),  # type: ignore[arg-type]
        )


async def test_missing_token_fails_without_calling_upstream() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return ok_stats()

    clock = FakeClock()
    config = make_config()
    fetcher = Fetcher(config, Secrets({}), clock, transports={"main": httpx.MockTransport(handler)})
    key = RequestKey("main", 1, Endpoint.STATS)
    with pytest.raises(UpstreamError, match="no token"):
        await fetcher.fetch(
            key, WorkspaceRef("main", 1, "Acme", config.clients[0]), CallContext("manual")
        )
    assert calls == 0


async def test_mailbox_pages_fetched_concurrently_after_page_one() -> None:
    clock = FakeClock()
    in_flight = 0
    peak = 0

    def mailbox(i: int) -> dict[str, object]:
        return {
            "id": i,
            "email": f"m{i}@d.test",
            "status": "Connected",
            "daily_limit": 30,
            "emails_sent_count": 1,
            "total_replied_count": 0,
            "unique_replied_count": 0,
            "bounced_count": 0,
            "tags": [],
        }

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await clock.sleep(1)
        in_flight -= 1
        page = int(request.url.params["page"])
        per = int(request.url.params["per_page"])
        total = 100
        last = (total + per - 1) // per
        items = [mailbox(i) for i in range((page - 1) * per, min(total, page * per))]
        nxt = f"https://bison.test/api/sender-emails?page={page + 1}" if page < last else None
        return httpx.Response(
            200,
            content=json.dumps(
                {
                    "data": items,
                    "links": {"next": nxt},
                    "meta": {
                        "current_page": page,
                        "last_page": last,
                        "per_page": per,
                        "total": total,
                    },
                }
            ).encode(),
        )

    rig = Rig(handler, clock)
    fetched = await rig.fetcher.fetch_mailboxes(rig.ws, rig.ctx)
    collection = fetched.payload
    assert len(collection.mailboxes) == 100 and collection.complete  # type: ignore[union-attr]
    assert peak == 5  # pages 2..7 ran within the instance's window of 5
    assert clock.monotonic() == pytest.approx(3.0)  # page 1, then 6 pages in 2 waves of 5
