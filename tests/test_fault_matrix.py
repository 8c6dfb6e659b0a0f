"""The fault matrix: every upstream fault of issue 6, over real loopback HTTP.

Each row runs the real monitor, fetcher, cache and SQLite store against the
simulator's HTTP server (or a TCP front door in front of it for slow
connects), 3 attempts. Where a timeout or a wait is the point of a row (a
hang, a trickle, a stalled connect, Retry-After) the timeouts are short
(attempt 0.5 s, request deadline 1.5 s) and the assertions allow for a late
timer; every other fault answers at once, so its row runs with roomy timeouts
(attempt 5 s, deadline 15 s) that a busy machine cannot reach: its outcome
(the attempt count above all) never depends on the machine's speed. For each
fault it checks, after a good refresh and then a forced refresh under the fault:

- the dashboard's state (freshness + overlays) and the failure shown;
- the ``api_health_logs`` error types of the faulted cycle;
- retries (the attempt budget for retryable faults, one attempt otherwise)
  and the breaker (it counts only upstream-health failures);
- the last good data still shown, flagged stale, with its original age;
- no crash and no hang: the cycle ends within its phases' deadlines;
- recovery without a restart: clear the fault, refresh, everything fresh.

``tests/test_end_to_end.py`` covers the same faults in-process on virtual
time; this file proves them on the wire. The README's fault table is the
user-facing summary of these rows.
"""

from __future__ import annotations

import asyncio
import socket
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.fetch.breaker import BreakerState
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.vocabulary.freshness import FreshnessState, Overlay
from portal_tui.vocabulary.names import DashboardName
from support import Rig, rig

KPI, INFRA = DashboardName.KPI, DashboardName.INFRASTRUCTURE
ACME = ("sim", 2)
ATTEMPTS = 3
SLACK = 1.0  # scheduling, SQLite, loopback: generous on a loaded 2-core box
HEALTH_TYPES = {"timeout", "network", "5xx"}  # what the breaker counts (SPEC 4)


@dataclass(frozen=True)
class Timing:
    """A rig's attempt timeout and whole-request deadline, in seconds."""

    attempt: float
    deadline: float


QUICK = Timing(0.5, 1.5)
"""For rows whose point is a timeout or a wait: they take about this long."""
ROOMY = Timing(5.0, 15.0)
"""For faults that answer at once: no timeout is ever reached, however busy the machine."""

_timings: weakref.WeakKeyDictionary[Rig, Timing] = weakref.WeakKeyDictionary()


def cycle_bound(r: Rig, board: DashboardName) -> float:
    """Longest a cycle may take: discovery, then the fetches (mailboxes: page 1, then the rest)."""
    phases = 3 if board is INFRA else 2
    return phases * _timings[r].deadline + SLACK


# -- a TCP front door that accepts late -----------------------------------------------------


class FrontDoor:
    """A loopback TCP proxy in front of the simulator that can delay or stall new connections.

    ``delay``: each new connection waits this long before its first byte is
    forwarded (a slow connect or slow first byte that still arrives).
    :meth:`stall`: stop accepting and fill the listen backlog, so new
    connects hang in SYN retransmission exactly as behind a dead resolver or
    a black-holing firewall; open connections are dropped so keep-alive
    cannot dodge it. :meth:`unstall` accepts again on the same port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.delay = 0.0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self._accepting: asyncio.Task[None] | None = None
        self._fillers: list[socket.socket] = []
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        """Accept connections."""
        self._accepting = asyncio.get_running_loop().create_task(self._accept_loop())

    async def stall(self) -> None:
        """New connects hang; existing connections are cut."""
        if self._accepting is not None:
            self._accepting.cancel()
            with suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._sock.listen(0)  # Linux shrinks the backlog of a listening socket in place
        for _ in range(4):  # more than the backlog holds: later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)
        await asyncio.sleep(0.05)

    def unstall(self) -> None:
        """Accept again (the fillers are accepted and closed like any other client)."""
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        self._sock.listen(64)
        if self._accepting is None:
            self.start()

    async def close(self) -> None:
        """Stop everything."""
        if self._accepting is not None:
            self._accepting.cancel()
        for task in list(self._pipes):
            task.cancel()
        for filler in self._fillers:
            filler.close()
        self._sock.close()
        await asyncio.sleep(0)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._sock)
            task = loop.create_task(self._pipe(conn))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, conn: socket.socket) -> None:
        try:
            client_r, client_w = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()
            return
        self._writers.add(client_w)
        try:
            await asyncio.sleep(self.delay)
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            client_w.transport.abort()
            self._writers.discard(client_w)
            return
        self._writers.add(upstream_w)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(copy(client_r, upstream_w), copy(upstream_r, client_w))
        finally:
            self._writers.discard(client_w)
            self._writers.discard(upstream_w)


@dataclass
class Front:
    """Holds the rig's front door once the rig has built it."""

    door: FrontDoor | None = None

    @asynccontextmanager
    async def __call__(self, base_url: str) -> AsyncIterator[str]:
        parts = urlsplit(base_url)
        assert parts.hostname and parts.port
        self.door = FrontDoor((parts.hostname, parts.port))
        self.door.start()
        try:
            yield f"http://127.0.0.1:{self.door.port}{parts.path}"
        finally:
            await self.door.close()


# -- helpers --------------------------------------------------------------------------------


@asynccontextmanager
async def http_rig(tmp_path: Path, timing: Timing = ROOMY, **kwargs: object) -> AsyncIterator[Rig]:
    """The matrix's rig: loopback HTTP, ``timing``'s timeouts, small attempt budget."""
    options: dict[str, object] = {
        "http": True,
        "attempts": ATTEMPTS,
        "attempt_timeout": timing.attempt,
        "request_deadline": timing.deadline,
        "reset_timeout": 0.3,
        "threshold": 1000,  # per-workspace rows: the breaker is watched, not tripped
    }
    options.update(kwargs)
    async with rig(tmp_path, **options) as r:  # type: ignore[arg-type]
        _timings[r] = timing
        yield r


async def timed_refresh(r: Rig, board: DashboardName) -> float:
    """A forced refresh of ``board``; returns its wall time, failing if it overran its bound."""
    start = time.monotonic()
    bound = cycle_bound(r, board)
    outcome = await asyncio.wait_for(r.monitor.refresh([board], force=True), 2 * bound)
    elapsed = time.monotonic() - start
    assert outcome is not None, "the refresh returned nothing"
    assert elapsed < bound, f"cycle took {elapsed:.2f} s > {bound} s"
    return elapsed


async def logged_since(r: Rig, since: datetime) -> list[ApiCallRecord]:
    """The attempts logged since ``since``; none may have run past the request deadline."""
    calls = await r.store.recent_api_calls(since=since, limit=10_000)
    for call in calls:  # no attempt ran past the whole-request deadline
        assert call.response_time_ms <= (_timings[r].deadline + SLACK) * 1000, call
    return calls


def failures(snap: DashboardSnapshot, workspace: str | None) -> list[str]:
    """Failure labels shown for ``workspace`` (None: the whole instance)."""
    return [f.label for f in snap.failures if f.workspace == workspace]


async def recover(r: Rig, board: DashboardName, good_at: datetime) -> None:
    """Clear every fault; within a couple of refreshes (one breaker probe) all is fresh again."""
    r.faults.clear()
    if r.server is not None and not r.server.listening:
        r.server.resume_listening()
    await asyncio.sleep(0.35)  # past the breaker's reset timeout, if it opened
    for _ in range(3):
        await timed_refresh(r, board)
        snap = r.monitor.snapshots[board]
        if not snap.failures:
            break
    snap = r.monitor.snapshots[board]
    assert snap.failures == [] and snap.error is None
    assert snap.stale_rows == 0 and len(snap.rows) == 3
    assert snap.row_meta[ACME].fetched_at > good_at  # new data, not the kept copy
    fresh = r.monitor.freshness(board)
    assert fresh.state is FreshnessState.FRESH and Overlay.ERROR not in fresh.overlays
    assert r.monitor.breakers()[0].state is BreakerState.CLOSED
    assert not r.monitor.unreachable


# -- one workspace misbehaves ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of the matrix where a single workspace (Acme, id 2) misbehaves."""

    name: str
    spec: str
    label: str  # the failure shown for Acme
    logged: str  # api_health_logs error_type of its failed attempts
    attempts: int | None  # attempts made before giving up (None: timing decides, within budget)
    board: DashboardName = KPI
    deadline_cut: bool = False  # the whole-request deadline, not the budget, ended the retries
    may_also_log: frozenset[str] = field(default_factory=frozenset)
    timing: Timing = ROOMY


CASES = [
    Case("reset mid-body", "reset@2/stats=at=0.5", "network", "network", ATTEMPTS),
    Case(
        "server trickles past the deadline",
        "trickle@2/stats=bps=40:chunk=4",
        "timeout",
        "timeout",
        ATTEMPTS,
        deadline_cut=True,
        timing=QUICK,
    ),
    Case(
        "server hangs",
        "hang@2/stats",
        "timeout",
        "timeout",
        ATTEMPTS,
        deadline_cut=True,
        timing=QUICK,
    ),
    Case("500/502/503 burst outlasting the retries", "5xx@2=1:codes=503", "5xx 503", "5xx", 3),
    # Retry-After 2 s: attempts at 0 s and 2 s; a third could not start before 4 s, past
    # the 3.9 s deadline, so the retries stop there (SPEC: wait at least Retry-After, within
    # the deadline). The two attempts have 1.9 s between them to answer: a busy machine's
    # loopback is far quicker, so the second is never the one the deadline cuts.
    Case(
        "429 storm, Retry-After in seconds",
        "429@2/stats=1:retry_after=2",
        "rate_limited 429",
        "rate_limited",
        2,
        timing=Timing(3.0, 3.9),
    ),
    # An HTTP date has whole seconds, so the wait is anything up to 1 s: 2 or 3 attempts,
    # and the deadline may cut the last one short (logged as a timeout attempt).
    Case(
        "429 storm, Retry-After as an HTTP date",
        "429@2/stats=1:retry_after_date=1",
        "rate_limited 429",
        "rate_limited",
        None,
        may_also_log=frozenset({"timeout"}),
        timing=QUICK,
    ),
    Case("malformed JSON", "malformed@2/stats", "validation 200", "validation", 1),
    Case("truncated body", "truncate@2/stats=at=0.6", "validation 200", "validation", 1),
    Case(
        "a field of the wrong type",
        "drift@2/stats=wrong_type:emails_sent",
        "validation 200",
        "validation",
        1,
    ),
    Case("a missing field", "drift@2/stats=missing:interested", "validation 200", "validation", 1),
    Case("empty data", "empty@2/stats", "validation 200", "validation", 1),
    Case("401 revoked token", "revoked@2", "4xx 401", "4xx", 1),
    Case(
        "sender-emails page reset mid-body",
        "reset@2/sender-emails=at=0.5",
        "network",
        "network",
        ATTEMPTS,
        board=INFRA,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_one_workspace_fault(tmp_path: Path, case: Case) -> None:
    async with http_rig(tmp_path, case.timing) as r:
        await timed_refresh(r, case.board)
        good = r.monitor.snapshots[case.board]
        good_at = good.row_meta[ACME].fetched_at
        good_row = next(x for x in good.rows if x.key == ACME)
        await asyncio.sleep(0.05)  # so "kept" and "new" data have different times
        r.faults.add_spec(case.spec)
        since = r.clock.now()
        await timed_refresh(r, case.board)

        snap = r.monitor.snapshots[case.board]
        # The dashboard: still fresh (siblings are fine), Acme failed, its old row kept.
        assert failures(snap, "Acme Corp") == [case.label]
        assert [f.workspace for f in snap.failures] == ["Acme Corp"]
        assert snap.error is None
        fresh = r.monitor.freshness(case.board)
        assert fresh.state is FreshnessState.FRESH and Overlay.ERROR not in fresh.overlays
        kept = next(x for x in snap.rows if x.key == ACME)
        assert kept == good_row, "the last good row, never a zero"
        assert snap.row_meta[ACME].stale and snap.row_meta[ACME].fetched_at == good_at
        assert case.label.split(" ")[0] in (snap.row_meta[ACME].error or "")
        assert (r.clock.now() - good_at).total_seconds() > 0.05  # its age is its own
        assert snap.stale_rows == 1

        # The records: the right error type, the right number of attempts.
        calls = await logged_since(r, since)
        failed = [c for c in calls if not c.success]
        assert {c.workspace for c in failed} == {"Acme Corp"}
        assert case.logged in {c.error_type for c in failed}
        assert {c.error_type for c in failed} <= {case.logged} | case.may_also_log
        (failure,) = [f for f in snap.failures if f.workspace == "Acme Corp"]
        if case.deadline_cut:
            assert "deadline" in failure.message
        if case.attempts is None or case.deadline_cut:
            # Timing decides, for each of Acme's requests on its own: on a busy machine
            # one may get a retry in before the deadline that another did not. The
            # failure shown is one of them: its count is one the log shows.
            assert 1 <= failure.attempts <= ATTEMPTS
            assert failure.attempts in {c.attempt for c in failed}
            assert failure.attempts <= max(c.attempt for c in failed)
        else:
            assert failure.attempts == case.attempts
            assert max(c.attempt for c in failed) == failure.attempts

        # The breaker counts only upstream-health failures.
        breaker = r.monitor.breakers()[0]
        assert breaker.state is BreakerState.CLOSED  # threshold 1000 here
        if case.logged in HEALTH_TYPES:
            assert breaker.last_error is not None
        else:
            assert breaker.last_error is None and breaker.consecutive_failures == 0

        await recover(r, case.board, good_at)


async def test_pagination_that_loops_is_not_followed_over_http(tmp_path: Path) -> None:
    async with http_rig(tmp_path, per_page=2) as r:
        await timed_refresh(r, INFRA)
        good_at = r.monitor.snapshots[INFRA].row_meta[ACME].fetched_at
        pages_before = r.sim.counters.by_endpoint["sender-emails"]
        r.faults.add_spec("loop@2")
        await timed_refresh(r, INFRA)
        snap = r.monitor.snapshots[INFRA]
        acme = next(x for x in snap.rows if x.key == ACME)
        assert acme.mailbox_count == 3 and acme.complete
        assert r.sim.counters.by_endpoint["sender-emails"] - pages_before == 2 + 1 + 1
        assert any(
            "links.next is not null (points at page 1)" in w for w in snap.warnings["Acme Corp"]
        )
        assert Overlay.WARNING in r.monitor.freshness(INFRA).overlays
        assert snap.failures == [] and not snap.row_meta[ACME].stale
        await recover(r, INFRA, good_at)
        assert not any("links.next" in w for w in r.monitor.snapshots[INFRA].warnings["Acme Corp"])


async def test_pagination_that_ends_early_is_flagged_incomplete_over_http(tmp_path: Path) -> None:
    async with http_rig(tmp_path, per_page=2) as r:
        await timed_refresh(r, INFRA)
        good_at = r.monitor.snapshots[INFRA].row_meta[ACME].fetched_at
        r.faults.add_spec("early_end@2=5")
        await timed_refresh(r, INFRA)
        snap = r.monitor.snapshots[INFRA]
        acme = next(x for x in snap.rows if x.key == ACME)
        assert acme.complete is False
        assert any("incomplete mailbox fetch: 3 of 8" in w for w in snap.warnings["Acme Corp"])
        assert Overlay.WARNING in r.monitor.freshness(INFRA).overlays
        assert (await logged_since(r, good_at)) and not [
            c for c in await logged_since(r, good_at) if not c.success
        ]
        await recover(r, INFRA, good_at)
        assert next(x for x in r.monitor.snapshots[INFRA].rows if x.key == ACME).complete


async def test_short_5xx_burst_is_absorbed_by_retries(tmp_path: Path) -> None:
    async with http_rig(tmp_path) as r:
        await timed_refresh(r, KPI)
        r.faults.add_spec("5xx@2/stats=codes=500/502/503:first=2")
        since = r.clock.now()
        await timed_refresh(r, KPI)
        snap = r.monitor.snapshots[KPI]
        assert snap.failures == [] and snap.stale_rows == 0
        failed = [c for c in await logged_since(r, since) if not c.success]
        assert [(c.error_type, c.attempt) for c in failed] in (
            [("5xx", 1), ("5xx", 1)],  # two different windows hit once each
            [("5xx", 2), ("5xx", 1)],  # or one window hit twice (newest first)
        )
        assert {c.status_code for c in failed} <= {500, 502, 503}


# -- the whole instance misbehaves -----------------------------------------------------------


async def _instance_fault(
    r: Rig,
    start_fault: Callable[[], object],
    *,
    label: str,
    logged: set[str],
    breaker_counts: bool,
    may_also_log: frozenset[str] = frozenset(),
) -> tuple[datetime, float]:
    """Good refresh, then the fault: the whole dashboard in error, every row kept and stale."""
    await timed_refresh(r, KPI)
    good_at = r.monitor.snapshots[KPI].fetched_at
    assert good_at is not None
    await asyncio.sleep(0.05)
    result = start_fault()
    if asyncio.iscoroutine(result):
        await result
    since = r.clock.now()
    elapsed = await timed_refresh(r, KPI)
    snap = r.monitor.snapshots[KPI]
    assert snap.error is not None and snap.error.startswith("refresh failed")
    assert len(snap.rows) == 3 and snap.stale_rows == 3  # everything kept, all flagged
    assert snap.fetched_at == good_at
    instance_level = [f for f in snap.failures if f.workspace is None]
    assert instance_level and instance_level[0].label == label
    fresh = r.monitor.freshness(KPI)
    assert Overlay.ERROR in fresh.overlays and "error" in fresh.label
    assert fresh.age is not None and fresh.age > 0.05
    assert r.monitor.health().score <= 50
    calls = await logged_since(r, since)
    assert logged <= {c.error_type for c in calls if not c.success} <= logged | may_also_log
    breaker = r.monitor.breakers()[0]
    assert (breaker.consecutive_failures > 0 or breaker.state is not BreakerState.CLOSED) == (
        breaker_counts
    )
    return good_at, elapsed


async def test_connection_refused(tmp_path: Path) -> None:
    async with http_rig(tmp_path) as r:
        good_at, _ = await _instance_fault(
            r,
            lambda: r.faults.add_spec("down"),
            label="network",
            logged={"network"},
            breaker_counts=True,
        )
        assert r.monitor.unreachable  # said once, not per workspace
        snap = r.monitor.snapshots[KPI]
        assert [(f.workspace, f.request) for f in snap.failures] == [(None, "upstream unreachable")]
        await recover(r, KPI, good_at)


async def test_slow_connect_stalls_until_the_attempt_timeout(tmp_path: Path) -> None:
    front = Front()
    async with http_rig(tmp_path, QUICK, front=front) as r:
        assert front.door is not None
        door = front.door
        good_at, elapsed = await _instance_fault(
            r, door.stall, label="timeout", logged={"timeout"}, breaker_counts=True
        )
        assert elapsed >= QUICK.attempt  # it really waited for the connect
        assert r.monitor.unreachable
        door.unstall()
        await recover(r, KPI, good_at)


async def test_slow_connect_within_the_timeout_succeeds(tmp_path: Path) -> None:
    front = Front()
    async with http_rig(tmp_path, Timing(3.0, 9.0), front=front) as r:
        assert front.door is not None
        front.door.delay = 0.3
        since = r.clock.now()
        await timed_refresh(r, KPI)
        snap = r.monitor.snapshots[KPI]
        assert snap.failures == [] and snap.stale_rows == 0 and len(snap.rows) == 3
        calls = await logged_since(r, since)
        assert all(c.success for c in calls)
        assert max(c.response_time_ms for c in calls) >= 300  # the late accept was felt


async def test_5xx_storm_opens_the_breaker_which_fails_fast_then_probes(tmp_path: Path) -> None:
    async with http_rig(tmp_path, threshold=3) as r:
        good_at, _ = await _instance_fault(
            r,
            lambda: r.faults.add_spec("5xx=1:codes=500/502/503"),
            label="5xx 503",
            logged={"5xx", "breaker_open"},
            breaker_counts=True,
        )
        status = r.monitor.breakers()[0]
        assert status.state is BreakerState.OPEN and status.next_probe_at is not None
        requests = r.sim.counters.requests
        start = time.monotonic()
        await timed_refresh(r, KPI)  # while open: fails fast, the upstream is left alone
        # No attempt timeout waited (backoff: 0.2 s at most): failing fast is not waiting.
        assert time.monotonic() - start < ROOMY.attempt
        assert r.sim.counters.requests == requests
        labels = {f.label for f in r.monitor.snapshots[KPI].failures}
        assert labels == {"breaker_open"}
        await recover(r, KPI, good_at)


@pytest.mark.parametrize("retry_after", ["retry_after=0.4", "retry_after_date=1"])
async def test_429_storm_waits_never_trips_the_breaker(tmp_path: Path, retry_after: str) -> None:
    async with http_rig(tmp_path, QUICK, threshold=1) as r:
        start = time.monotonic()
        good_at, elapsed = await _instance_fault(
            r,
            lambda: r.faults.add_spec(f"429=1:{retry_after}"),
            label="rate_limited 429",
            logged={"rate_limited"},
            breaker_counts=False,
            # A retry the deadline cut short is logged as a timeout attempt.
            may_also_log=frozenset({"timeout"}),
        )
        assert elapsed >= 0.4  # it honoured Retry-After instead of hammering
        assert time.monotonic() - start < 2 * cycle_bound(r, KPI)
        assert r.monitor.breakers()[0].state is BreakerState.CLOSED  # threshold 1, still closed
        # Rate limiting is never reported as a timeout, even when the deadline ends it.
        for snap in r.monitor.snapshots.values():
            assert {f.error_type for f in snap.failures} == {"rate_limited"}
        await recover(r, KPI, good_at)


async def test_whole_instance_down_then_back(tmp_path: Path) -> None:
    async with http_rig(tmp_path, threshold=2, attempts=2) as r:
        assert r.server is not None
        server = r.server
        good_at, _ = await _instance_fault(
            r,
            lambda: r.faults.add_spec("down=reset"),
            label="network",
            logged={"network"},
            breaker_counts=True,
        )
        assert r.monitor.breakers()[0].state is BreakerState.OPEN
        # Still down, and now the socket is gone too: more refreshes neither crash nor hang.
        r.faults.clear()
        server.stop_listening()
        for _ in range(2):
            await timed_refresh(r, KPI)
            assert r.monitor.snapshots[KPI].stale_rows == 3
        kinds = {c.error_type for c in await r.store.recent_api_calls(limit=1000) if c.error_type}
        assert "breaker_open" in kinds
        server.resume_listening()
        await recover(r, KPI, good_at)
        transitions = [
            (s.state.value, s.opened_count) for s in r.monitor.breakers()
        ]  # opened at least once, closed now
        assert transitions[0][0] == "closed" and transitions[0][1] >= 1


# -- bodies the simulator cannot send: a wrapping transport (found while testing) -----------


class _Rewrite(httpx.AsyncBaseTransport):
    """Passes requests to the simulator, then swaps Acme's stats body for ``body``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, body: bytes, headers: dict[str, str]):
        self.inner, self.body, self.headers, self.active = inner, body, headers, True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        token = request.headers.get("authorization", "")
        if self.active and request.url.path.endswith("/stats") and "acme" in token:
            await response.aread()
            return httpx.Response(200, content=self.body, headers=self.headers)
        return response


@pytest.mark.parametrize(
    ("body", "headers", "label"),
    [
        (b"[" * 50_000, {}, "validation 200"),  # nesting past the recursion limit
        (b'{"data": {"emails_sent": ' + b"9" * 5_000 + b"}}", {}, "validation 200"),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, "network"),
    ],
    ids=["deeply nested JSON", "5000-digit integer", "broken gzip body"],
)
async def test_bodies_that_used_to_escape_classification(
    tmp_path: Path, body: bytes, headers: dict[str, str], label: str
) -> None:
    async with rig(tmp_path, threshold=1000) as r:
        await r.monitor.refresh([KPI])
        client = r.monitor.fetcher._instances["sim"].client
        rewrite = _Rewrite(r.sim.transport(), body, headers)
        client.transport = rewrite  # the same client, its transport wrapped
        await r.monitor.refresh([KPI], force=True)
        snap = r.monitor.snapshots[KPI]
        assert failures(snap, "Acme Corp") == [label]
        assert snap.row_meta[ACME].stale
        logged = {c.error_type for c in await r.store.recent_api_calls(failures_only=True)}
        assert logged == {label.split(" ")[0]}  # recorded, where it used to leave no row
        rewrite.active = False
        await r.monitor.refresh([KPI], force=True)
        assert r.monitor.snapshots[KPI].failures == []


# -- the whole-request deadline on virtual time (exact, no sleeping) ------------------------


async def test_an_attempt_cut_by_the_deadline_is_still_logged(tmp_path: Path) -> None:
    # attempt timeout 45 s, deadline 100 s: attempts at 0 s, 46 s and 93 s; the deadline
    # cuts the third. All three were made, so all three are api_health_logs rows.
    async with rig(
        tmp_path, faults="hang@2/stats", attempt_timeout=45, request_deadline=100, threshold=1000
    ) as r:
        outcome = await r.monitor.refresh([KPI])
        snap = r.monitor.snapshots[KPI]
        (failure,) = snap.failures
        assert (failure.label, failure.attempts) == ("timeout", 3)
        logged = await r.store.recent_api_calls(failures_only=True, limit=1000)
        mtd = [c for c in logged if c.workspace == "Acme Corp"]
        assert sorted(c.attempt for c in mtd) == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
        cut = [c for c in mtd if c.attempt == 3]
        assert all(c.error_type == "timeout" and "deadline" in (c.error_message or "") for c in cut)
        assert all(c.response_time_ms == pytest.approx(7000, abs=50) for c in cut)
        assert outcome is not None and outcome.requests_made == len(outcome.api_calls)


async def test_rate_limiting_cut_by_the_deadline_is_reported_as_rate_limiting(
    tmp_path: Path,
) -> None:
    # Each answer takes 20 s and is a 429 asking for 30 s: attempt 1 ends at 20 s, attempt 2
    # starts at 50 s and is cut by the 60 s deadline. The upstream said "rate limited", not
    # "slow": that is what the engineer must see.
    async with rig(
        tmp_path,
        faults="latency@2/stats=fixed:20,429@2/stats=1:retry_after=30",
        attempt_timeout=45,
        request_deadline=60,
        threshold=1000,
    ) as r:
        await r.monitor.refresh([KPI])
        (failure,) = r.monitor.snapshots[KPI].failures
        assert failure.label == "rate_limited 429" and failure.attempts == 2
        assert "Retry-After 30 s" in failure.message and "deadline of 60 s" in failure.message
        kinds = sorted(
            (c.attempt, c.error_type)
            for c in await r.store.recent_api_calls(failures_only=True, limit=100)
        )
        assert kinds == [(1, "rate_limited")] * 4 + [(2, "timeout")] * 4


async def test_a_restart_mid_incident_keeps_restored_rows_without_crashing(
    tmp_path: Path,
) -> None:
    # The console (or a cron check) starts, paints from the snapshots SQLite holds, and
    # the first refresh fails for one workspace: the restored row is kept. Restored
    # Infrastructure rows used to carry their mailboxes as plain dicts, and the first
    # kept one crashed the summary (every second `check --demo` exited 3).
    from portal_tui.engine.monitor import PortalMonitor

    async with rig(tmp_path, threshold=1000) as r:
        await r.monitor.refresh()
        restarted = PortalMonitor(
            r.monitor.config, secrets=r.monitor.fetcher._secrets, clock=r.clock, store=r.store
        )
        restarted.fetcher = r.monitor.fetcher  # the same simulator transport
        assert await restarted.restore() == 4
        r.faults.add_spec("revoked@2")
        await restarted.refresh(force=True)
        for board, snap in restarted.snapshots.items():
            assert failures(snap, "Acme Corp") == ["4xx 401"], board
            assert snap.row_meta[ACME].stale and ACME in {x.key for x in snap.rows}
        infra = next(x for x in restarted.snapshots[INFRA].rows if x.key == ACME)
        assert {m.address for m in infra.mailboxes} == {"a@acme.io", "b@acme.io", "c@acme.io"}  # type: ignore[attr-defined]
