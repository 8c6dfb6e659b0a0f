"""Shared rigs for end-to-end tests: the real monitor, store and simulator.

``Rig`` wires a :class:`PortalMonitor` to a :class:`Simulator`, either
in-process (httpx transport, virtual time) or over real loopback HTTP
(:func:`serve_simulator`, real time with short timeouts), with a real SQLite
file. Nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from portal_tui.config import (
    BreakerConfig,
    ClientEntry,
    Config,
    InstanceConfig,
    RetryConfig,
    Secrets,
)
from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.monitor import HysteresisPolicy, PortalMonitor
from portal_tui.simulator import (
    Dataset,
    DayStats,
    FaultSet,
    LatencyModel,
    SimMailbox,
    SimSchedule,
    Simulator,
    SimWorkspace,
    serve_simulator,
)
from portal_tui.simulator.server import SimulatorServer
from portal_tui.store import schema
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import Clock, FakeClock, SystemClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MASTER = "sim-master-token-0123456789"
STATS_PAYLOAD = {
    "emails_sent": 100,
    "total_leads_contacted": 50,
    "opened": 10,
    "opened_percentage": 10.0,
    "unique_opens_per_contact": 5,
    "unique_opens_per_contact_percentage": 10.0,
    "unique_replies_per_contact": 4,
    "unique_replies_per_contact_percentage": 8.0,
    "bounced": 1,
    "bounced_percentage": 1.0,
    "unsubscribed": 0,
    "unsubscribed_percentage": 0.0,
    "interested": 3,
    "interested_percentage": 3.0,
}
"""A valid ``data`` object of the stats endpoint, for tests that need one reply."""


def file_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A new database file as portal-tui at schema ``version`` left it (raw connection)."""
    raw = sqlite3.connect(path, isolation_level=None)
    for migration in schema.MIGRATIONS[:version]:
        for statement in migration.statements:
            raw.execute(statement)
    raw.execute(f"PRAGMA user_version = {version}")
    return raw


def hand_dataset() -> Dataset:
    """Three workspaces whose every number is chosen by hand (see test_end_to_end)."""
    acme = SimWorkspace(
        2,
        "Acme Corp",
        daily={
            date(2026, 11, 3): DayStats(
                emails_sent=1000, total_leads_contacted=400, interested=6, bounced=30
            ),
            date(2026, 11, 18): DayStats(emails_sent=500, total_leads_contacted=200, interested=4),
            date(2026, 10, 25): DayStats(
                emails_sent=800, total_leads_contacted=300, interested=5, bounced=8
            ),
            date(2026, 10, 5): DayStats(emails_sent=300, total_leads_contacted=100, interested=2),
        },
        schedules={
            "today": [
                SimSchedule(1, "Q4 push", daily_limit=150, emails_being_sent=120),
                SimSchedule(2, "Nurture", daily_limit=100, emails_being_sent=80),
            ],
            "tomorrow": [SimSchedule(1, "Q4 push", daily_limit=150, emails_being_sent=150)],
        },
        mailboxes=[
            SimMailbox(
                11,
                "a@acme.io",
                tags=["CheapInboxes"],
                daily_limit=30,
                emails_sent_count=100,
                total_replied_count=6,
                unique_replied_count=5,
                bounced_count=2,
            ),
            SimMailbox(
                12,
                "b@acme.io",
                status="Not connected",
                tags=["Zapmail"],
                daily_limit=40,
                emails_sent_count=60,
            ),
            SimMailbox(
                13,
                "c@acme.io",
                tags=["Mailr"],
                daily_limit=20,
                emails_sent_count=10,
                total_replied_count=1,
                unique_replied_count=1,
            ),
        ],
        token="acme-api-user-token-0001",
    )
    globex = SimWorkspace(
        3,
        "Globex",
        daily={
            date(2026, 11, 10): DayStats(emails_sent=2000, total_leads_contacted=900, interested=25)
        },
        mailboxes=[SimMailbox(21, "x@globex.io", tags=["Zapmail"], emails_sent_count=5)],
        token="globex-api-user-token-02",
    )
    initech = SimWorkspace(
        4,
        "Initech",
        daily={
            date(2026, 11, 20): DayStats(emails_sent=40, total_leads_contacted=40, interested=1)
        },
        mailboxes=[SimMailbox(31, "y@initech.io", tags=["Mailr"], emails_sent_count=1)],
        token="initech-api-user-token-3",
    )
    return Dataset([acme, globex, initech], master_token=MASTER)


def registry(dataset: Dataset, *, api_user: bool) -> list[ClientEntry]:
    """Registry entries: Acme and Globex with targets; Initech left unregistered."""
    entries = [
        ClientEntry(
            name="Acme Corp",
            monthly_kpi=30,
            monthly_sending_target=6000,
            billing_type="per_lead",
            price_per_lead=100.0,
            monthly_costs=200.0,
            api_key_env="ACME_TOKEN" if api_user else None,
        ),
        ClientEntry(
            name="globex",
            id=3,
            monthly_kpi=20,
            monthly_sending_target=3000,
            billing_type="retainer",
            retainer_amount=4000.0,
            monthly_costs=100.0,
            api_key_env="GLOBEX_TOKEN" if api_user else None,
        ),
    ]
    return entries


def token_env(dataset: Dataset) -> dict[str, str]:
    """Environment-like mapping of the fake tokens."""
    tokens = dataset.tokens()
    return {"SIM_MASTER": MASTER, "ACME_TOKEN": tokens[2], "GLOBEX_TOKEN": tokens[3]}


class PinnedClock(SystemClock):
    """Real sleeps and timeouts, but wall time starts at :data:`NOW` (hand data's dates)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def now(self) -> datetime:
        return NOW + timedelta(seconds=time.monotonic() - self._start)


class Rig:
    """A monitor wired to a simulator and a SQLite file."""

    def __init__(
        self, monitor: PortalMonitor, simulator: Simulator, store: Store, clock: Clock
    ) -> None:
        self.monitor = monitor
        self.sim = simulator
        self.store = store
        self.clock = clock
        self.server: SimulatorServer | None = None
        """The loopback HTTP server (``http=True`` rigs only)."""

    @property
    def faults(self) -> FaultSet:
        return self.sim.faults


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    http: bool = False,
    dataset: Dataset | None = None,
    clients: Sequence[ClientEntry] | None = None,
    api_user: bool = True,
    faults: str = "",
    concurrency: int = 5,
    per_page: int = 2,
    attempts: int = 4,
    threshold: int = 5,
    latency: LatencyModel | None = None,
    hysteresis: HysteresisPolicy | None = None,
    attempt_timeout: float | None = None,
    request_deadline: float | None = None,
    reset_timeout: float | None = None,
    front: Callable[[str], AbstractAsyncContextManager[str]] | None = None,
    alerts: Sequence[AlertTarget] = (),
) -> AsyncIterator[Rig]:
    """Open a rig; in-process on a FakeClock at :data:`NOW`, or over loopback HTTP.

    ``attempt_timeout``, ``request_deadline`` and ``reset_timeout`` override the
    defaults (1 s / 4 s / 0.5 s over HTTP). ``front`` (HTTP only) wraps the
    simulator's base URL, e.g. in a delaying proxy, and yields the URL to use.
    """
    data = dataset or hand_dataset()
    clock: Clock = PinnedClock() if http else FakeClock(NOW)
    sim_clock: Clock = clock
    sim = Simulator(
        data,
        FaultSet.parse(faults, seed=3),
        sim_clock,
        max_per_page=100,
        latency=latency or LatencyModel.fixed(0.01),
    )
    fast = http  # real time: keep every wait short
    retry = RetryConfig(
        attempts=attempts,
        jitter=0.0,
        backoff_initial=0.05 if fast else 1.0,
        backoff_max=0.2 if fast else 10.0,
        retry_after_cap=2.0 if fast else 60.0,
    )
    breaker = BreakerConfig(
        failure_threshold=threshold,
        reset_timeout=reset_timeout or (0.5 if fast else 30.0),
    )

    async def build(base_url: str, transports: dict[str, object] | None) -> Rig:
        config = Config(
            instances=[
                InstanceConfig(
                    name="sim",
                    base_url=base_url,
                    master_token_env="SIM_MASTER",
                    concurrency=concurrency,
                    sender_emails_per_page=per_page,
                    attempt_timeout=attempt_timeout or (1.0 if fast else 45.0),
                    request_deadline=request_deadline or (4.0 if fast else 120.0),
                )
            ],
            clients=list(clients if clients is not None else registry(data, api_user=api_user)),
            retry=retry,
            breaker=breaker,
            alerts=list(alerts),
        )
        store = await Store.open(tmp_path / "records.sqlite3", clock=clock)
        monitor = PortalMonitor(
            config,
            secrets=Secrets(token_env(data)),
            clock=clock,
            store=store,
            transports=transports,
            hysteresis=hysteresis,
        )  # type: ignore[arg-type]
        return Rig(monitor, sim, store, clock)

    if http:
        async with AsyncExitStack() as stack:
            server = await stack.enter_async_context(serve_simulator(sim, port=0))
            base_url = server.base_url
            if front is not None:
                base_url = await stack.enter_async_context(front(base_url))
            built = await build(base_url, None)
            built.server = server
            try:
                yield built
            finally:
                await built.monitor.aclose()
                await built.store.close()
    else:
        built = await build("http://simulator.local/api", {"sim": sim.transport()})
        try:
            yield built
        finally:
            await built.monitor.aclose()
            await built.store.close()


@contextmanager
def simulator_in_thread(dataset: Dataset, faults: str = "") -> Iterator[tuple[str, Simulator]]:
    """``dataset`` served over loopback HTTP from a thread (so the CLI can run in the test's
    own thread); yields the base URL and the simulator."""
    sim = Simulator(
        dataset,
        FaultSet.parse(faults, seed=3),
        PinnedClock(),
        max_per_page=100,
        latency=LatencyModel.fixed(0.001),
    )
    ready = threading.Event()
    base: list[str] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with serve_simulator(sim, port=0) as server:
            base.append(server.base_url)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "simulator did not start"
    try:
        yield base[0], sim
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextmanager
def silent_far_host() -> Iterator[str]:
    """``http://<this machine's own non-loopback address>:<port>/api``: a listener
    that takes the connection and never answers, so a probe times out.

    Not an unroutable address such as 10.255.255.1: a sandbox or a corporate
    network may answer those (one here answered HTTP 404 now and then), and the
    test then saw a reachable upstream. Skips where the machine has no address
    but loopback (the "non-loopback host" warnings need one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the route only
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127.") or address == "0.0.0.0":
        pytest.skip("this machine has no address but loopback")
    with socket.create_server((address, 0), backlog=16) as listener:
        yield f"http://{address}:{listener.getsockname()[1]}/api"
