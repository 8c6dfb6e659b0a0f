"""Every fault, as a client sees it, through BOTH transports (in-process and loopback HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from portal_tui.simulator import FaultSet, Simulator, generate_dataset, serve_simulator
from portal_tui.simulator.data import WorkspaceData
from portal_tui.upstream.models import SenderEmailPage, StatsResponse
from portal_tui.vocabulary.clock import FakeClock

MTD = {"start_date": "2026-11-01", "end_date": "2026-11-21"}
STATS = "workspaces/v1.1/stats"
DROPPED = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)


@dataclass
class Wire:
    """A simulator and a client talking to it over one kind of transport."""

    kind: str
    sim: Simulator
    clock: FakeClock
    client: httpx.AsyncClient
    origin: str

    @property
    def ws(self) -> list[WorkspaceData]:
        return self.sim.dataset.workspaces

    def fault(self, spec: str) -> None:
        self.sim.faults.add_spec(spec)

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        # params=None, not {}: httpx would drop the query of an absolute links.next URL.
        return await self.client.get(path, params=params or None, headers=headers)

    async def pages(self, token: str, per_page: int, limit: int = 20) -> list[dict[str, Any]]:
        """Follow ``links.next`` like a client would, stopping at a revisit or ``limit``."""
        out: list[dict[str, Any]] = []
        url: str | None = f"sender-emails?per_page={per_page}&page=1"
        seen: set[int] = set()
        while url is not None and len(out) < limit:
            page = (await self.get(url, token)).json()
            out.append(page)
            seen.add(page["meta"]["current_page"])
            url = page["links"]["next"]
            if url is not None and int(url.rsplit("page=", 1)[1]) in seen:
                break  # a loop
        return out


@pytest.fixture(params=["in-process", "http"])
async def wire(request: pytest.FixtureRequest) -> AsyncIterator[Wire]:
    clock = FakeClock()
    dataset = generate_dataset(4, seed=7, mailboxes_per_workspace=23)
    sim = Simulator(dataset, FaultSet(seed=7), clock)
    if request.param == "in-process":
        async with sim.client() as client:
            yield Wire("in-process", sim, clock, client, "http://simulator.local")
        return
    async with (
        serve_simulator(sim) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client,
    ):
        yield Wire("http", sim, clock, client, server.base_url.removesuffix("/api"))


async def test_pagination_links_are_absolute_on_the_clients_origin(wire: Wire) -> None:
    workspace = wire.ws[0]
    pages = await wire.pages(workspace.token, per_page=10)
    assert workspace.mailbox_count == 21  # three pages of ten
    assert [p["meta"]["current_page"] for p in pages] == [1, 2, 3]
    assert pages[0]["links"]["next"] == f"{wire.origin}/api/sender-emails?per_page=10&page=2"
    assert pages[-1]["links"]["next"] is None
    ids = [m.id for p in pages for m in SenderEmailPage.model_validate(p).data]
    assert ids == [m.id for m in workspace.mailboxes(0, workspace.mailbox_count)]


async def test_5xx_json_and_502_html(wire: Wire) -> None:
    one, two = wire.ws[0], wire.ws[1]
    wire.fault(f"5xx@{one.id}=codes=503, 5xx@{two.id}=codes=502")
    reply = await wire.get(STATS, one.token, **MTD)
    assert reply.status_code == 503 and reply.json() == {"message": "Service Unavailable"}
    gateway = await wire.get(STATS, two.token, **MTD)
    assert gateway.status_code == 502
    assert gateway.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in gateway.text
    assert (await wire.get(STATS, wire.ws[2].token, **MTD)).status_code == 200
    assert wire.sim.counters.faults["5xx"] == 2


async def test_429_with_each_retry_after_form(wire: Wire) -> None:
    a, b, c = wire.ws[0], wire.ws[1], wire.ws[2]
    wire.fault(
        f"429@{a.id}=retry_after=2, 429@{b.id}=retry_after_date=30, 429@{c.id}=retry_after=none"
    )
    delta = await wire.get(STATS, a.token, **MTD)
    assert delta.status_code == 429 and delta.headers["retry-after"] == "2"
    dated = await wire.get(STATS, b.token, **MTD)
    when = parsedate_to_datetime(dated.headers["retry-after"])
    assert abs((when - wire.clock.now()).total_seconds() - 30) <= 1
    bare = await wire.get(STATS, c.token, **MTD)
    assert bare.status_code == 429 and "retry-after" not in bare.headers


async def test_hang_outlasts_the_timeout_and_a_finite_hang_answers_late(wire: Wire) -> None:
    hung, slow = wire.ws[0], wire.ws[1]
    wire.fault(f"hang@{hung.id}, hang@{slow.id}=for=50")
    started = wire.clock.monotonic()
    with pytest.raises(TimeoutError):
        async with wire.clock.timeout(45):
            await wire.get(STATS, hung.token, **MTD)
    assert wire.clock.monotonic() - started == pytest.approx(45)
    started = wire.clock.monotonic()
    reply = await wire.get(STATS, slow.token, **MTD)
    assert reply.status_code == 200 and wire.clock.monotonic() - started >= 50
    for _ in range(1500):  # the server notices the client left and stops the hung request
        if wire.sim.counters.in_flight == 0:
            break
        await asyncio.sleep(0.02)
    assert wire.sim.counters.in_flight == 0


async def test_connection_reset_mid_body_and_before_any_byte(wire: Wire) -> None:
    mid, early = wire.ws[0], wire.ws[1]
    wire.fault(f"reset@{mid.id}, reset@{early.id}=at=0")
    with pytest.raises(DROPPED):
        await wire.get("sender-emails", mid.token)
    with pytest.raises(DROPPED):
        await wire.get("sender-emails", early.token)
    assert (await wire.get("sender-emails", wire.ws[2].token)).status_code == 200


async def test_malformed_and_truncated_bodies_come_with_200(wire: Wire) -> None:
    bad, cut, clean = wire.ws[0], wire.ws[1], wire.ws[2]
    expected = (await wire.get("sender-emails", cut.token)).content
    wire.fault(f"malformed@{bad.id}, truncate@{cut.id}=at=0.3")
    malformed = await wire.get("sender-emails", bad.token)
    assert malformed.status_code == 200 and malformed.content.startswith(b"<br />")
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    truncated = await wire.get("sender-emails", cut.token)
    assert truncated.status_code == 200
    assert expected.startswith(truncated.content) and len(truncated.content) < len(expected)
    with pytest.raises(json.JSONDecodeError):
        truncated.json()
    assert (await wire.get("sender-emails", clean.token)).json()["data"]


async def test_trickle_is_slow_on_the_clock_but_complete(wire: Wire) -> None:
    workspace = wire.ws[0]
    expected = (await wire.get("sender-emails", workspace.token)).content
    wire.fault(f"trickle@{workspace.id}/sender-emails=bps=1000:chunk=1024")
    started = wire.clock.monotonic()
    reply = await wire.get("sender-emails", workspace.token)
    assert reply.content == expected
    assert wire.clock.monotonic() - started >= len(expected) / 1000 - 1e-6


async def test_schema_drift_modes(wire: Wire) -> None:
    a, b, c, d = wire.ws
    clean_stats = (await wire.get(STATS, d.token, **MTD)).json()
    wire.fault(
        f"drift@{a.id}/stats=missing:interested, drift@{b.id}=wrong_type:emails_sent_count,"
        f"drift@{c.id}/stats=extra:brand_new_metric, drift@{d.id}=strings"
    )
    with pytest.raises(ValidationError, match="interested"):
        StatsResponse.model_validate((await wire.get(STATS, a.token, **MTD)).json())
    page = (await wire.get("sender-emails", b.token)).json()
    assert page["data"][0]["emails_sent_count"] == "n/a"
    with pytest.raises(ValidationError, match="emails_sent_count"):
        SenderEmailPage.model_validate(page)
    extra = StatsResponse.model_validate((await wire.get(STATS, c.token, **MTD)).json())
    assert extra.data.model_extra == {"brand_new_metric": "unexpected new field"}
    strings = (await wire.get(STATS, d.token, **MTD)).json()
    assert isinstance(strings["data"]["emails_sent"], str)
    assert StatsResponse.model_validate(strings) == StatsResponse.model_validate(clean_stats)


async def test_revoked_token_gives_401_for_that_workspace_only(wire: Wire) -> None:
    revoked, fine = wire.ws[1], wire.ws[0]
    wire.fault(f"revoked@{revoked.id}")
    reply = await wire.get(STATS, revoked.token, **MTD)
    assert reply.status_code == 401 and reply.json() == {"message": "Unauthenticated."}
    assert (await wire.get(STATS, fine.token, **MTD)).status_code == 200
    master = {"Authorization": f"Bearer {wire.sim.dataset.master_token}"}
    switch = await wire.client.post(
        "workspaces/v1.1/switch-workspace", json={"team_id": revoked.id}, headers=master
    )
    assert switch.status_code == 401


async def test_duplicate_sender_emails_across_workspaces(wire: Wire) -> None:
    a, b, c, d = wire.ws
    wire.fault(f"dup@{a.id}=2, dup@{c.id}=1:from={a.id}")
    first_a, first_b, first_c, first_d = [
        (await wire.get("sender-emails", w.token)).json()["data"] for w in (a, b, c, d)
    ]
    # a's first two addresses are its neighbour b's; c's first is a's own (unserved) first.
    assert [m["email"] for m in first_a[:2]] == [m["email"] for m in first_b[:2]]
    assert first_a[2]["email"] != first_b[2]["email"]
    assert first_c[0]["email"] == a.mailboxes(0, 1)[0].email != first_a[0]["email"]
    emails = [m["email"] for m in first_a + first_b + first_c + first_d]
    assert len(emails) - len(set(emails)) == 2
    second_page = await wire.get("sender-emails", a.token, page=2)
    assert second_page.json()["data"][0]["email"] == a.mailboxes(15, 16)[0].email


async def test_empty_data(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault(f"empty@{workspace.id}")
    page = (await wire.get("sender-emails", workspace.token)).json()
    assert page["data"] == [] and page["meta"]["total"] == 0 and page["links"]["next"] is None
    schedules = await wire.get("campaigns/sending-schedules", workspace.token)
    assert schedules.json() == {"data": []}
    stats = (await wire.get(STATS, workspace.token, **MTD)).json()
    assert stats == {"data": []}
    with pytest.raises(ValidationError):
        StatsResponse.model_validate(stats)


async def test_pagination_that_loops(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault(f"loop@{workspace.id}")
    pages = await wire.pages(workspace.token, per_page=10)
    assert len(pages) == 3  # a fourth would revisit page 1
    assert pages[-1]["links"]["next"] == pages[0]["links"]["first"]
    assert pages[-1]["meta"]["current_page"] == pages[-1]["meta"]["last_page"]


async def test_pagination_that_ends_early(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault(f"early_end@{workspace.id}=20")
    pages = await wire.pages(workspace.token, per_page=10)
    delivered = sum(len(p["data"]) for p in pages)
    assert delivered == workspace.mailbox_count == 21
    assert pages[-1]["links"]["next"] is None
    assert pages[-1]["meta"]["total"] == 41 and pages[-1]["meta"]["last_page"] == 5
    beyond = (await wire.get("sender-emails", workspace.token, per_page=10, page=4)).json()
    assert beyond["data"] == []


async def test_fail_first_k_then_succeed(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault(f"fail_first@{workspace.id}=2")
    codes = [(await wire.get(STATS, workspace.token, **MTD)).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]


async def test_fault_scoped_to_an_endpoint(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault("5xx@sender-emails=codes=500")
    assert (await wire.get(STATS, workspace.token, **MTD)).status_code == 200
    assert (await wire.get("sender-emails", workspace.token)).status_code == 500


async def test_faults_change_mid_run_and_clear_for_recovery(wire: Wire) -> None:
    workspace = wire.ws[0]
    assert (await wire.get(STATS, workspace.token, **MTD)).status_code == 200
    added = wire.sim.faults.add_spec(f"5xx@{workspace.id}=codes=500")
    assert (await wire.get(STATS, workspace.token, **MTD)).status_code == 500
    wire.sim.faults.remove(*added)
    assert (await wire.get(STATS, workspace.token, **MTD)).status_code == 200


@pytest.mark.parametrize(
    ("mode", "errors"), [("refuse", (httpx.ConnectError,)), ("reset", DROPPED)]
)
async def test_instance_down_then_back(
    wire: Wire, mode: str, errors: tuple[type[Exception], ...]
) -> None:
    token = wire.ws[0].token
    assert (await wire.get(STATS, token, **MTD)).status_code == 200  # a pooled connection exists
    wire.fault(f"down={mode}")
    for _ in range(2):
        with pytest.raises(errors):
            await wire.get(STATS, token, **MTD)
    wire.sim.faults.clear()
    assert (await wire.get(STATS, token, **MTD)).status_code == 200
    assert (await wire.get("sender-emails", token)).status_code == 200


async def test_rate_limited_fraction_is_deterministic(wire: Wire) -> None:
    workspace = wire.ws[0]
    wire.fault(f"429@{workspace.id}=0.5:retry_after=1")
    codes = [(await wire.get(STATS, workspace.token, **MTD)).status_code for _ in range(12)]
    assert set(codes) == {200, 429}
    again = Simulator(generate_dataset(4, seed=7, mailboxes_per_workspace=23), clock=FakeClock())
    again.faults = FaultSet.parse(f"429@{workspace.id}=0.5:retry_after=1", seed=7)
    async with again.client() as client:
        headers = {"Authorization": f"Bearer {workspace.token}"}
        replay = [
            (await client.get(STATS, params=MTD, headers=headers)).status_code for _ in range(12)
        ]
    assert replay == codes
    assert wire.clock.now() - FakeClock().now() < timedelta(minutes=5)
