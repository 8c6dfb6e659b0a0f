"""One upstream instance as the fetcher sees it, and one attempt against it.

An :class:`UpstreamInstance` owns the instance's connection pool, breaker,
sliding-window limiter, admission gate and master-token sessions. An attempt
takes (in this order) a place in the master token's session for its
workspace when the workspace has no token of its own (see
:mod:`portal_tui.fetch.sessions`), then a limiter slot, then the breaker's
admission; it is recorded as an ``api_health_logs`` row however it ends. The
slot is held for the HTTP exchange only: the request is built before it and
the reply validated after it, so the next request is already on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, SecretStr

from portal_tui.config import BreakerConfig, InstanceConfig, Secrets
from portal_tui.fetch.breaker import CircuitBreaker
from portal_tui.fetch.events import ApiCallRecord
from portal_tui.fetch.limiter import RequestLimiter
from portal_tui.fetch.retry import Deadline
from portal_tui.fetch.sessions import TokenGuard, TokenSessions
from portal_tui.upstream.client import EmailBisonClient, Reply
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.models import SwitchResponse
from portal_tui.upstream.scrub import SecretScanner
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError


def admitted(concurrency: int) -> int:
    """Logical requests of one instance allowed to be under way (in flight, queued for
    a slot or between retries) at once: enough to keep every slot busy, few enough
    that none waits in the queue for long."""
    return max(4 * concurrency, concurrency + 16)


@dataclass(slots=True)
class CallContext:
    """Who asked, for the records: trigger, dashboards and where attempts are logged."""

    triggered_by: str
    dashboards: tuple[str, ...] = ()
    record: Callable[[ApiCallRecord], None] = lambda _record: None


@dataclass(slots=True)
class Call:
    """What one attempt asks for (the same for every attempt of a logical request)."""

    workspace: WorkspaceRef | None
    ctx: CallContext
    endpoint: Endpoint
    path: str
    params: Mapping[str, str]
    model: type[BaseModel]
    logged: int = 0
    """Attempts of this request recorded so far (a request whose workspace switch failed
    for a sibling is failed without an attempt of its own: not a failed API call)."""


class UpstreamInstance:
    """An instance's client, breaker, limiter, admission gate and token sessions."""

    def __init__(
        self,
        config: InstanceConfig,
        secrets: Secrets,
        clock: Clock,
        breaker: BreakerConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        scanner: SecretScanner | None = None,
        token_guard: Callable[[InstanceConfig, SecretStr], TokenGuard | None] | None = None,
    ) -> None:
        self.config = config
        self._secrets = secrets
        self._clock = clock
        self.client = EmailBisonClient(config, transport=transport, now=clock.now, scanner=scanner)
        self.breaker = CircuitBreaker(
            config.name,
            clock,
            failure_threshold=breaker.failure_threshold,
            reset_timeout=breaker.reset_timeout,
        )
        self.limiter = RequestLimiter(
            clock, concurrency=config.concurrency, rate=config.requests_per_second
        )
        self.admission = RequestLimiter(clock, concurrency=admitted(config.concurrency))
        self.master_token: SecretStr | None = secrets.get(config.master_token_env)
        guard = (
            token_guard(config, self.master_token)
            if token_guard is not None and self.master_token is not None
            else None
        )
        self.sessions = TokenSessions(guard)
        self.requests_made = 0

    def workspace_token(self, workspace: WorkspaceRef) -> SecretStr | None:
        """The workspace's own (api-user) token, if it has one."""
        entry = workspace.registry
        return self._secrets.get(entry.api_key_env) if entry and entry.api_key_env else None

    def uses_master(self, workspace: WorkspaceRef | None) -> bool:
        """Whether calls for ``workspace`` go through the master token's sessions."""
        return workspace is not None and self.workspace_token(workspace) is None

    async def attempt(self, call: Call, number: int, deadline: Deadline) -> Reply:
        """Attempt ``number`` of ``call``: token, session if master, slot, breaker, timeout.

        Raises :class:`TimeoutError` if ``deadline`` passes during the attempt;
        waiting for the master token's session moves the deadline on instead.
        """
        workspace = call.workspace
        token = self.workspace_token(workspace) if workspace else None
        master = token is None
        if master:
            token = self.master_token
        if token is None:
            raise UpstreamError(
                ErrorType.CLIENT_4XX,
                "no token: set the workspace's api_key_env or the instance's master_token_env",
            )
        clock = self._clock
        if not master or workspace is None:
            async with clock.timeout(deadline.remaining()):
                return await self._exchange(
                    call, call.endpoint, "GET", call.path, call.params, call.model, token,
                    number, deadline=deadline,
                )  # fmt: skip
        # With the master token the current workspace is server-side state of the
        # token: this attempt runs inside its workspace's session (one switch for
        # the whole group, never two workspaces at once), ahead in the limiter's
        # queue because every other master-token workspace waits for this session.
        master_token, ws = token, workspace

        async def switch() -> Reply:
            return await self._exchange(
                call, Endpoint.SWITCH_WORKSPACE, "POST", Endpoint.SWITCH_WORKSPACE.path, {},
                SwitchResponse, master_token, number, body={"team_id": ws.id},
                deadline=deadline, priority=True,
            )  # fmt: skip

        queued_at = clock.monotonic()

        def joined() -> None:
            deadline.extend(clock.monotonic() - queued_at)  # the token's queue is not ours

        # Enforced from when the switch has settled (the switch has its own attempt
        # timeout); the time the switch took still counts against the deadline.
        async with (
            self.sessions.session(ws.id, switch, joined=joined, waited=deadline.extend),
            clock.timeout(deadline.remaining()),
        ):
            return await self._exchange(
                call, call.endpoint, "GET", call.path, call.params, call.model, token, number,
                deadline=deadline, priority=True,
            )  # fmt: skip

    async def _exchange(
        self,
        call: Call,
        endpoint: Endpoint,
        method: str,
        path: str,
        params: Mapping[str, str],
        model: type[BaseModel],
        token: SecretStr,
        number: int,
        body: Mapping[str, object] | None = None,
        *,
        deadline: Deadline,
        priority: bool = False,
    ) -> Reply:
        clock, breaker, ctx = self._clock, self.breaker, call.ctx
        client = self.client
        # The slot covers the exchange alone: the request is built before it and the
        # body parsed after it (~2 ms for a 100-mailbox page), so a slot never waits
        # on this process's CPU while the upstream could be serving the next request.
        try:
            prepared = client.prepare(method, path, token=token, params=params, body=body)
        except UpstreamError as exc:
            ctx.record(self.record(endpoint, method, call, clock.monotonic(), number, exc))
            raise
        probe = made = False
        start = 0.0
        try:
            async with self.limiter.slot(priority=priority):
                start, made = clock.monotonic(), True
                probe = breaker.before_call()
                self.requests_made += 1
                async with clock.timeout(self.config.attempt_timeout):
                    answer = await client.send(prepared)
                if probe:
                    # Any 2xx settles a half-open probe (a bad payload still proves the
                    # upstream answered): close the breaker before the slot goes on, or
                    # the request it goes to would be refused while we parse.
                    breaker.record_success(probe)
                    probe = False
                handed_on = self.limiter.queued > 0
            if handed_on:
                # The next request has our slot; let it go out before we parse.
                await asyncio.sleep(0)
            reply = client.parse(answer, model)
        except UpstreamError as exc:
            if exc.error_type is not ErrorType.BREAKER_OPEN:
                breaker.record_failure(exc, probe)
            ctx.record(self.record(endpoint, method, call, start, number, exc))
            raise
        except TimeoutError:
            error = UpstreamError(
                ErrorType.TIMEOUT,
                f"no answer within {self.config.attempt_timeout:g} s (attempt timeout)",
            )
            breaker.record_failure(error, probe)
            ctx.record(self.record(endpoint, method, call, start, number, error))
            raise error from None
        except BaseException as exc:
            if not made:
                raise  # cancelled while waiting for a slot: no attempt was made
            breaker.record_cancelled(probe)
            if isinstance(exc, asyncio.CancelledError) and clock.monotonic() >= deadline.at:
                # The whole-request deadline cut this attempt: it was made, so it is
                # logged (a timeout). Not counted by the breaker: the time it had
                # may have been a sliver, which says nothing about the upstream.
                cut = UpstreamError(
                    ErrorType.TIMEOUT,
                    f"request deadline of {self.config.request_deadline:g} s passed "
                    "during this attempt",
                )
                ctx.record(self.record(endpoint, method, call, start, number, cut))
            raise
        breaker.record_success(probe)
        ctx.record(
            self.record(endpoint, method, call, start, number, None, status_code=reply.status_code)
        )
        return reply

    def record(
        self,
        endpoint: Endpoint,
        method: str,
        call: Call,
        start: float,
        attempt: int,
        error: UpstreamError | None,
        *,
        status_code: int | None = None,
    ) -> ApiCallRecord:
        """The ``api_health_logs`` row of one attempt that started at ``start``."""
        call.logged += 1
        return ApiCallRecord(
            instance=self.config.name,
            endpoint=endpoint.value,
            method=method,
            workspace=call.workspace.name if call.workspace else None,
            status_code=error.status_code if error else status_code,
            response_time_ms=(self._clock.monotonic() - start) * 1000.0,
            success=error is None,
            error_type=error.error_type.value if error else None,
            error_message=error.message if error else None,
            attempt=attempt,
            triggered_by=call.ctx.triggered_by,
            timestamp=self._clock.now(),
        )
