"""The shared tier's parts, in one process: codec, SQLite leases, loads, token locks.

Leases expire on the injected clock's wall time, so expiry is tested by moving
a FakeClock on, never by sleeping. Processes are stood in for by tiers with
different holder ids on one file (the multi-process tests are in
``test_shared_processes.py``).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal_tui.config import InstanceConfig
from portal_tui.fetch.fetcher import Fetched
from portal_tui.shared.codec import decode, encode
from portal_tui.shared.loads import SharedLoads
from portal_tui.shared.sqlite_tier import SqliteTier
from portal_tui.shared.tier import Stored
from portal_tui.store.database import Store
from portal_tui.store.redaction import Redactor
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import PageMeta, SenderEmail, StatsResponse
from portal_tui.vocabulary.clock import FakeClock, SystemClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import STATS_PAYLOAD

SECRET = "sk_live_0123456789abcdefABCDEF"
INSTANCE = InstanceConfig(
    name="sim", base_url="http://127.0.0.1:1/api", attempt_timeout=10, request_deadline=30
)
KEY = RequestKey("sim", 3, Endpoint.STATS, (("start_date", "2026-11-01"),))


def stats(sent: int = 100, **extra: object) -> Fetched:
    data = {**STATS_PAYLOAD, "emails_sent": sent, **extra}
    payload = StatsResponse.model_validate({"data": data})
    return Fetched(payload, 321, 1, frozenset(extra))


# -- codec -------------------------------------------------------------------------------


def test_a_response_comes_back_as_the_same_validated_models() -> None:
    original = stats(7, surprise="kept")
    got = decode(Endpoint.STATS, encode(original), 1_000.0)
    assert got is not None and got.origin == "shared"
    assert got.payload == original.payload
    assert got.payload.model_fields_set == original.payload.model_fields_set
    assert got.unknown_fields == frozenset({"surprise"}) and got.size_bytes == 321
    assert got.fetched_at == datetime.fromtimestamp(1_000.0, UTC)


def test_a_mailbox_collection_round_trips_with_its_meta_and_anomalies() -> None:
    box = SenderEmail.model_validate(
        {"id": 1, "email": "a@x.io", "status": "Connected", "daily_limit": "30",
         "emails_sent_count": 5, "total_replied_count": 1, "unique_replied_count": 1,
         "bounced_count": 0, "tags": [{"id": 9, "name": "Zapmail", "default": False}]}
    )  # fmt: skip
    meta = PageMeta(current_page=1, last_page=2, per_page=1, total=2)
    original = MailboxCollection([box, box], meta, 2, ("page 2 came back as page 1",))
    got = decode(Endpoint.SENDER_EMAILS, encode(Fetched(original, 10, 2, pages=2)), 5.0)
    assert got is not None and isinstance(got.payload, MailboxCollection)
    assert list(got.payload.mailboxes) == [box, box] and got.payload.meta == meta
    assert got.payload.anomalies == original.anomalies and got.pages == 2


def test_what_does_not_decode_is_absent_never_data() -> None:
    assert decode(Endpoint.STATS, b"not zlib", 1.0) is None
    assert decode(Endpoint.STATS, zlib.compress(b'{"format": 1, "payload": {}}'), 1.0) is None


def test_no_token_reaches_a_stored_response() -> None:
    leaky = stats(1, note=f"Bearer {SECRET}")
    blob = encode(leaky, Redactor([SECRET]))
    assert SECRET.encode() not in zlib.decompress(blob)
    got = decode(Endpoint.STATS, blob, 1.0)
    assert got is not None and isinstance(got.payload, StatsResponse)
    assert got.payload.data.model_extra == {"note": "Bearer [REDACTED]"}


# -- SQLite leases -----------------------------------------------------------------------


@pytest.fixture
async def records(tmp_path: Path) -> Path:
    path = tmp_path / "shared.sqlite3"
    store = await Store.open(path, clock=FakeClock())
    await store.close()
    return path


async def test_a_lease_is_one_holders_until_it_expires_and_its_fence_then_grows(
    records: Path,
) -> None:
    clock = FakeClock(autojump=False)
    a = SqliteTier(records, clock, holder="a", lease_seconds=10)
    b = SqliteTier(records, clock, holder="b", lease_seconds=10)
    try:
        first = await a.take("response:w3")
        assert first is not None and first.fence == 1
        assert await b.take("response:w3") is None
        clock.advance(9.9)
        assert await b.take("response:w3") is None
        assert await a.renew(first)  # the holder pushes it on ...
        clock.advance(9.9)
        assert await b.take("response:w3") is None
        clock.advance(0.2)  # ... until it stops (killed): then it is anyone's
        second = await b.take("response:w3")
        assert second is not None and second.fence == 2
        assert not await a.renew(first)  # the old holder learns it lost it

        # Fencing: the newer holder's result stands, whatever the old one writes after.
        now = clock.now().timestamp()
        await b.release(second, [("k", Stored(now, b"new"))])
        await a.release(first, [("k", Stored(now + 1, b"old"))])
        got = await b.read("k")
        assert got is not None and got.payload == b"new"
        assert (await b.wait("response:w3", 1.0)) is not None  # not held: at once
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_master_token_lock_lets_the_process_waiting_go_next(records: Path) -> None:
    clock = FakeClock(autojump=False)
    a = SqliteTier(records, clock, holder="a", lease_seconds=10)
    b = SqliteTier(records, clock, holder="b", lease_seconds=10)
    try:
        held = await a.take("token:t", queue=True)
        assert held is not None
        assert await b.take("token:t", queue=True) is None  # b is now next in line
        await a.release(held)
        assert await a.take("token:t", queue=True) is None  # a may not take it straight back
        assert await b.take("token:t", queue=True) is not None
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_failure_is_shared_with_its_text_redacted(records: Path) -> None:
    clock = FakeClock(autojump=False)
    tier = SqliteTier(records, clock, holder="a", redactor=Redactor([SECRET]))
    try:
        lease = await tier.take("response:w3")
        assert lease is not None
        error = UpstreamError(ErrorType.SERVER_5XX, f"boom {SECRET}", status_code=503)
        now = clock.now().timestamp()
        await tier.release(lease, [("k", Stored(failed_at=now, error=error))])
        got = await tier.read("k")
        assert got is not None and got.payload is None and got.failed_at == now
        assert got.error is not None and got.error.status_code == 503
        assert SECRET not in got.error.message
    finally:
        await tier.aclose()


# -- loads across "processes" ------------------------------------------------------------


def loads_for(path: Path, holder: str, clock: SystemClock | FakeClock) -> SharedLoads:
    tier = SqliteTier(path, clock, holder=holder, lease_seconds=5, poll_interval=0.01)
    return SharedLoads(tier, clock, instances={"sim": INSTANCE}, lease_seconds=5)


async def test_two_processes_asking_at_once_fetch_once(records: Path) -> None:
    clock = SystemClock()
    a, b = loads_for(records, "a", clock), loads_for(records, "b", clock)
    calls: list[str] = []
    asked, release = asyncio.Event(), asyncio.Event()

    def fetcher(who: str) -> Callable[[], Awaitable[Fetched]]:
        async def fetch() -> Fetched:
            calls.append(who)
            asked.set()
            await release.wait()  # both are asking before either has an answer
            return stats(55)

        return fetch

    since = clock.now()
    try:
        first = asyncio.ensure_future(a.load(KEY, fetcher("a"), not_before=since))
        second = asyncio.ensure_future(b.load(KEY, fetcher("b"), not_before=since))
        await asked.wait()
        while True:  # until the other polls the lease (its poller: no event to await)
            if a.tier._waiting or b.tier._waiting:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.005)
        release.set()
        got = await asyncio.gather(first, second)
        assert len(calls) == 1
        assert sorted(g.origin for g in got) == ["here", "shared"]
        assert all(g.payload == stats(55).payload for g in got)
        # A later load within its TTL is served from the file without asking anyone.
        third = await a.load(KEY, fetcher("a"), not_before=since)
        assert third.origin == "shared" and len(calls) == 1
        # A load that wants something newer than what is stored fetches.
        fourth = await b.load(KEY, fetcher("b"), not_before=clock.now())
        assert fourth.origin == "here" and calls == [calls[0], "b"]
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_tier_that_fails_is_fetched_around_and_said_so(tmp_path: Path) -> None:
    clock = FakeClock()
    broken = tmp_path / "not-a-dir" / "x.sqlite3"
    (tmp_path / "not-a-dir").write_text("a file where a directory should be")
    loads = loads_for(broken, "a", clock)
    try:
        got = await loads.load(KEY, lambda: _ready(stats(9)), not_before=clock.now())
        assert got.origin == "here"
        status = loads.status()
        assert not status.healthy and status.fallbacks == 1 and status.detail
        assert status.label.startswith("shared tier DOWN")
    finally:
        await loads.aclose()


async def _ready(value: Fetched) -> Fetched:
    return value


def test_the_overview_line_says_where_each_dashboards_data_came_from() -> None:
    from portal_tui.console.panes.overview import shared_line
    from portal_tui.shared.tier import TierStatus

    status = TierStatus("sqlite", "/x/records.sqlite3", healthy=True)
    sources = {"kpi": {"here": 4, "shared": 20}, "infrastructure": {"cache": 6}}
    assert shared_line(status.label, sources) == (
        "shared via SQLite (/x/records.sqlite3) · data: KPI 4 here, 20 shared · "
        "Infrastructure 6 cache"
    )
    down = TierStatus("redis", "10.0.0.5:6379", healthy=False, detail="ConnectionError")
    assert down.label == (
        "shared tier DOWN (Redis 10.0.0.5:6379: ConnectionError); fetching here"
    )
