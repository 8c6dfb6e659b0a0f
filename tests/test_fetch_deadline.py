"""The request deadline covers a request's own work, not its wait for the master token.

With hundreds of workspaces behind one master token they take turns; the
ones at the back must not spend their deadline in that queue (BENCHMARKS.md,
"left undone"), yet a request that hangs once it has its turn must still be
cut at its deadline, and the open session must never be starved.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from portal_tui.config import ClientEntry, Config, InstanceConfig, RetryConfig, Secrets
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from support import STATS_PAYLOAD

WORKSPACES = 30


class MasterUpstream:
    """A master-token upstream on FakeClock: switch 0.1 s, stats 1 s (or a hang)."""

    def __init__(self, clock: FakeClock, hang: int | None = None) -> None:
        self.clock = clock
        self.hang = hang  # stats of this workspace never answer
        self.current: int | None = None
        self.switches: list[int] = []
        self.mixed = 0  # a stats request answered while the token was on another workspace

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            team = json.loads(request.content)["team_id"]
            await self.clock.sleep(0.1)
            self.current = team
            self.switches.append(team)
            return httpx.Response(200, json={"data": {"name": f"ws{team}"}})
        asked = int(request.url.params["ws"])
        if asked == self.hang:
            await self.clock.sleep(3600)
        await self.clock.sleep(1.0)
        self.mixed += self.current != asked
        return httpx.Response(200, json={"data": STATS_PAYLOAD})


def master_fetcher(
    clock: FakeClock, upstream: MasterUpstream, attempt_timeout: float = 2
) -> tuple[Fetcher, Config]:
    config = Config(
        instances=[
            InstanceConfig(
                name="main",
                base_url="https://bison.test/api",
                master_token_env="MASTER",
                concurrency=2,
                attempt_timeout=attempt_timeout,
                request_deadline=5,
            )
        ],
        clients=[ClientEntry(name=f"ws{i}", id=i) for i in range(1, WORKSPACES + 1)],
        retry=RetryConfig(attempts=4, backoff_initial=0.5, jitter=0.0),
    )
    fetcher = Fetcher(
        config, Secrets({"MASTER": "master-tok"}), clock,
        transports={"main": httpx.MockTransport(upstream)},
    )  # fmt: skip
    return fetcher, config


async def timed(clock: FakeClock, job: asyncio.Future[Any]) -> tuple[float, object]:
    try:
        result: object = await job
    except UpstreamError as exc:
        result = exc
    return clock.monotonic(), result


async def test_workspaces_at_the_back_of_the_token_queue_keep_their_deadline() -> None:
    # 30 workspaces × 2 requests through one token: ~1.1 s each, ~33 s in all, against
    # a 5 s deadline. Every request must succeed: the queue is not their own time.
    clock = FakeClock()
    upstream = MasterUpstream(clock)
    fetcher, config = master_fetcher(clock, upstream)
    assert fetcher.token_mode(WorkspaceRef("main", 1, "ws1", config.clients[0])) == "master"
    ctx = CallContext("manual")
    jobs = [
        fetcher.fetch(
            RequestKey("main", c.id, Endpoint.STATS, (("ws", str(c.id)), ("n", str(n)))),
            WorkspaceRef("main", c.id, c.name, c),
            ctx,
        )
        for c in config.clients
        for n in range(2)
    ]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert upstream.switches == list(range(1, WORKSPACES + 1))  # one switch each, in turn
    assert upstream.mixed == 0
    # The open session was never starved: one switch + one 1 s round per workspace.
    assert clock.monotonic() == pytest.approx(WORKSPACES * 1.1)
    assert fetcher.requests_made == 3 * WORKSPACES
    await fetcher.aclose()


async def test_a_hang_at_the_back_of_the_queue_is_still_cut_at_its_own_deadline() -> None:
    # Workspace 10 waits 9.9 s for the token, then hangs: attempt 1 times out after 4 s,
    # 0.5 s backoff, a new switch (0.1 s), and the 5 s deadline cuts attempt 2 exactly
    # 5 s after its turn came: not at once (the old behaviour: 5 s after it asked), not
    # never.
    clock = FakeClock()
    upstream = MasterUpstream(clock, hang=10)
    fetcher, config = master_fetcher(clock, upstream, attempt_timeout=4)
    ctx = CallContext("manual")
    tasks = {
        c.id: asyncio.ensure_future(
            fetcher.fetch(
                RequestKey("main", c.id, Endpoint.STATS, (("ws", str(c.id)),)),
                WorkspaceRef("main", c.id, c.name, c),
                ctx,
            )
        )
        for c in config.clients[:10]
    }
    done = {ws: await timed(clock, task) for ws, task in tasks.items()}
    when, error = done[10]
    turn = 9 * 1.1  # nine workspaces before it
    assert isinstance(error, UpstreamError) and error.error_type is ErrorType.TIMEOUT
    assert "request deadline of 5 s passed during attempt 2/4" in error.message
    assert when == pytest.approx(turn + 5.0)
    assert all(not isinstance(r, UpstreamError) for ws, (_, r) in done.items() if ws != 10)
    assert upstream.switches == [*range(1, 11), 10]
    await fetcher.aclose()


async def test_pages_go_first_at_admission_without_starving_admitted_requests() -> None:
    # 40 stats, then 10 collections of 10 pages, 1 s each, 2 at a time (70 s in all),
    # deadline 20 s. Page 1s must be admitted ahead of the queued stats (they unlock
    # 90 pages), yet the stats already admitted must not wait behind every page.
    clock = FakeClock()
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page")
        sent.append(f"page{page}" if page else "stats")
        await clock.sleep(1.0)
        if page is None:
            return httpx.Response(200, json={"data": STATS_PAYLOAD})
        meta = {"current_page": int(page), "last_page": 10, "per_page": 1, "total": 0}
        return httpx.Response(200, json={"data": [], "meta": meta})

    clients = [ClientEntry(name=f"ws{i}", id=i, api_key_env="TOKEN") for i in range(1, 11)]
    config = Config(
        instances=[
            InstanceConfig(
                name="main", base_url="https://bison.test/api", concurrency=2,
                attempt_timeout=5, request_deadline=20, sender_emails_per_page=1,
            )
        ],
        clients=clients,
    )  # fmt: skip
    fetcher = Fetcher(
        config, Secrets({"TOKEN": "tok"}), clock, transports={"main": httpx.MockTransport(handler)}
    )
    ctx = CallContext("manual")
    refs = [WorkspaceRef("main", c.id, c.name, c) for c in clients]
    stats = [
        fetcher.fetch(RequestKey("main", 1, Endpoint.STATS, (("n", str(n)),)), refs[0], ctx)
        for n in range(40)
    ]
    collections = [fetcher.fetch_mailboxes(ref, ctx) for ref in refs]
    results = await asyncio.gather(*stats, *collections, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(sent) == 140 and clock.monotonic() == pytest.approx(70.0)
    # The first 18 stats were admitted at once; the 10 page 1s came right after them.
    assert max(i for i, s in enumerate(sent) if s == "page1") < 18 + 10
    await fetcher.aclose()
