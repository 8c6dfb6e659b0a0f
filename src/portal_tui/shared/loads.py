"""One algorithm over any tier: serve a shared response, or fetch under a lease, or wait.

For one distinct request (its cache key, scoped by the instance's base URL):

1. a shared response fetched no earlier than ``not_before`` (now − TTL, or
   the moment a forced refresh began) is served as it is;
2. else this process takes the request's lease and fetches; the response is
   stored for everyone (fenced) and the waiters woken; a failure is recorded
   too, so waiters do not all retry an upstream that just failed;
3. else another process is fetching it: wait for its lease to end, then
   look again. A holder killed mid-fetch stops renewing, its lease expires
   and the next waiter takes it. A waiter that has waited a whole request
   deadline fetches for itself.

The master token's lock is a lease too (:class:`TokenLock`, used by
:mod:`portal_tui.fetch.sessions`). Whatever the tier does wrong (Redis down
or slow, the file locked too long), the process fetches for itself, counts
it, and says so in :meth:`SharedLoads.status`; after
:data:`RETRY_DOWN_AFTER` seconds it tries the tier again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from portal_tui.config import InstanceConfig
from portal_tui.fetch.fetcher import Fetched
from portal_tui.fetch.sessions import GuardHold, TokenGuard
from portal_tui.shared.codec import decode, encode
from portal_tui.shared.tier import Lease, Stored, Tier, TierStatus, TierUnavailable
from portal_tui.store.redaction import Redactor
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError

log = logging.getLogger(__name__)

RETRY_DOWN_AFTER = 15.0
"""Seconds a failed tier is left alone before it is tried again."""

TOKEN_TURN = 2.0
"""Seconds a process may keep a master token's lock across its next sessions before
giving it back (and, if another process waits, letting that one go first)."""


def holder_id() -> str:
    """This process's name in leases: host, pid and a random tag (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class SharedLoads:
    """Loads distinct requests once across every process on the tier."""

    def __init__(
        self,
        tier: Tier,
        clock: Clock,
        *,
        instances: Mapping[str, InstanceConfig],
        lease_seconds: float = 15.0,
        redactor: Redactor | None = None,
        locks: Tier | None = None,
        local: Tier | None = None,
    ) -> None:
        """``locks``: the tier for master-token locks if not ``tier`` itself (the records
        file through a connection of their own, so a lock never queues behind
        responses); ``local``: the one for them while ``tier`` is down (the records
        file under Redis), so processes on one file still never mix workspaces."""
        self.tier = tier
        self._clock = clock
        self._instances = instances
        self._lease = lease_seconds
        self._redactor = redactor or Redactor()
        self._locks = locks
        self._local = local
        self._down_until: float | None = None
        self._detail: str | None = None
        self._since: datetime | None = None
        self._background: set[asyncio.Task[object]] = set()
        self._holding: dict[str, _Holding] = {}
        self._taking: dict[str, asyncio.Lock] = {}
        self.fetched_here = 0
        self.served = 0
        self.fallbacks = 0

    # -- status -------------------------------------------------------------------------

    def status(self) -> TierStatus:
        """Health and counts so far."""
        return TierStatus(
            self.tier.kind,
            self.tier.where,
            healthy=self._detail is None,
            detail=self._detail,
            since=self._since,
            fetched_here=self.fetched_here,
            served=self.served,
            fallbacks=self.fallbacks,
        )

    def _is_down(self) -> bool:
        return self._down_until is not None and self._clock.monotonic() < self._down_until

    def _mark_down(self, exc: BaseException) -> None:
        if self._detail is None:
            self._since = self._clock.now()
            log.warning("shared tier %s unavailable, fetching here: %s", self.tier.kind, exc)
        self._detail = self._redactor(str(exc) or type(exc).__name__)
        self._down_until = self._clock.monotonic() + RETRY_DOWN_AFTER

    def _mark_up(self) -> None:
        if self._detail is not None:
            log.info("shared tier %s is back", self.tier.kind)
        self._detail = self._since = self._down_until = None

    async def aclose(self) -> None:
        """Finish background releases, then close the tiers."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.tier.aclose()
        for other in (self._locks, self._local):
            if other is not None:
                await other.aclose()

    # -- responses ----------------------------------------------------------------------

    def shared_key(self, key: RequestKey) -> str:
        """The request's name on the tier: its cache key, scoped by the instance's URL
        (two configs may name different upstreams alike), scrubbed of secrets."""
        return self._redactor(f"{self._origin(key.instance)}|{key.cache_key()}")

    def lease_name(self, key: RequestKey) -> str:
        """The lease covering ``key``: one per workspace, so one process fetches all of a
        workspace's requests it needs and a master token is switched to it once."""
        workspace = "-" if key.workspace_id is None else str(key.workspace_id)
        return self._redactor(f"response:{self._origin(key.instance)}|{key.instance}/{workspace}")

    def _origin(self, instance: str) -> str:
        inst = self._instances.get(instance)
        return inst.base_url if inst is not None else ""

    async def load(
        self,
        key: RequestKey,
        fetch_here: Callable[[], Awaitable[Fetched]],
        *,
        not_before: datetime,
    ) -> Fetched:
        """The response for ``key`` fetched no earlier than ``not_before``: shared, or
        fetched here under the workspace's lease. Raises what the fetch raised (here,
        or by the holder waited on)."""
        if self._is_down():
            self.fallbacks += 1
            return await fetch_here()
        clock, tier = self._clock, self.tier
        shared, name = self.shared_key(key), self.lease_name(key)
        inst = self._instances.get(key.instance)
        patience = inst.request_deadline if inst is not None else 120.0
        started, started_at = clock.monotonic(), clock.now().timestamp()
        floor = not_before.timestamp()
        try:
            while True:
                got = await self._shared(key, await tier.read(shared), floor, started_at)
                self._mark_up()
                if got is not None:
                    self.served += 1
                    return got
                taken = False
                async with self._taking.setdefault(name, asyncio.Lock()):
                    holding = self._holding.get(name)
                    if holding is None:
                        lease = await tier.take(name)
                        if lease is not None:
                            holding, taken = self._hold(lease), True
                if holding is not None:
                    return await self._fetch_holding(
                        holding, key, shared, fetch_here, floor, started_at, check_first=taken
                    )
                left = patience - (clock.monotonic() - started)
                if left <= 0:
                    log.info("waited %.0f s for %s; fetching it here", patience, shared)
                    break
                await tier.wait(name, min(left, self._lease))
        except TierUnavailable as exc:
            self._mark_down(exc)
        self.fallbacks += 1
        return await fetch_here()

    async def _shared(
        self, key: RequestKey, stored: Stored | None, floor: float, started_at: float
    ) -> Fetched | None:
        """The stored response if young enough; raises the stored failure if another
        process failed this request after this load began (no stampede on a failing
        upstream); else None."""
        if stored is None:
            return None
        if stored.payload is not None and (stored.fetched_at or 0.0) >= floor:
            fetched_at = stored.fetched_at or 0.0
            got = await asyncio.to_thread(decode, key.endpoint, stored.payload, fetched_at)
            if got is not None:
                return got
        error = stored.error
        if error is not None and (stored.failed_at or 0.0) >= started_at:
            raise UpstreamError(
                error.error_type,
                f"{error.message} (fetched by another process)",
                status_code=error.status_code,
            )
        return None

    def _hold(self, lease: Lease) -> _Holding:
        renewing = asyncio.get_running_loop().create_task(self._renew(lease))
        holding = _Holding(lease, renewing)
        self._holding[lease.name] = holding
        return holding

    async def _let_go(self, holding: _Holding) -> None:
        holding.members -= 1
        if holding.members > 0:
            return
        if self._holding.get(holding.lease.name) is holding:
            del self._holding[holding.lease.name]
        holding.renewing.cancel()
        results, holding.results = holding.results, []
        await self._quietly(self.tier.release(holding.lease, results))

    async def _fetch_holding(
        self,
        holding: _Holding,
        key: RequestKey,
        shared: str,
        fetch_here: Callable[[], Awaitable[Fetched]],
        floor: float,
        started_at: float,
        *,
        check_first: bool,
    ) -> Fetched:
        holding.members += 1
        try:
            if check_first:
                # The last holder may have stored our answer between our look and the take.
                again = await self._shared(key, await self.tier.read(shared), floor, started_at)
                if again is not None:
                    self.served += 1
                    return again
            # Stored when the lease is given up (with the workspace's other responses).
            try:
                fetched = await fetch_here()
            except UpstreamError as exc:
                failed = Stored(failed_at=self._clock.now().timestamp(), error=exc)
                holding.results.append((shared, failed))
                raise
            self.fetched_here += 1
            now = self._clock.now()
            blob = await asyncio.to_thread(encode, fetched, self._redactor)
            holding.results.append((shared, Stored(now.timestamp(), blob)))
            return fetched
        finally:
            # Shielded: a cancelled fetch (the console quitting) still gives the lease up.
            await asyncio.shield(self._let_go(holding))

    async def _renew(self, lease: Lease, tier: Tier | None = None) -> None:
        tier = tier or self.tier
        with contextlib.suppress(TierUnavailable):
            while True:
                await self._clock.sleep(self._lease / 3)
                if not await tier.renew(lease):
                    log.warning("lost the shared lease %s", lease.name)
                    return

    async def _quietly(self, step: Awaitable[None]) -> None:
        try:
            await step
        except TierUnavailable as exc:
            self._mark_down(exc)

    # -- the master-token lock ----------------------------------------------------------

    def token_guard(self, instance: InstanceConfig, token: SecretStr) -> TokenGuard:
        """The cross-process lock of ``instance``'s master ``token``."""
        digest = hashlib.sha256(
            f"portal-tui token lock\0{instance.base_url}\0{token.get_secret_value()}".encode()
        ).hexdigest()[:32]
        return TokenLock(self, f"token:{digest}", max_wait=instance.request_deadline)


@dataclass(slots=True)
class _Holding:
    """A workspace's lease held by this process, and how many of its loads use it."""

    lease: Lease
    renewing: asyncio.Task[None]
    members: int = 0
    results: list[tuple[str, Stored]] = field(default_factory=list)


@dataclass(slots=True)
class _Held:
    """The token's lock, held through one tier or two (the records file and Redis)."""

    loads: SharedLoads
    leases: list[tuple[Tier, Lease, asyncio.Task[None]]]
    waited: float
    taken: float

    def may_keep(self) -> bool:
        return self.loads._clock.monotonic() - self.taken < TOKEN_TURN

    async def release(self) -> None:
        # The other way round from taking: Redis first, the records file last.
        for tier, lease, renewing in reversed(self.leases):
            renewing.cancel()
            await self.loads._quietly(tier.release(lease))


@dataclass(slots=True)
class _Unheld:
    """The lock could not be taken through any tier: the process goes on alone."""

    waited: float

    def may_keep(self) -> bool:
        return False

    async def release(self) -> None:
        return None


class TokenLock:
    """A master token's switch+fetch lock, held as a lease for one session at a time."""

    def __init__(self, loads: SharedLoads, name: str, *, max_wait: float) -> None:
        self._loads = loads
        self._name = name
        self._max_wait = max_wait

    async def acquire(self) -> GuardHold:
        """Wait for the token (next in line once refused); raises UpstreamError after
        ``max_wait`` seconds of another process holding it.

        Under Redis the records file's lock is taken first, then Redis's: if Redis
        goes away mid-session, the processes on this file still wait for each other.
        """
        loads, clock = self._loads, self._loads._clock
        start = clock.monotonic()
        tiers: list[Tier] = []
        if loads._local is not None:
            tiers.append(loads._local)
        if loads._locks is not None:
            tiers.append(loads._locks)
        elif not loads._is_down():
            tiers.append(loads.tier)
        held: list[tuple[Tier, Lease, asyncio.Task[None]]] = []
        try:
            for tier in tiers:
                lease = await self._take(tier, start)
                if lease is not None:
                    renewing = asyncio.get_running_loop().create_task(loads._renew(lease, tier))
                    held.append((tier, lease, renewing))
        except BaseException:
            await _Held(loads, held, 0.0, 0.0).release()
            raise
        waited = clock.monotonic() - start
        if not held:
            return _Unheld(waited)
        return _Held(loads, held, waited, clock.monotonic())

    async def _take(self, tier: Tier, start: float) -> Lease | None:
        """The lease through ``tier``, or None if the tier failed (it is then marked)."""
        loads, clock = self._loads, self._loads._clock
        try:
            while True:
                lease = await tier.take(self._name, queue=True)
                if lease is not None:
                    return lease
                waited = clock.monotonic() - start
                if waited >= self._max_wait:
                    raise UpstreamError(
                        ErrorType.TIMEOUT,
                        f"the master token stayed in use by another process for "
                        f"{waited:.0f} s (shared lock on {tier.kind})",
                    )
                await tier.wait(self._name, min(loads._lease, self._max_wait - waited))
        except TierUnavailable as exc:
            if tier is loads.tier:
                loads._mark_down(exc)
            return None
