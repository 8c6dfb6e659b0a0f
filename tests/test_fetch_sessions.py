"""Master-token sessions, the priority limiter and mailbox compaction (issue 5's speed-ups).

Sessions must keep the one guarantee that matters (never two workspaces on
the token at once) while making one switch per workspace instead of one per
request; the limiter must hand slots to priority waiters first without ever
exceeding its concurrency; compaction must change memory, never values.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from portal_tui.config import ClientEntry, Config, InstanceConfig, Secrets
from portal_tui.dashboards.registry import dashboard_names
from portal_tui.fetch.compact import compact_mailboxes
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.fetch.limiter import RequestLimiter
from portal_tui.fetch.sessions import TokenSessions
from portal_tui.simulator import LatencyModel, generate_dataset
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.models import SenderEmailPage
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import STATS_PAYLOAD, hand_dataset, rig

# -- sessions ---------------------------------------------------------------------------


async def test_one_switch_per_workspace_and_never_two_workspaces_at_once() -> None:
    clock = FakeClock()
    sessions = TokenSessions()
    token: list[int] = []  # the token's current workspace, as the upstream sees it
    switches: list[int] = []
    seen: list[tuple[int, int]] = []

    async def request(ws: int, latency: float) -> None:
        async def switch() -> None:
            await clock.sleep(0.3)
            switches.append(ws)
            token.append(ws)

        async with sessions.session(ws, switch):
            await clock.sleep(latency)
            seen.append((ws, token[-1]))

    jobs = [request(ws, 0.1 * (i % 4 + 1)) for i in range(8) for ws in (2, 3, 4)]
    await asyncio.gather(*jobs)
    assert all(ws == current for ws, current in seen)  # every fetch saw its own workspace
    assert sorted(switches) == [2, 3, 4]  # one switch per workspace
    assert sessions.stats.sessions == 3 and sessions.stats.overlaps == 0
    assert sessions.current_workspace is None


async def test_a_failed_switch_fails_its_members_and_frees_the_token() -> None:
    clock = FakeClock()
    sessions = TokenSessions()
    calls = 0

    async def bad_switch() -> None:
        nonlocal calls
        calls += 1
        await clock.sleep(0.1)
        raise UpstreamError(ErrorType.SERVER_5XX, "HTTP 503", status_code=503)

    async def good_switch() -> None:
        await clock.sleep(0.1)

    async def member(ws: int, switch: object) -> str:
        try:
            async with sessions.session(ws, switch):  # type: ignore[arg-type]
                await clock.sleep(0.1)
                return "ok"
        except UpstreamError as exc:
            assert exc.status_code == 503 and "switch to workspace 2" in exc.message
            return "failed"

    results = await asyncio.gather(
        member(2, bad_switch), member(2, bad_switch), member(3, good_switch)
    )
    assert results == ["failed", "failed", "ok"]
    assert calls == 1  # the group shared one switch attempt
    assert sessions.current_workspace is None


async def test_a_cancelled_waiter_leaves_the_queue_cleanly() -> None:
    clock = FakeClock()
    sessions = TokenSessions()

    async def switch() -> None:
        await clock.sleep(0.1)

    async def hold(ws: int, seconds: float) -> None:
        async with sessions.session(ws, switch):
            await clock.sleep(seconds)

    first = asyncio.ensure_future(hold(2, 5.0))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(hold(3, 1.0))
    await clock.sleep(1.0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await first
    await hold(4, 0.5)  # the token is free again; nothing left queued for 3
    await asyncio.sleep(0)  # a session closes one loop iteration after its last member left
    assert sessions.current_workspace is None and sessions.stats.sessions == 2


@pytest.mark.parametrize("http", [False, True], ids=["in-process", "http"])
async def test_master_token_refresh_makes_one_switch_per_workspace_and_counts_it(
    tmp_path: Path, http: bool
) -> None:
    # All four dashboards, every workspace through the master token: with multi-page
    # mailboxes (page 1 first, then the rest) each workspace still needs one switch.
    latency = LatencyModel.uniform(0.001, 0.01) if http else LatencyModel.uniform(0.05, 0.5)
    async with rig(tmp_path, http=http, api_user=False, concurrency=5, latency=latency) as r:
        outcome = await r.monitor.refresh(force=True)
        assert outcome is not None
        workspaces = len(hand_dataset().workspaces)
        assert r.sim.counters.switches == workspaces
        assert outcome.requests_made == outcome.requests_needed == r.sim.counters.requests
        stats = r.monitor.fetcher.token_sessions("sim").stats
        assert stats.sessions == workspaces and stats.overlaps == 0
        for name in dashboard_names():
            assert r.monitor.snapshots[name].failures == []


# -- the priority limiter ---------------------------------------------------------------


async def test_priority_waiters_go_first_and_concurrency_is_never_exceeded() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(clock, concurrency=2)
    order: list[str] = []

    async def job(name: str, priority: bool) -> None:
        async with limiter.slot(priority=priority):
            order.append(name)
            assert limiter.in_flight <= 2
            await clock.sleep(1.0)

    tasks = [asyncio.ensure_future(job(f"n{i}", False)) for i in range(4)]
    await asyncio.sleep(0)
    tasks.append(asyncio.ensure_future(job("urgent", True)))
    await asyncio.gather(*tasks)
    assert order[:2] == ["n0", "n1"] and order[2] == "urgent"
    assert limiter.max_in_flight == 2 and limiter.queued == 0


async def test_a_cancelled_limiter_waiter_does_not_leak_a_slot() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(clock, concurrency=1)

    async def job(seconds: float) -> None:
        async with limiter.slot():
            await clock.sleep(seconds)

    first = asyncio.ensure_future(job(1.0))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(job(1.0))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.wait_for(job(0.1), timeout=5)  # the slot came back
    assert limiter.in_flight == 0 and limiter.queued == 0


async def test_a_long_queue_does_not_spend_the_request_deadline_waiting() -> None:
    # 60 requests, 2 at a time, 1 s each: the last is sent after ~29 s. Its 20 s deadline
    # must run from when it may start, not from when the refresh asked for everything.
    clock = FakeClock()

    async def handler(request: httpx.Request) -> httpx.Response:
        await clock.sleep(1.0)
        return httpx.Response(200, json={"data": STATS_PAYLOAD})

    config = Config(
        instances=[
            InstanceConfig(
                name="main",
                base_url="https://bison.test/api",
                concurrency=2,
                attempt_timeout=5,
                request_deadline=20,
            )
        ],
        clients=[ClientEntry(name="Acme", id=1, api_key_env="ACME")],
    )
    fetcher = Fetcher(
        config, Secrets({"ACME": "tok"}), clock, transports={"main": httpx.MockTransport(handler)}
    )
    ws = WorkspaceRef("main", 1, "Acme", config.clients[0])
    ctx = CallContext("manual")
    keys = [RequestKey("main", 1, Endpoint.STATS, (("n", str(i)),)) for i in range(60)]
    results = await asyncio.gather(*(fetcher.fetch(k, ws, ctx) for k in keys))
    assert len(results) == 60 and fetcher.requests_made == 60
    assert clock.monotonic() == pytest.approx(30.0)
    assert fetcher.limiter("main").max_in_flight == 2
    await fetcher.aclose()


# -- mailbox compaction -----------------------------------------------------------------


def test_compaction_shares_what_repeats_and_changes_no_value() -> None:
    dataset = generate_dataset(3, seed=5, mailboxes_total=300)
    rows = [m.payload() for w in dataset.workspaces for m in w.mailboxes(0, w.mailbox_count)]
    raw = {"data": rows, "meta": {"current_page": 1, "last_page": 1, "per_page": 300, "total": 300}}
    page = SenderEmailPage.model_validate(raw)
    before = [m.model_dump() for m in page.data]
    before_set = [set(m.model_fields_set) for m in page.data]
    compact_mailboxes(page.data)
    assert [m.model_dump() for m in page.data] == before
    assert [m.model_fields_set for m in page.data] == before_set
    assert len({id(m.model_fields_set) for m in page.data}) == 1
    tags = {(t.id, t.name): id(t) for m in page.data for t in m.tags}
    assert len({id(t) for m in page.data for t in m.tags}) == len(tags)
    assert page.data[0].model_dump(exclude_unset=True) == page.data[0].model_dump()
