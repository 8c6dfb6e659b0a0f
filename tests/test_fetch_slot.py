"""The limiter slot covers the HTTP exchange alone; what the client puts on the wire.

The request is built before its slot and the body parsed after it, so a queued
request goes out while the previous reply is still being validated. The
client sends straight to its transport; these tests pin what it sends.
"""

from __future__ import annotations

import asyncio

import httpx
from pydantic import BaseModel, SecretStr

from portal_tui.config import (
    BreakerConfig,
    ClientEntry,
    Config,
    InstanceConfig,
    RetryConfig,
    Secrets,
)
from portal_tui.fetch.breaker import BreakerState
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.upstream.client import Answer, EmailBisonClient, Reply
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.models import StatsResponse
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import STATS_PAYLOAD


def _fetcher(
    transport: httpx.AsyncBaseTransport, *, concurrency: int, clock: FakeClock | None = None
) -> Fetcher:
    config = Config(
        instances=[
            InstanceConfig(
                name="main",
                base_url="https://bison.test/api",
                concurrency=concurrency,
                attempt_timeout=45,
                request_deadline=120,
            )
        ],
        clients=[ClientEntry(name=f"W{n}", id=n, api_key_env="TOK") for n in (1, 2)],
        retry=RetryConfig(attempts=1, jitter=0.0),
        breaker=BreakerConfig(failure_threshold=1, reset_timeout=30),
    )
    return Fetcher(
        config, Secrets({"TOK": "tok"}), clock or FakeClock(), transports={"main": transport}
    )


def _stats(fetcher: Fetcher, ws_id: int, ctx: CallContext) -> asyncio.Future[object]:
    key = RequestKey("main", ws_id, Endpoint.STATS, (("start_date", f"2026-11-0{ws_id}"),))
    entry = ClientEntry(name=f"W{ws_id}", id=ws_id, api_key_env="TOK")
    ws = WorkspaceRef("main", ws_id, f"W{ws_id}", entry)
    return asyncio.ensure_future(fetcher.fetch(key, ws, ctx))


async def test_the_next_request_goes_out_before_the_previous_reply_is_parsed() -> None:
    events: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        events.append(f"send {request.url.params['start_date'][-1]}")  # the workspace
        await asyncio.sleep(0)  # on the wire: the other request runs meanwhile
        return httpx.Response(200, json={"data": STATS_PAYLOAD})

    fetcher = _fetcher(httpx.MockTransport(handler), concurrency=1)
    inst = fetcher._instances["main"]
    parse = inst.client.parse

    def parse_logged(answer: Answer, model: type[BaseModel]) -> Reply:
        events.append("parse")
        return parse(answer, model)

    inst.client.parse = parse_logged  # type: ignore[method-assign]
    ctx = CallContext("manual")
    first, second = _stats(fetcher, 1, ctx), _stats(fetcher, 2, ctx)
    results = await asyncio.gather(first, second)
    payloads = [getattr(r, "payload", None) for r in results]
    assert all(isinstance(p, StatsResponse) and p.data.emails_sent == 100 for p in payloads)
    # Concurrency 1: the second request waited for the first one's slot, and got it
    # before the first reply was parsed (it used to be handed over only after).
    assert events.index("send 2") < events.index("parse")
    assert events.count("parse") == 2
    assert inst.limiter.in_flight == 0 and inst.limiter.max_in_flight == 1
    assert fetcher.requests_made == 2


async def test_a_bad_payload_parsed_after_the_slot_is_logged_and_spares_the_breaker() -> None:
    fetcher = _fetcher(
        httpx.MockTransport(lambda _r: httpx.Response(200, json={"data": {"emails_sent": "x"}})),
        concurrency=1,
    )
    records: list[ApiCallRecord] = []
    ctx = CallContext("manual", ("kpi",), records.append)
    got = await asyncio.gather(_stats(fetcher, 1, ctx), return_exceptions=True)
    error = got[0]
    assert isinstance(error, UpstreamError) and error.error_type is ErrorType.VALIDATION
    assert [(r.endpoint, r.success, r.error_type, r.status_code) for r in records] == [
        ("stats", False, "validation", 200)
    ]
    # Threshold 1: a bad payload is not an upstream-health failure.
    assert fetcher.breakers()[0].state is BreakerState.CLOSED
    assert fetcher.limiter("main").in_flight == 0


async def test_a_probe_that_succeeds_closes_the_breaker_before_its_slot_moves_on() -> None:
    clock = FakeClock()
    healthy = False

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # on the wire: the queued request waits for the slot
        return httpx.Response(200, json={"data": STATS_PAYLOAD}) if healthy else httpx.Response(503)

    fetcher = _fetcher(httpx.MockTransport(handler), concurrency=1, clock=clock)
    ctx = CallContext("manual")
    opened = await asyncio.gather(_stats(fetcher, 1, ctx), return_exceptions=True)
    assert isinstance(opened[0], UpstreamError)
    assert fetcher.breakers()[0].state is BreakerState.OPEN  # threshold 1
    healthy = True
    await clock.sleep(30)  # the reset timeout: the next call is the probe
    probe, queued = await asyncio.gather(
        _stats(fetcher, 1, ctx), _stats(fetcher, 2, ctx), return_exceptions=True
    )
    # The queued request got the probe's slot while the probe's reply was still to be
    # parsed; the breaker was already closed, so it was not refused as "breaker open".
    assert not isinstance(probe, BaseException) and not isinstance(queued, BaseException)
    assert fetcher.breakers()[0].state is BreakerState.CLOSED


async def test_what_the_client_puts_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": STATS_PAYLOAD})

    instance = InstanceConfig(name="a", base_url="https://bison.test/api", attempt_timeout=7)
    client = EmailBisonClient(instance, transport=httpx.MockTransport(handler))
    token = SecretStr("tok-1")
    reply = await client.request(
        "GET",
        "/workspaces/v1.1/stats",
        token=token,
        model=StatsResponse,
        params={"start_date": "2026-11-01", "end_date": "2026 11/21"},
    )
    assert isinstance(reply.payload, StatsResponse) and reply.status_code == 200
    await client.request(
        "POST",
        "https://bison.test/api/workspaces/v1.1/switch-workspace",
        token=token,
        model=StatsResponse,
        body={"team_id": 3},
    )
    get, post = seen
    assert str(get.url) == (
        "https://bison.test/api/workspaces/v1.1/stats?start_date=2026-11-01&end_date=2026%2011%2F21"
    )
    assert get.url.params["end_date"] == "2026 11/21"
    assert get.headers["Authorization"] == "Bearer tok-1"
    assert get.headers["Host"] == "bison.test"
    assert get.headers["Accept"] == "application/json"
    assert get.headers["User-Agent"] == "portal-tui"
    assert "cookie" not in get.headers
    assert get.extensions["timeout"] == httpx.Timeout(7).as_dict()
    assert post.method == "POST" and post.content == b'{"team_id":3}'
    assert post.headers["Content-Type"] == "application/json"
    await client.aclose()


async def test_another_origin_is_refused_before_anything_is_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    client = EmailBisonClient(
        InstanceConfig(name="a", base_url="https://bison.test/api"), transport=transport
    )
    try:
        await client.request(
            "GET", "https://evil.test/api/x", token=SecretStr("tok"), model=StatsResponse
        )
    except UpstreamError as exc:
        assert exc.error_type is ErrorType.VALIDATION and "another host" in exc.message
    else:
        raise AssertionError("a foreign origin was followed")
    assert sent == []
