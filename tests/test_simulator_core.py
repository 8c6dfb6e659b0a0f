"""The simulator's endpoints, auth, master-token state and counters (in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from portal_tui.simulator import (
    Dataset,
    DayStats,
    FaultSet,
    LatencyModel,
    SimMailbox,
    SimSchedule,
    Simulator,
    SimWorkspace,
    generate_dataset,
)
from portal_tui.upstream.models import (
    SchedulesResponse,
    SenderEmailPage,
    StatsResponse,
    WorkspacesResponse,
)
from portal_tui.vocabulary.clock import FakeClock

MTD = {"start_date": "2026-11-01", "end_date": "2026-11-21"}
STATS = "workspaces/v1.1/stats"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    return Simulator(generate_dataset(6, seed=3, mailboxes_per_workspace=30), clock=clock)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with sim.client() as http:
        yield http


async def switch(client: httpx.AsyncClient, token: str, team: int) -> httpx.Response:
    return await client.post(
        "workspaces/v1.1/switch-workspace", json={"team_id": team}, headers=bearer(token)
    )


async def test_every_endpoint_validates_against_the_models(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    master = sim.dataset.master_token
    listed = await client.get("workspaces/v1.1", headers=bearer(master))
    assert listed.status_code == 200
    assert len(WorkspacesResponse.model_validate(listed.json()).data) == 6
    for workspace in sim.dataset.workspaces:
        headers = bearer(workspace.token)
        stats = await client.get("workspaces/v1.1/stats", params=MTD, headers=headers)
        StatsResponse.model_validate(stats.json())
        for day in ("today", "tomorrow"):
            schedules = await client.get(
                "campaigns/sending-schedules", params={"day": day}, headers=headers
            )
            SchedulesResponse.model_validate(schedules.json())
        page = await client.get("sender-emails", params={"per_page": 15}, headers=headers)
        assert page.headers["content-type"] == "application/json"
        SenderEmailPage.model_validate(page.json())


async def test_stats_equal_hand_summed_days(sim: Simulator, client: httpx.AsyncClient) -> None:
    workspace = sim.dataset.workspaces[0]
    now = sim.clock.now()
    days = [workspace.day_stats(date(2026, 11, d), now) for d in range(1, 22)]
    reply = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(workspace.token))
    data = reply.json()["data"]
    assert data["emails_sent"] == sum(d.emails_sent for d in days)
    assert data["interested"] == sum(d.interested for d in days)
    assert data == sim.stats_payload(workspace.id, "2026-11-01", "2026-11-21")


async def test_hand_built_dataset_serves_exact_numbers(clock: FakeClock) -> None:
    acme = SimWorkspace(
        10,
        "Acme",
        daily={
            date(2026, 11, 1): DayStats(emails_sent=200, total_leads_contacted=100, interested=4),
            date(2026, 11, 20): DayStats(emails_sent=300, total_leads_contacted=100, interested=1),
            date(2026, 10, 31): DayStats(emails_sent=999),
        },
        schedules={"today": [SimSchedule(1, "A", emails_being_sent=70, daily_limit=100)]},
        mailboxes=[SimMailbox(i, f"box{i}@acme.com") for i in range(1, 4)],
    )
    sim = Simulator(Dataset([acme], master_token="m"), clock=clock)
    async with sim.client() as client:
        stats = (
            await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(acme.token))
        ).json()
        assert stats["data"]["emails_sent"] == 500 and stats["data"]["interested"] == 5
        assert stats["data"]["interested_percentage"] == 2.5  # of 200 leads contacted
        schedules = await client.get("campaigns/sending-schedules", headers=bearer("m"))
        assert schedules.json()["data"][0]["emails_being_sent"] == 70
        tomorrow = await client.get(
            "campaigns/sending-schedules", params={"day": "tomorrow"}, headers=bearer("m")
        )
        assert tomorrow.json()["data"] == []


async def test_pagination_with_clamped_per_page_and_absolute_links(clock: FakeClock) -> None:
    sim = Simulator(
        generate_dataset(2, seed=1, mailboxes_per_workspace=40), clock=clock, max_per_page=15
    )
    workspace = sim.dataset.workspaces[0]
    seen: list[int] = []
    async with sim.client() as client:
        url: str | None = "sender-emails?per_page=100"
        pages = 0
        while url is not None:
            reply = await client.get(url, headers=bearer(workspace.token))
            page = SenderEmailPage.model_validate(reply.json())
            assert page.meta.per_page == 15 and page.meta.total == workspace.mailbox_count
            seen += [m.id for m in page.data]
            url = page.links.next
            assert url is None or url.startswith("http://simulator.local/api/sender-emails?")
            pages += 1
        assert pages == page.meta.last_page == -(-workspace.mailbox_count // 15)
        beyond = await client.get(
            "sender-emails", params={"page": 99}, headers=bearer(workspace.token)
        )
        assert beyond.json()["data"] == [] and beyond.json()["links"]["next"] is None
    assert seen == [m.id for m in workspace.mailboxes(0, workspace.mailbox_count)]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", STATS, {"start_date": "2026-11-01"}, None, 422),
        ("GET", STATS, {"start_date": "1/11/2026", "end_date": "2026-11-21"}, None, 422),
        ("GET", STATS, {"start_date": "2026-02-30", "end_date": "2026-03-01"}, None, 422),
        ("GET", STATS, {"start_date": "2026-11-21", "end_date": "2026-11-01"}, None, 422),
        ("GET", "campaigns/sending-schedules", {"day": "yesterday"}, None, 422),
        ("GET", "sender-emails", {"per_page": "lots"}, None, 422),
        ("POST", "workspaces/v1.1/switch-workspace", {}, {"team_id": "x"}, 422),
        ("POST", "workspaces/v1.1/switch-workspace", {}, {}, 422),
        ("POST", "workspaces/v1.1/switch-workspace", {}, {"team_id": 999_999}, 422),
        ("GET", "nowhere", {}, None, 404),
        ("DELETE", "sender-emails", {}, None, 405),
        ("GET", "workspaces/v1.1/switch-workspace", {}, None, 405),
    ],
)
async def test_bad_requests_get_laravel_style_errors(
    sim: Simulator,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
    status: int,
) -> None:
    reply = await client.request(
        method, path, params=params, json=body, headers=bearer(sim.dataset.master_token)
    )
    assert reply.status_code == status
    assert "message" in reply.json()
    if status == 422:
        assert reply.json()["errors"]


async def test_auth_rules(sim: Simulator, client: httpx.AsyncClient) -> None:
    api_user = sim.dataset.workspaces[1].token
    assert (await client.get("sender-emails")).status_code == 401
    assert (await client.get("sender-emails", headers=bearer("wrong"))).status_code == 401
    basic = await client.get("sender-emails", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and basic.json() == {"message": "Unauthenticated."}
    assert (await client.get("workspaces/v1.1", headers=bearer(api_user))).status_code == 403
    assert (await switch(client, api_user, sim.dataset.workspaces[0].id)).status_code == 403
    assert sim.counters.by_token["none"] == 2 and sim.counters.by_token["unknown"] == 1


async def test_master_switch_is_server_side_state(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    master = sim.dataset.master_token
    first, third = sim.dataset.workspaces[0], sim.dataset.workspaces[2]
    assert sim.current_workspace(master) == first.id  # a master token starts somewhere
    before = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(master))
    assert before.json()["data"] == sim.stats_payload(first.id, *MTD.values())
    reply = await switch(client, master, third.id)
    assert reply.status_code == 200 and reply.json()["data"]["id"] == third.id
    assert sim.current_workspace(master) == third.id
    after = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(master))
    assert after.json()["data"] == sim.stats_payload(third.id, *MTD.values())
    # An api-user token keeps reading its own workspace whatever the master did.
    own = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(first.token))
    assert own.json()["data"] == sim.stats_payload(first.id, *MTD.values())
    assert sim.current_workspace(first.token) is None
    assert await switch(client, master, str(first.id)) is not None  # numeric string accepted
    assert sim.current_workspace(master) == first.id and sim.counters.switches == 2


async def _switch_then_fetch(
    client: httpx.AsyncClient, master: str, team: int, lock: asyncio.Lock | None
) -> tuple[int, dict[str, Any]]:
    async def pair() -> dict[str, Any]:
        assert (await switch(client, master, team)).status_code == 200
        reply = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(master))
        data: dict[str, Any] = reply.json()["data"]
        return data

    if lock is None:
        return team, await pair()
    async with lock:
        return team, await pair()


@pytest.mark.parametrize("latency", [LatencyModel.fixed(0.05), LatencyModel.lognormal(0.05, 0.8)])
async def test_unlocked_concurrent_switches_mix_workspaces_and_a_lock_fixes_it(
    clock: FakeClock, latency: LatencyModel
) -> None:
    sim = Simulator(generate_dataset(6, seed=3), clock=clock, latency=latency)
    master = sim.dataset.master_token
    every = {w.id: sim.stats_payload(w.id, *MTD.values()) for w in sim.dataset.workspaces}
    expected = {t: data for t, data in every.items() if data["emails_sent"] > 0}
    teams = list(expected)
    assert len({str(v) for v in expected.values()}) == len(teams)
    async with sim.client() as client:
        unlocked = await asyncio.gather(
            *(_switch_then_fetch(client, master, t, None) for t in teams)
        )
        mixed = [team for team, data in unlocked if data != expected[team]]
        assert mixed, "concurrent switch+fetch on one master token must mix workspaces"
        lock = asyncio.Lock()
        locked = await asyncio.gather(*(_switch_then_fetch(client, master, t, lock) for t in teams))
        assert all(data == expected[team] for team, data in locked)


async def test_counters_and_latency_on_the_clock(clock: FakeClock) -> None:
    sim = Simulator(generate_dataset(4, seed=2), clock=clock, latency=LatencyModel.fixed(1.0))
    tokens = [w.token for w in sim.dataset.workspaces]
    gate = asyncio.Semaphore(2)

    async def call(token: str) -> int:
        async with gate:
            reply = await client.get("workspaces/v1.1/stats", params=MTD, headers=bearer(token))
            return reply.status_code

    async with sim.client() as client:
        started = clock.monotonic()
        codes = await asyncio.gather(*(call(t) for t in tokens * 2))
        elapsed = clock.monotonic() - started
    assert codes == [200] * 8
    counters = sim.counters
    assert counters.latencies == [1.0] * 8 and counters.max_in_flight == 2
    assert counters.in_flight == 0
    assert elapsed == pytest.approx(counters.lower_bound(2)) == pytest.approx(4.0)
    assert counters.by_endpoint["stats"] == 8 and counters.by_status[200] == 8
    assert set(counters.by_workspace.values()) == {2}
    assert counters.by_token[f"api-user:{sim.dataset.workspaces[0].id}"] == 2
    text = repr(counters)
    assert not any(token in text for token in [*tokens, sim.dataset.master_token])
    assert len(counters.log) == 8 and counters.log[0].endpoint == "stats"
    counters.reset()
    assert counters.requests == 0 and counters.latencies == []


async def test_seeded_latency_is_reproducible(clock: FakeClock) -> None:
    async def latencies() -> list[float]:
        faults = FaultSet.parse("latency=lognormal:0.2:0.7", seed=9)
        sim = Simulator(generate_dataset(3, seed=9), faults, FakeClock())
        async with sim.client() as client:
            for workspace in sim.dataset.workspaces:
                for _ in range(3):
                    await client.get("sender-emails", headers=bearer(workspace.token))
        return sim.counters.latencies

    first, second = await latencies(), await latencies()
    assert first == second and len(set(first)) > 5


async def test_today_comes_from_the_clock(clock: FakeClock) -> None:
    sim = Simulator(generate_dataset(3, seed=4), clock=clock)
    workspace = sim.dataset.workspaces[0]
    async with sim.client() as client:
        tomorrow = await client.get(
            "campaigns/sending-schedules",
            params={"day": "tomorrow"},
            headers=bearer(workspace.token),
        )
        clock.advance(timedelta(days=1).total_seconds())
        today = await client.get("campaigns/sending-schedules", headers=bearer(workspace.token))
    assert tomorrow.json() == today.json()
