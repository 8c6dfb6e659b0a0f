"""Fetch one logical request with retries, deadline, breaker, limiter and token sessions.

:class:`Fetcher` is the only place that decides how hard to try. Each call
gets a fresh tenacity ``AsyncRetrying``; each attempt takes (in this order)
a place in the master token's session for its workspace when the workspace
has no token of its own (see :mod:`portal_tui.fetch.sessions`: one switch per
workspace, never two workspaces at once), then a limiter slot, then the
breaker's admission. Every attempt is recorded as an ``api_health_logs`` row
and every change of status is published to listeners.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from portal_tui.clock import Clock
from portal_tui.config import Config, InstanceConfig, RetryConfig, Secrets
from portal_tui.dashboards.base import MailboxCollection, WorkspaceRef
from portal_tui.errors import ErrorType, UpstreamError
from portal_tui.fetch.breaker import BreakerStatus, CircuitBreaker
from portal_tui.fetch.compact import MailboxCompactor
from portal_tui.fetch.events import CallPhase, RetryStatus, StatusListener
from portal_tui.fetch.limiter import RequestLimiter
from portal_tui.fetch.requests import Endpoint, RequestKey
from portal_tui.fetch.sessions import TokenSessions
from portal_tui.store.records import ApiCallRecord
from portal_tui.upstream.client import EmailBisonClient, Reply
from portal_tui.upstream.models import (
    ApiWorkspace,
    SchedulesResponse,
    SenderEmail,
    SenderEmailPage,
    StatsResponse,
    SwitchResponse,
    WorkspacesResponse,
)

M = TypeVar("M", bound=BaseModel)

MODELS: dict[Endpoint, type[BaseModel]] = {
    Endpoint.LIST_WORKSPACES: WorkspacesResponse,
    Endpoint.SWITCH_WORKSPACE: SwitchResponse,
    Endpoint.STATS: StatsResponse,
    Endpoint.SCHEDULES: SchedulesResponse,
    Endpoint.SENDER_EMAILS: SenderEmailPage,
}

MAX_PAGES = 20_000  # a meta.last_page beyond this is a broken upstream, not data


def admitted(concurrency: int) -> int:
    """Logical requests of one instance allowed to be under way (in flight, queued for
    a slot or between retries) at once: enough to keep every slot busy, few enough
    that none waits in the queue for long (its deadline is running)."""
    return max(4 * concurrency, concurrency + 16)


@dataclass(slots=True)
class CallContext:
    """Who asked, for the records: trigger, dashboards and where attempts are logged."""

    triggered_by: str
    dashboards: tuple[str, ...] = ()
    record: Callable[[ApiCallRecord], None] = lambda _record: None


@dataclass(slots=True)
class Fetched:
    """A validated payload, plus what the records need to know about it."""

    payload: BaseModel | MailboxCollection
    size_bytes: int
    attempts: int
    unknown_fields: frozenset[str] = frozenset()
    pages: int = 1


@dataclass(slots=True)
class _Instance:
    config: InstanceConfig
    client: EmailBisonClient
    breaker: CircuitBreaker
    limiter: RequestLimiter
    admission: RequestLimiter
    master_token: SecretStr | None
    sessions: TokenSessions = field(default_factory=TokenSessions)


class Fetcher:
    """Runs logical requests against every configured instance."""

    def __init__(
        self,
        config: Config,
        secrets: Secrets,
        clock: Clock,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._clock = clock
        self._retry = config.retry
        self._rng = rng or random.Random()
        self._listeners: list[StatusListener] = []
        self._ids = itertools.count(1)
        self.active: dict[int, RetryStatus] = {}
        self.requests_made = 0
        # Collections sit in the cache for their TTL: share what repeats (fetch.compact).
        self._compactor = MailboxCompactor()
        self._instances: dict[str, _Instance] = {}
        for inst in config.instances:
            transport = (transports or {}).get(inst.name)
            self._instances[inst.name] = _Instance(
                config=inst,
                client=EmailBisonClient(inst, transport=transport, now=clock.now),
                breaker=CircuitBreaker(
                    inst.name,
                    clock,
                    failure_threshold=config.breaker.failure_threshold,
                    reset_timeout=config.breaker.reset_timeout,
                ),
                limiter=RequestLimiter(
                    clock, concurrency=inst.concurrency, rate=inst.requests_per_second
                ),
                admission=RequestLimiter(clock, concurrency=admitted(inst.concurrency)),
                master_token=secrets.get(inst.master_token_env),
            )

    async def aclose(self) -> None:
        """Close every instance's connection pool."""
        for inst in self._instances.values():
            await inst.client.aclose()

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def breakers(self) -> list[BreakerStatus]:
        """Breaker status per instance."""
        return [inst.breaker.status() for inst in self._instances.values()]

    def limiter(self, instance: str) -> RequestLimiter:
        """The instance's limiter (for stats and tests)."""
        return self._instances[instance].limiter

    def token_sessions(self, instance: str) -> TokenSessions:
        """The instance's master-token sessions (for stats and tests)."""
        return self._instances[instance].sessions

    def has_master_token(self, instance: str) -> bool:
        """Whether the instance can list and switch workspaces."""
        return self._instances[instance].master_token is not None

    def token_mode(self, workspace: WorkspaceRef) -> str:
        """``api-user``, ``master`` or ``none``: how calls for ``workspace`` authenticate."""
        if self._workspace_token(workspace) is not None:
            return "api-user"
        return "master" if self._instances[workspace.instance].master_token else "none"

    # -- public calls -------------------------------------------------------------------

    async def list_workspaces(self, instance: str, ctx: CallContext) -> list[ApiWorkspace]:
        """``GET /workspaces/v1.1`` with the master token."""
        key = RequestKey(instance, None, Endpoint.LIST_WORKSPACES)
        fetched = await self.fetch(key, None, ctx)
        assert isinstance(fetched.payload, WorkspacesResponse)
        return list(fetched.payload.data)

    async def fetch(
        self, key: RequestKey, workspace: WorkspaceRef | None, ctx: CallContext
    ) -> Fetched:
        """One logical request (not ``SENDER_EMAILS`` collections: see :meth:`fetch_mailboxes`)."""
        model = MODELS[key.endpoint]
        async with self._admitted(key.instance, workspace, priority=False):
            reply, attempts = await self._call(
                key.instance,
                workspace,
                ctx,
                label=key.describe(),
                endpoint=key.endpoint,
                path=key.endpoint.path,
                params=dict(key.params),
                model=model,
            )
        return Fetched(reply.payload, reply.size_bytes, attempts, reply.unknown_fields)

    async def fetch_mailboxes(self, workspace: WorkspaceRef, ctx: CallContext) -> Fetched:
        """Every sender-email page of ``workspace``: page 1, then the rest concurrently.

        A page that fails fails the collection: an incomplete list is never
        returned as if it were whole. A page count or totals mismatch is
        returned, flagged by :attr:`MailboxCollection.complete`.
        """
        inst = self._instances[workspace.instance]
        per_page = inst.config.sender_emails_per_page
        first, attempts, size = await self._page(workspace, ctx, 1, per_page)
        meta = first.meta
        last_page = meta.last_page
        if last_page > MAX_PAGES or last_page < 1:
            raise UpstreamError(
                ErrorType.VALIDATION, f"sender-emails meta.last_page={last_page} is not plausible"
            )
        pages: dict[int, SenderEmailPage] = {1: first}
        if last_page > 1:
            # Under the master token, page 1's session is kept open until the other
            # pages have joined it, so the collection costs one switch, not two.
            master = self.token_mode(workspace) == "master"
            release = inst.sessions.hold(workspace.id) if master else None
            tasks = [
                asyncio.ensure_future(self._page(workspace, ctx, n, per_page))
                for n in range(2, last_page + 1)
            ]
            try:
                await asyncio.sleep(0)  # one loop iteration: every page has joined or queued
            except BaseException:
                for task in tasks:
                    task.cancel()
                raise
            finally:
                if release is not None:
                    release()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for number, result in zip(range(2, last_page + 1), results, strict=True):
                if isinstance(result, BaseException):
                    if isinstance(result, UpstreamError):
                        raise UpstreamError(
                            result.error_type,
                            f"sender-emails page {number}/{last_page}: {result.message}",
                            status_code=result.status_code,
                            retry_after=result.retry_after,
                        ) from None
                    raise result
                page, tries, page_size = result
                attempts += tries
                size += page_size
                pages[number] = page
        mailboxes: list[SenderEmail] = []
        seen_pages: set[int] = set()
        anomalies: list[str] = []
        for number in sorted(pages):
            page = pages[number]
            if page.meta.current_page != number:
                anomalies.append(f"page {number} came back as page {page.meta.current_page}")
            # A page that claims to be another page (a loop upstream) is not counted twice.
            if page.meta.current_page in seen_pages:
                continue
            seen_pages.add(page.meta.current_page)
            mailboxes.extend(page.data)
        last_next = pages[max(pages)].links.next
        if last_next:
            anomalies.append(
                f"last page {max(pages)} links.next is not null ({_page_of(last_next)})"
            )
        self._compactor.compact(mailboxes)
        collection = MailboxCollection(
            mailboxes, meta, pages_fetched=len(seen_pages), anomalies=tuple(anomalies)
        )
        return Fetched(collection, size, attempts, pages=len(pages))

    async def probe(self, instance: str, ctx: CallContext) -> UpstreamError | None:
        """Connectivity pre-check: can we reach the instance at all?

        Any HTTP answer (even 401) proves reachability; only network errors and
        timeouts mean "upstream unreachable". One attempt, no retries.
        """
        inst = self._instances[instance]
        token = inst.master_token or SecretStr("-")
        start = self._clock.monotonic()
        try:
            async with self._clock.timeout(inst.config.attempt_timeout):
                await inst.client.request(
                    "GET", Endpoint.LIST_WORKSPACES.path, token=token, model=WorkspacesResponse
                )
        except TimeoutError:
            error = UpstreamError(ErrorType.TIMEOUT, "connectivity pre-check timed out")
        except UpstreamError as exc:
            error = exc
        else:
            return None
        finally:
            self.requests_made += 1
        if error.error_type not in (ErrorType.NETWORK, ErrorType.TIMEOUT):
            return None
        ctx.record(
            self._record(instance, Endpoint.LIST_WORKSPACES, "GET", None, ctx, start, 1, error)
        )
        return error

    # -- internals ----------------------------------------------------------------------

    async def _page(
        self, workspace: WorkspaceRef, ctx: CallContext, number: int, per_page: int
    ) -> tuple[SenderEmailPage, int, int]:
        params = {"per_page": str(per_page), "page": str(number)}
        # Later pages are on their collection's critical path: ahead in the queues.
        async with self._admitted(workspace.instance, workspace, priority=number > 1):
            reply, attempts = await self._call(
                workspace.instance,
                workspace,
                ctx,
                label=f"sender-emails page {number}",
                endpoint=Endpoint.SENDER_EMAILS,
                path=Endpoint.SENDER_EMAILS.path,
                params=params,
                model=SenderEmailPage,
                priority=number > 1,
            )
        assert isinstance(reply.payload, SenderEmailPage)
        return reply.payload, attempts, reply.size_bytes

    def _admitted(
        self, instance: str, workspace: WorkspaceRef | None, *, priority: bool
    ) -> AbstractAsyncContextManager[object]:
        """A place among the requests allowed to wait for the limiter (see :func:`admitted`).

        A request's deadline runs from its start, so a refresh that started
        7,000 requests at once would let the last ones time out in the queue
        before they were ever sent. Master-token requests are not gated: they
        wait for their workspace's session instead, and holding places while
        waiting for it could starve the session they wait for.
        """
        if workspace is not None and self.token_mode(workspace) == "master":
            return nullcontext()
        return self._instances[instance].admission.slot(priority=priority)

    def _workspace_token(self, workspace: WorkspaceRef) -> SecretStr | None:
        entry = workspace.registry
        return self._secrets.get(entry.api_key_env) if entry and entry.api_key_env else None

    async def _call(
        self,
        instance: str,
        workspace: WorkspaceRef | None,
        ctx: CallContext,
        *,
        label: str,
        endpoint: Endpoint,
        path: str,
        params: Mapping[str, str],
        model: type[BaseModel],
        priority: bool = False,
    ) -> tuple[Reply, int]:
        inst = self._instances[instance]
        policy = self._retry
        call_id = next(self._ids)
        ws_name = workspace.name if workspace else None
        status = RetryStatus(
            instance, ws_name, ctx.dashboards, label, CallPhase.IN_FLIGHT, 1, policy.attempts
        )
        self._publish(call_id, status)
        deadline_at = self._clock.monotonic() + inst.config.request_deadline

        tries = 0
        last_error: UpstreamError | None = None

        async def attempt() -> Reply:
            nonlocal tries, last_error
            tries += 1
            number = tries
            if number > 1:
                self._publish(call_id, _replace(status, CallPhase.IN_FLIGHT, number))
            try:
                return await self._attempt(
                    inst,
                    workspace,
                    ctx,
                    endpoint,
                    path,
                    params,
                    model,
                    number,
                    deadline_at=deadline_at,
                    priority=priority,
                )
            except UpstreamError as exc:
                last_error = exc
                raise

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.upcoming_sleep
            self._publish(
                call_id,
                _replace(
                    status,
                    CallPhase.RETRYING,
                    state.attempt_number,
                    error=error,
                    next_at=self._clock.now() + timedelta(seconds=wait),
                ),
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts)
            | _StopBeforeDeadline(self._clock, deadline_at),
            wait=_Backoff(policy, self._rng),
            retry=retry_if_exception(_retryable),
            sleep=self._clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async with self._clock.timeout(inst.config.request_deadline):
                reply: Reply = await retrying(attempt)
        except TimeoutError:
            attempts = max(tries, 1)
            cut = (
                f"request deadline of {inst.config.request_deadline:g} s passed during attempt "
                f"{attempts}/{policy.attempts}"
            )
            if last_error is None:
                error = UpstreamError(ErrorType.TIMEOUT, cut)
            else:
                # The deadline cut a retry short: what the upstream last SAID (a 429, a
                # 503) is the cause, not a timeout of the few moments the retry had.
                error = UpstreamError(
                    last_error.error_type,
                    f"{last_error.message}; {cut}",
                    status_code=last_error.status_code,
                    retry_after=last_error.retry_after,
                )
            error.attempts = attempts
            self._finish(call_id, status, CallPhase.FAILED, attempts, error)
            raise error from None
        except UpstreamError as exc:
            attempts = max(tries, 1)
            exc.attempts = attempts
            self._finish(call_id, status, CallPhase.FAILED, attempts, exc)
            raise
        except BaseException:
            self.active.pop(call_id, None)
            raise
        attempts = tries
        self._finish(call_id, status, CallPhase.SUCCEEDED, attempts, None)
        return reply, attempts

    async def _attempt(
        self,
        inst: _Instance,
        workspace: WorkspaceRef | None,
        ctx: CallContext,
        endpoint: Endpoint,
        path: str,
        params: Mapping[str, str],
        model: type[BaseModel],
        number: int,
        *,
        deadline_at: float | None = None,
        priority: bool = False,
    ) -> Reply:
        token = self._workspace_token(workspace) if workspace else None
        master = token is None
        if master:
            token = inst.master_token
        if token is None:
            raise UpstreamError(
                ErrorType.CLIENT_4XX,
                "no token: set the workspace's api_key_env or the instance's master_token_env",
            )
        if not master or workspace is None:
            return await self._exchange(
                inst,
                workspace,
                ctx,
                endpoint,
                "GET",
                path,
                params,
                model,
                token,
                number,
                deadline_at=deadline_at,
                priority=priority,
            )
        # With the master token the current workspace is server-side state of the
        # token: this attempt runs inside its workspace's session (one switch for
        # the whole group, never two workspaces at once), ahead in the limiter's
        # queue because every other master-token workspace waits for this session.
        master_token, ws = token, workspace

        async def switch() -> Reply:
            return await self._exchange(
                inst,
                ws,
                ctx,
                Endpoint.SWITCH_WORKSPACE,
                "POST",
                Endpoint.SWITCH_WORKSPACE.path,
                {},
                SwitchResponse,
                master_token,
                number,
                body={"team_id": ws.id},
                deadline_at=deadline_at,
                priority=True,
            )

        async with inst.sessions.session(ws.id, switch):
            return await self._exchange(
                inst,
                workspace,
                ctx,
                endpoint,
                "GET",
                path,
                params,
                model,
                token,
                number,
                deadline_at=deadline_at,
                priority=True,
            )

    async def _exchange(
        self,
        inst: _Instance,
        workspace: WorkspaceRef | None,
        ctx: CallContext,
        endpoint: Endpoint,
        method: str,
        path: str,
        params: Mapping[str, str],
        model: type[BaseModel],
        token: SecretStr,
        number: int,
        body: Mapping[str, object] | None = None,
        *,
        deadline_at: float | None = None,
        priority: bool = False,
    ) -> Reply:
        async with inst.limiter.slot(priority=priority):
            probe = False
            start = self._clock.monotonic()
            try:
                probe = inst.breaker.before_call()
                self.requests_made += 1
                async with self._clock.timeout(inst.config.attempt_timeout):
                    reply = await inst.client.request(
                        method, path, token=token, model=model, params=params, body=body
                    )
            except UpstreamError as exc:
                if exc.error_type is not ErrorType.BREAKER_OPEN:
                    inst.breaker.record_failure(exc, probe)
                ctx.record(
                    self._record(
                        inst.config.name, endpoint, method, workspace, ctx, start, number, exc
                    )
                )
                raise
            except TimeoutError:
                error = UpstreamError(
                    ErrorType.TIMEOUT,
                    f"no answer within {inst.config.attempt_timeout:g} s (attempt timeout)",
                )
                inst.breaker.record_failure(error, probe)
                ctx.record(
                    self._record(
                        inst.config.name, endpoint, method, workspace, ctx, start, number, error
                    )
                )
                raise error from None
            except BaseException as exc:
                inst.breaker.record_cancelled(probe)
                if (
                    isinstance(exc, asyncio.CancelledError)
                    and deadline_at is not None
                    and self._clock.monotonic() >= deadline_at
                ):
                    # The whole-request deadline cut this attempt: it was made, so it is
                    # logged (a timeout). Not counted by the breaker: the time it had
                    # may have been a sliver, which says nothing about the upstream.
                    cut = UpstreamError(
                        ErrorType.TIMEOUT,
                        f"request deadline of {inst.config.request_deadline:g} s passed "
                        "during this attempt",
                    )
                    ctx.record(
                        self._record(
                            inst.config.name, endpoint, method, workspace, ctx, start, number, cut
                        )
                    )
                raise
            inst.breaker.record_success(probe)
            ctx.record(
                self._record(
                    inst.config.name,
                    endpoint,
                    method,
                    workspace,
                    ctx,
                    start,
                    number,
                    None,
                    status_code=reply.status_code,
                )
            )
            return reply

    def _record(
        self,
        instance: str,
        endpoint: Endpoint,
        method: str,
        workspace: WorkspaceRef | None,
        ctx: CallContext,
        start: float,
        attempt: int,
        error: UpstreamError | None,
        *,
        status_code: int | None = None,
    ) -> ApiCallRecord:
        return ApiCallRecord(
            instance=instance,
            endpoint=endpoint.value,
            method=method,
            workspace=workspace.name if workspace else None,
            status_code=error.status_code if error else status_code,
            response_time_ms=(self._clock.monotonic() - start) * 1000.0,
            success=error is None,
            error_type=error.error_type.value if error else None,
            error_message=error.message if error else None,
            attempt=attempt,
            triggered_by=ctx.triggered_by,
            timestamp=self._clock.now(),
        )

    def _publish(self, call_id: int, status: RetryStatus) -> None:
        if status.phase in (CallPhase.SUCCEEDED, CallPhase.FAILED):
            self.active.pop(call_id, None)
        else:
            self.active[call_id] = status
        for listener in list(self._listeners):
            listener(status)

    def _finish(
        self,
        call_id: int,
        status: RetryStatus,
        phase: CallPhase,
        attempts: int,
        error: UpstreamError | None,
    ) -> None:
        self._publish(call_id, _replace(status, phase, attempts, error=error))


def _page_of(url: str) -> str:
    """``page=N`` of a pagination link, without the rest of the URL."""
    query = parse_qs(urlsplit(url).query)
    return f"points at page {query['page'][0]}" if "page" in query else "a link without a page"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamError) and exc.error_type.is_retryable


def _replace(
    status: RetryStatus,
    phase: CallPhase,
    attempt: int,
    *,
    error: BaseException | None = None,
    next_at: object = None,
) -> RetryStatus:
    kind = code = text = None
    if isinstance(error, UpstreamError):
        kind, code, text = error.error_type.value, error.status_code, error.message
    elif error is not None:
        kind, text = type(error).__name__, str(error)
    return RetryStatus(
        status.instance,
        status.workspace,
        status.dashboards,
        status.request,
        phase,
        attempt,
        status.max_attempts,
        next_attempt_at=next_at,  # type: ignore[arg-type]
        last_error_type=kind,
        last_status_code=code,
        last_error=text,
    )


class _Backoff:
    """Exponential backoff with jitter; at least ``Retry-After`` (capped) after a 429."""

    def __init__(self, policy: RetryConfig, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng

    def __call__(self, state: RetryCallState) -> float:
        p = self._policy
        exp = p.backoff_initial * p.backoff_multiplier ** (state.attempt_number - 1)
        wait = min(p.backoff_max, exp) + (self._rng.uniform(0, p.jitter) if p.jitter else 0.0)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, UpstreamError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, p.retry_after_cap))
        return wait


class _StopBeforeDeadline(stop_base):
    """Stop retrying when the next attempt could not even start before the deadline."""

    def __init__(self, clock: Clock, deadline_at: float) -> None:
        self._clock = clock
        self._deadline_at = deadline_at

    def __call__(self, state: RetryCallState) -> bool:
        return self._clock.monotonic() + (state.upcoming_sleep or 0.0) >= self._deadline_at
