"""Fetch one logical request with retries, deadline, breaker, limiter and token sessions.

:class:`Fetcher` is the only place that decides how hard to try: attempts,
backoff and deadline per logical request (tenacity's rules in
:mod:`portal_tui.fetch.retry`, entered only once attempt 1 has failed);
each attempt goes through its instance (:mod:`portal_tui.fetch.instance`:
token session, limiter slot, breaker, record). Every change of status is
published to listeners (:class:`~portal_tui.fetch.status_board.StatusBoard`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx
from pydantic import BaseModel, SecretStr

from portal_tui.config import Config, InstanceConfig, Secrets
from portal_tui.fetch.breaker import BreakerStatus
from portal_tui.fetch.collection import assemble, last_page, page_failed
from portal_tui.fetch.compact import MailboxCompactor
from portal_tui.fetch.events import CallPhase, RetryStatus, StatusListener
from portal_tui.fetch.instance import Call, CallContext, UpstreamInstance
from portal_tui.fetch.limiter import RequestLimiter
from portal_tui.fetch.retry import Deadline, retrying
from portal_tui.fetch.sessions import TokenGuard, TokenSessions
from portal_tui.fetch.status_board import StatusBoard
from portal_tui.upstream.client import Reply
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import (
    ApiWorkspace,
    SchedulesResponse,
    SenderEmailPage,
    StatsResponse,
    SwitchResponse,
    WorkspacesResponse,
)
from portal_tui.upstream.scrub import SecretScanner
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from portal_tui.vocabulary.retrying import retry_after_failure

__all__ = ["MODELS", "CallContext", "Fetched", "Fetcher", "Origin"]

Origin = Literal["here", "shared"]

MODELS: dict[Endpoint, type[BaseModel]] = {
    Endpoint.LIST_WORKSPACES: WorkspacesResponse,
    Endpoint.SWITCH_WORKSPACE: SwitchResponse,
    Endpoint.STATS: StatsResponse,
    Endpoint.SCHEDULES: SchedulesResponse,
    Endpoint.SENDER_EMAILS: SenderEmailPage,
}


@dataclass(slots=True)
class Fetched:
    """A validated payload, plus what the records need to know about it."""

    payload: BaseModel | MailboxCollection
    size_bytes: int
    attempts: int
    unknown_fields: frozenset[str] = frozenset()
    pages: int = 1
    origin: Origin = "here"
    """``here``: this process asked the upstream; ``shared``: another process did and
    the shared tier handed its response over (see :mod:`portal_tui.shared`)."""
    fetched_at: datetime | None = None
    """When the upstream answered, if not just now (a shared response's own time)."""


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
        token_guard: Callable[[InstanceConfig, SecretStr], TokenGuard | None] | None = None,
    ) -> None:
        """``token_guard`` gives each master token its lock shared with other processes
        (see :mod:`portal_tui.fetch.sessions`); without it the lock is this process's."""
        self._config = config
        self._secrets = secrets
        self._clock = clock
        self._retry = config.retry
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._board = StatusBoard(clock)
        self.active: dict[int, RetryStatus] = self._board.active
        """Requests in flight or retrying, by call id (see :class:`StatusBoard`)."""
        self._failed = 0
        self._probes = 0
        # Collections sit in the cache for their TTL: share what repeats (fetch.compact).
        self._compactor = MailboxCompactor()
        # One scanner of every configured token, shared by every instance's client:
        # whatever an upstream echoes is scrubbed before it is parsed.
        scanner = SecretScanner(secrets.token_values(config))
        self._instances = {
            inst.name: UpstreamInstance(
                inst,
                secrets,
                clock,
                config.breaker,
                transport=(transports or {}).get(inst.name),
                scanner=scanner,
                token_guard=token_guard,
            )
            for inst in config.instances
        }

    @property
    def requests_failed(self) -> int:
        """Requests that finally failed after their retries, each with an attempt of its own
        on record: the "failed API calls" of the health score (SPEC section 5)."""
        return self._failed

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (every attempt, switches and pre-checks included)."""
        return self._probes + sum(inst.requests_made for inst in self._instances.values())

    async def aclose(self) -> None:
        """Close every instance's connection pool."""
        for inst in self._instances.values():
            await inst.client.aclose()

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns the unsubscribe function."""
        return self._board.subscribe(listener)

    def prepare(self) -> None:
        """Build every instance's connection pool now (a TLS context and the CA bundle:
        ~0.1 s). Safe from a worker thread, so a caller on the event loop need not pay it
        in the middle of its first refresh; otherwise the first request builds it."""
        for inst in self._instances.values():
            inst.client.transport  # noqa: B018 - the property builds and keeps it

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
        inst = self._instances[workspace.instance]
        if inst.workspace_token(workspace) is not None:
            return "api-user"
        return "master" if inst.master_token else "none"

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
        endpoint = key.endpoint
        call = Call(workspace, ctx, endpoint, endpoint.path, dict(key.params), MODELS[endpoint])
        async with self._admitted(key.instance, workspace, priority=False):
            reply, attempts = await self._call(key.instance, call, key.describe())
        return Fetched(reply.payload, reply.size_bytes, attempts, reply.unknown_fields)

    async def fetch_mailboxes(self, workspace: WorkspaceRef, ctx: CallContext) -> Fetched:
        """Every sender-email page of ``workspace``: page 1, then the rest concurrently.

        A page that fails fails the collection (see :mod:`portal_tui.fetch.collection`).
        """
        inst = self._instances[workspace.instance]
        per_page = inst.config.sender_emails_per_page
        first, attempts, size = await self._page(workspace, ctx, 1, per_page)
        last = last_page(first)
        pages: dict[int, SenderEmailPage] = {1: first}
        if last > 1:
            # Under the master token, page 1's session is kept open until the other
            # pages have joined it, so the collection costs one switch, not two.
            master = self.token_mode(workspace) == "master"
            release = inst.sessions.hold(workspace.id) if master else None
            tasks = [
                asyncio.ensure_future(self._page(workspace, ctx, n, per_page))
                for n in range(2, last + 1)
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
            for number, result in zip(range(2, last + 1), results, strict=True):
                if isinstance(result, BaseException):
                    error = page_failed(number, last, result)
                    if error is result:
                        raise result
                    raise error from None
                page, tries, page_size = result
                attempts += tries
                size += page_size
                pages[number] = page
        collection = assemble(pages, self._compactor)
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
            self._probes += 1
        if error.error_type not in (ErrorType.NETWORK, ErrorType.TIMEOUT):
            return None
        call = Call(None, ctx, Endpoint.LIST_WORKSPACES, "", {}, WorkspacesResponse)
        ctx.record(inst.record(Endpoint.LIST_WORKSPACES, "GET", call, start, 1, error))
        self._failed += 1
        return error

    # -- internals ----------------------------------------------------------------------

    async def _page(
        self, workspace: WorkspaceRef, ctx: CallContext, number: int, per_page: int
    ) -> tuple[SenderEmailPage, int, int]:
        params = {"per_page": str(per_page), "page": str(number)}
        # Every page is admitted ahead of other requests: page 1 unlocks the later
        # pages, which a refresh would otherwise only start at its end (left to drain
        # while slots idle); the later pages are on their collection's path. Only at
        # admission: once admitted (deadline running) requests are served in order, so
        # a stream of pages can never starve an admitted request out of its deadline.
        endpoint = Endpoint.SENDER_EMAILS
        call = Call(workspace, ctx, endpoint, endpoint.path, params, SenderEmailPage)
        async with self._admitted(workspace.instance, workspace, priority=True):
            reply, attempts = await self._call(
                workspace.instance, call, f"sender-emails page {number}"
            )
        assert isinstance(reply.payload, SenderEmailPage)
        return reply.payload, attempts, reply.size_bytes

    def _admitted(
        self, instance: str, workspace: WorkspaceRef | None, *, priority: bool
    ) -> AbstractAsyncContextManager[object]:
        """A place among the requests allowed to wait for the limiter (see ``admitted``).

        A request's deadline runs from its start, so a refresh that started
        7,000 requests at once would let the last ones time out in the queue
        before they were ever sent. Master-token requests are not gated: they
        wait for their workspace's session instead, and holding places while
        waiting for it could starve the session they wait for.
        """
        inst = self._instances[instance]
        if inst.uses_master(workspace) and inst.master_token is not None:
            return nullcontext()
        return inst.admission.slot(priority=priority)

    async def _call(self, instance: str, call: Call, label: str) -> tuple[Reply, int]:
        inst = self._instances[instance]
        policy = self._retry
        call_id = next(self._ids)
        workspace = call.workspace
        status = RetryStatus(
            instance,
            workspace.name if workspace else None,
            call.ctx.dashboards,
            label,
            CallPhase.IN_FLIGHT,
            1,
            policy.attempts,
        )
        self._board.publish(call_id, status)
        # Runs from now (admission is behind us), minus any wait for the token's session.
        deadline = Deadline(self._clock, inst.config.request_deadline)
        # Each attempt enforces the deadline itself (UpstreamInstance.attempt); the
        # retry rules only sleep if an attempt could still start after the sleep.
        tries = 1
        last_error: UpstreamError | None = None
        try:
            try:
                # Attempt 1 outside tenacity: nearly every request succeeds at once,
                # and then the retry machinery should cost nothing (BENCHMARKS.md).
                reply = await inst.attempt(call, 1, deadline)
            except UpstreamError as exc:
                if not exc.error_type.is_retryable:
                    raise
                last_error = exc
            if last_error is not None:

                async def again(number: int) -> Reply:
                    nonlocal tries, last_error
                    tries = number
                    self._board.publish(call_id, status.advanced(CallPhase.IN_FLIGHT, number))
                    try:
                        return await inst.attempt(call, number, deadline)
                    except UpstreamError as exc:
                        last_error = exc
                        raise

                # Not kept in a local: it holds each attempt's error, whose traceback
                # holds this frame (a cycle left to the garbage collector).
                reply = await retry_after_failure(
                    retrying(
                        policy,
                        self._rng,
                        deadline,
                        self._clock,
                        before_sleep=self._board.announce_retry(call_id, status),
                    ),
                    last_error,
                    again,
                )
        except TimeoutError:
            cut = (
                f"request deadline of {inst.config.request_deadline:g} s passed during attempt "
                f"{tries}/{policy.attempts}"
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
            error.attempts = tries
            self._board.finish(call_id, status, CallPhase.FAILED, tries, error)
            self._failed += 1 if call.logged else 0
            raise error from None
        except UpstreamError as exc:
            exc.attempts = tries
            self._board.finish(call_id, status, CallPhase.FAILED, tries, exc)
            self._failed += 1 if call.logged else 0
            raise
        except BaseException:
            self._board.forget(call_id)
            raise
        finally:
            # A failed attempt's traceback refers to this frame, which refers to the
            # error: drop the reference, so a retried request leaves no cycle behind.
            last_error = None
        self._board.finish(call_id, status, CallPhase.SUCCEEDED, tries, None)
        return reply, tries
