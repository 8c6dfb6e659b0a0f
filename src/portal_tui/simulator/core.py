"""The transport-independent simulator: auth, master-token state, faults, counters.

:meth:`Simulator.handle` takes a :class:`SimRequest` and returns a
:class:`SimResponse` that says what to put on the wire *and how* (send it,
refuse the connection, drop it part-way, trickle it). The in-process httpx
transport and the loopback HTTP server both map that onto real client-visible
behaviour, so a fault looks the same through either.

Order of play for one request: instance down → route (404/405) → latency
(slept on the clock) → hang → auth (401) → revoked (401) → 429 → 5xx →
permission (403) → the endpoint (422 on bad input) → data faults (empty,
duplicates, loop, early end, drift; data_faults) → wire faults (malformed,
truncated, reset, trickle). The master token's current workspace is read *after*
the latency, and a switch takes effect after its own latency, which is exactly
why unlocked concurrent switch+fetch pairs on one master token mix workspaces.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from portal_tui.simulator import endpoints
from portal_tui.simulator.data import Dataset, WorkspaceData
from portal_tui.simulator.endpoints import API_PREFIX, PageFaults, Reply
from portal_tui.simulator.exchange import (
    DEMO_ORIGIN,
    Delivery,
    RequestRecord,
    SimCounters,
    SimRequest,
    SimResponse,
)
from portal_tui.simulator.faults import (
    CounterDecrease,
    DuplicateEmails,
    EarlyEnd,
    EchoToken,
    EmptyData,
    Fault,
    FaultSet,
    Hang,
    LatencyModel,
    MalformedAddress,
    PaginationLoop,
    PercentSkew,
    RateLimited,
    RevokedToken,
    SchemaDrift,
    ServerError,
    VanishingWorkspaces,
)
from portal_tui.simulator.token_echo import echoed
from portal_tui.simulator.wire_faults import apply_wire_faults
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.vocabulary.clock import Clock, SystemClock

F = TypeVar("F", bound=Fault)

__all__ = [
    "DEFAULT_LATENCY",
    "DEMO_ORIGIN",
    "Delivery",
    "RequestRecord",
    "SimCounters",
    "SimRequest",
    "SimResponse",
    "Simulator",
]

DEFAULT_LATENCY = LatencyModel.fixed(0.01)
"""Every request takes 10 ms of clock time unless a latency fault says otherwise."""

_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class Simulator:
    """A simulated Email Bison instance.

    ``max_per_page`` is the largest ``per_page`` honoured (100 on most hosts,
    15 on one); larger requests are clamped. ``latency`` applies when no
    latency fault matches. Latency and hangs sleep on ``clock``, and today's
    date comes from ``clock.now()``.
    """

    def __init__(
        self,
        dataset: Dataset,
        faults: FaultSet | None = None,
        clock: Clock | None = None,
        *,
        max_per_page: int = 100,
        latency: LatencyModel | None = DEFAULT_LATENCY,
    ) -> None:
        if max_per_page < 1:
            raise ValueError("max_per_page must be >= 1")
        self.dataset = dataset
        self.faults = faults if faults is not None else FaultSet(seed=dataset.seed)
        self.clock: Clock = clock or SystemClock()
        self.max_per_page = max_per_page
        self.latency = latency
        self.counters = SimCounters()
        first = dataset.workspaces[0].id if dataset.workspaces else None
        self._initial_workspace = first
        self._current: dict[str, int | None] = {}
        self._draws: Counter[str] = Counter()

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process httpx transport (no sockets) serving this simulator."""
        from portal_tui.simulator.transport import SimulatorTransport

        return SimulatorTransport(self)

    def client(self, base_url: str = DEMO_ORIGIN + API_PREFIX, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on :meth:`transport` (tests and tools)."""
        return httpx.AsyncClient(transport=self.transport(), base_url=base_url, **kwargs)

    def current_workspace(self, token: str) -> int | None:
        """The master token's current workspace (server-side state), if ``token`` is master."""
        if not self.dataset.is_master(token):
            return None
        return self._current.get(token, self._initial_workspace)

    def stats_payload(self, workspace_id: int, start: str, end: str) -> dict[str, Any]:
        """What the stats endpoint returns now for a workspace, without faults (expected values)."""
        query = {"start_date": start, "end_date": end}
        reply = endpoints.stats(self.dataset.workspace(workspace_id), query, self.clock.now())
        if reply.status != 200:
            raise ValueError(reply.payload["message"])
        data: dict[str, Any] = reply.payload["data"]
        return data

    async def handle(self, request: SimRequest) -> SimResponse:
        """Serve one request, faults included."""
        counters = self.counters
        counters.requests += 1
        down = self.faults.down()
        if down is not None:
            counters.refused += 1
            counters.faults[down.kind] += 1
            delivery = Delivery.REFUSE if down.mode == "refuse" else Delivery.RESET
            return SimResponse(0, delivery=delivery)

        token = _bearer(request.headers)
        label = "none" if token is None else self.dataset.token_label(token)
        counters.by_token[label] += 1
        found = endpoints.route(request.method, request.path)
        endpoint = found if isinstance(found, Endpoint) else None
        if endpoint is not None:
            counters.by_endpoint[endpoint.value] += 1
        scope_workspace = self._scope_workspace(token, endpoint, request)
        key = f"{endpoint}|{scope_workspace}|{sorted(request.query.items())}"

        counters.in_flight += 1
        counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
        fired: str | None = None
        served: int | None = None
        latency = 0.0
        try:
            latency = self._draw_latency(scope_workspace, endpoint, key)
            await self.clock.sleep(latency)
            counters.latencies.append(latency)
            hang = self.faults.fire(Hang, scope_workspace, endpoint, key)
            if hang is not None:
                counters.faults[hang.kind] += 1
                await self._hang(hang.seconds)
            if isinstance(found, Reply):
                reply = found
            else:
                reply, served, fired = self._respond(request, found, token, scope_workspace, key)
        finally:
            counters.in_flight -= 1

        if served is not None:
            counters.by_workspace[served] += 1
        echo = None
        if token is not None and endpoint is not None:
            echo = self._noted(self.faults.fire(EchoToken, scope_workspace, endpoint, key))
        if echo is not None and token is not None:
            reply = echoed(reply, token, echo.places)
        response = self._encode(reply)
        if echo is not None and token is not None and "error" in echo.places:
            response.reason = f"Token {token} Rejected"
        fired = apply_wire_faults(self.faults, response, scope_workspace, endpoint, key) or fired
        if fired is not None:
            counters.faults[fired] += 1
        counters.by_status[response.status] += 1
        counters.log.append(
            RequestRecord(
                self.clock.monotonic(),
                endpoint.value if endpoint else request.path,
                served,
                label,
                response.status,
                latency,
                fired,
            )
        )
        return response

    def _scope_workspace(
        self, token: str | None, endpoint: Endpoint | None, request: SimRequest
    ) -> int | None:
        """The workspace a request is about when it arrives (faults are scoped by it)."""
        if token is None or endpoint is None or endpoint is Endpoint.LIST_WORKSPACES:
            return None
        if endpoint is Endpoint.SWITCH_WORKSPACE:
            team = endpoints.parse_team_id(_json_body(request.body))
            return team if isinstance(team, int) else None
        owner = self.dataset.by_token(token)
        return owner.id if owner is not None else self.current_workspace(token)

    def _draw_latency(self, workspace_id: int | None, endpoint: Endpoint | None, key: str) -> float:
        model = self.faults.latency(workspace_id, endpoint) or self.latency
        if model is None:
            return 0.0
        n = self._draws[key]
        self._draws[key] = n + 1
        u = self.faults.draw("latency", key, n)
        return max(0.0, model.sample(u[0], u[1]))

    async def _hang(self, seconds: float | None) -> None:
        if seconds is not None:
            await self.clock.sleep(seconds)
            return
        while True:  # forever, in hour steps so a virtual clock never jumps to infinity
            await self.clock.sleep(3600.0)

    def _respond(
        self,
        request: SimRequest,
        endpoint: Endpoint,
        token: str | None,
        scope: int | None,
        key: str,
    ) -> tuple[Reply, int | None, str | None]:
        """(reply, workspace served, fault kind that fired)."""
        dataset, faults = self.dataset, self.faults
        if token is None:
            return endpoints.error(401, "Unauthenticated."), None, None
        master = dataset.is_master(token)
        owner = dataset.by_token(token)
        if not master and owner is None:
            return endpoints.error(401, "Unauthenticated."), None, None
        if faults.fire(RevokedToken, scope, endpoint, key) is not None:
            return endpoints.error(401, "Unauthenticated."), None, RevokedToken.kind
        limited = faults.fire(RateLimited, scope, endpoint, key)
        if limited is not None:
            return self._rate_limited(limited), None, limited.kind
        failed = faults.fire(ServerError, scope, endpoint, key)
        if failed is not None:
            return self._server_error(failed, key), None, failed.kind

        empty = self._noted(faults.fire(EmptyData, scope, endpoint, key)) is not None
        if endpoint is Endpoint.LIST_WORKSPACES or endpoint is Endpoint.SWITCH_WORKSPACE:
            if not master:
                return endpoints.error(403, "This action is unauthorized."), None, None
            if endpoint is Endpoint.LIST_WORKSPACES:
                vanish = self._noted(faults.fire(VanishingWorkspaces, scope, endpoint, key))
                reply = endpoints.list_workspaces(dataset, empty=empty, vanish=vanish)
                return self._drift(reply, None, endpoint, key), None, None
            return self._switch(token, request)

        current = owner if owner is not None else self._current_data(token)
        if current is None:
            return endpoints.error(403, "No current workspace for this token."), None, None
        now = self.clock.now()
        if endpoint is Endpoint.STATS:
            lower = self._noted(faults.fire(CounterDecrease, scope, endpoint, key))
            skews = faults.fire_all(PercentSkew, scope, endpoint, key)
            self.counters.faults.update(f.kind for f in skews)
            reply = endpoints.stats(
                current, request.query, now, empty=empty, lower=lower, skews=skews
            )
        elif endpoint is Endpoint.SCHEDULES:
            reply = endpoints.schedules(current, request.query, now.date(), empty=empty)
        else:
            page_faults = PageFaults(
                empty=empty,
                loop=self._noted(faults.fire(PaginationLoop, scope, endpoint, key)) is not None,
                early_end=self._noted(faults.fire(EarlyEnd, scope, endpoint, key)),
                duplicates=self._noted(faults.fire(DuplicateEmails, scope, endpoint, key)),
                malformed=self._noted(faults.fire(MalformedAddress, scope, endpoint, key)),
            )
            reply = endpoints.sender_emails(
                dataset,
                current,
                request.query,
                origin=request.origin,
                max_per_page=self.max_per_page,
                faults=page_faults,
            )
        return self._drift(reply, scope, endpoint, key), current.id, None

    def _current_data(self, token: str) -> WorkspaceData | None:
        current = self.current_workspace(token)
        return None if current is None else self.dataset.get(current)

    def _switch(self, token: str, request: SimRequest) -> tuple[Reply, int | None, str | None]:
        team = endpoints.parse_team_id(_json_body(request.body))
        if isinstance(team, Reply):
            return team, None, None
        target = self.dataset.get(team)
        if target is None:
            return endpoints.invalid("team_id", "The selected team id is invalid."), None, None
        self._current[token] = target.id
        self.counters.switches += 1
        return endpoints.switched(target), target.id, None

    def _noted(self, fault: F | None) -> F | None:
        """Count a data fault that fired (errors are counted where the reply is made)."""
        if fault is not None:
            self.counters.faults[fault.kind] += 1
        return fault

    def _drift(self, reply: Reply, scope: int | None, endpoint: Endpoint, key: str) -> Reply:
        if reply.status == 200:
            drifts = self.faults.fire_all(SchemaDrift, scope, endpoint, key)
            for drift in drifts:
                self._noted(drift)
            endpoints.apply_drift(reply.payload, drifts)
        return reply

    def _rate_limited(self, fault: RateLimited) -> Reply:
        headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"}
        if fault.retry_after is not None:
            if fault.http_date:
                when = self.clock.now() + timedelta(seconds=math.ceil(fault.retry_after))
                headers["Retry-After"] = email.utils.format_datetime(when, usegmt=True)
            else:
                headers["Retry-After"] = str(math.ceil(fault.retry_after))
        return Reply(429, {"message": "Too Many Attempts."}, headers)

    def _server_error(self, fault: ServerError, key: str) -> Reply:
        n = self._draws["status|" + key]
        self._draws["status|" + key] = n + 1
        u = self.faults.draw("status", key, n)
        status = fault.codes[int(u[0] * len(fault.codes))]
        if status == 502:
            return Reply(status, _BAD_GATEWAY, html=True)
        message = "Service Unavailable" if status == 503 else "Server Error"
        return Reply(status, {"message": message})

    def _encode(self, reply: Reply) -> SimResponse:
        if reply.html:
            body = str(reply.payload).encode()
            content_type = "text/html; charset=utf-8"
        else:
            body = json.dumps(reply.payload, separators=(",", ":")).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type, **reply.headers}
        return SimResponse(reply.status, body, headers)


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
