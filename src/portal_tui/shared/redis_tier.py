"""The shared tier across machines: Redis (``[shared] redis_url``).

- a response: hash ``ptui:r:<key>`` (``fence``, ``fetched_at``, ``payload``,
  ``failure``), expiring after ``max_staleness``;
- a lease: ``ptui:l:<name>`` = ``holder|fence``, taken with ``SET NX PX`` and a
  fence from ``INCR ptui:f:<name>`` (a master-token lock, which also keeps one
  process next in line, takes it in one script);
- a lease's end: its name published on :data:`CHANNEL`, which wakes the
  waiters (they also look every ``poll_interval``, so a lost message or an
  expired lease costs that much).

Renewal, release and the fenced write are scripts: compare-then-act in one
step. Every call has a short timeout and no retries: a Redis that is down or
slow raises :class:`TierUnavailable` at once, and the caller fetches here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from portal_tui.shared.tier import (
    Lease,
    LeaseEnd,
    Stored,
    TierKind,
    TierUnavailable,
    redis_location,
)
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError

log = logging.getLogger(__name__)

PREFIX = "ptui:"
POOL_SIZE = 16
"""Connections per process (one of them listens for lease ends)."""
CHANNEL = f"{PREFIX}ended"

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: response. ARGV: fence, then field/value pairs. Fenced: an older holder never
# overwrites a newer one's result.
_PUT = """
local cur = redis.call('HGET', KEYS[1], 'fence')
if cur and tonumber(cur) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: lease. ARGV: lease value, channel, lease name.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""

# KEYS: lease, fence counter, next. ARGV: holder, lease ttl ms. -1: refused.
_TAKE_QUEUED = """
local nxt = redis.call('GET', KEYS[3])
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '|' then
  if (not nxt) or nxt == ARGV[1] then
    redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
  end
  return -1
end
if nxt and nxt ~= ARGV[1] then
  return -1
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
if nxt then
  redis.call('DEL', KEYS[3])
end
return fence
"""


class RedisTier:
    """Leases and shared responses in Redis."""

    kind: TierKind = "redis"

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        holder: str,
        password: str | None = None,
        timeout: float = 0.5,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.25,
        max_staleness: float = 3600.0,
    ) -> None:
        self.holder = holder
        self._where = redis_location(url)
        self._clock = clock
        self._timeout = timeout
        self._lease_ms = int(lease_seconds * 1000)
        self._poll = poll_interval
        self._response_ms = int(max_staleness * 1000)
        # No retries and short timeouts: a Redis that does not answer at once is down.
        # A bounded pool that queues (a refresh asks for hundreds of keys at once; the
        # plain pool refuses past its limit instead of waiting a moment).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            # Waiting for one of our own connections is not Redis being slow.
            timeout=max(5.0, 10 * timeout),
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
        )
        self._client: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._looks: dict[str, asyncio.Task[bool]] = {}
        self._reads: dict[str, list[asyncio.Future[Stored | None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._renew = self._client.register_script(_RENEW)
        self._put = self._client.register_script(_PUT)
        self._release = self._client.register_script(_RELEASE)
        self._take_queued = self._client.register_script(_TAKE_QUEUED)
        self._wakers: dict[str, asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None

    @property
    def where(self) -> str:
        """``host:port`` (never the password)."""
        return self._where

    async def _call(self, action: str, step: Any) -> Any:
        try:
            # The socket timeouts catch a slow Redis; this, anything else (a full pool).
            async with asyncio.timeout(self._timeout + max(5.0, 10 * self._timeout)):
                return await step
        except (RedisError, OSError, TimeoutError) as exc:
            raise TierUnavailable(f"{action}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # -- responses ----------------------------------------------------------------------

    async def read(self, key: str) -> Stored | None:
        """What is stored for ``key``, if anything. Reads asked for in one event-loop
        iteration go out as one pipeline (one connection, one round trip)."""
        fut: asyncio.Future[Stored | None] = asyncio.get_running_loop().create_future()
        self._reads.setdefault(key, []).append(fut)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_batch())
        return await fut

    async def _read_batch(self) -> None:
        await asyncio.sleep(0)  # let the rest of this iteration's reads join
        while self._reads:
            batch, self._reads = self._reads, {}
            pipe = self._client.pipeline(transaction=False)
            for key in batch:
                pipe.hmget(f"{PREFIX}r:{key}", ["fetched_at", "payload", "failure"])
            try:
                answers = await self._call("read", pipe.execute())
            except TierUnavailable as exc:
                for futures in batch.values():
                    for fut in futures:
                        if not fut.done():
                            fut.set_exception(exc)
                continue
            for futures, got in zip(batch.values(), answers, strict=True):
                stored = _stored(got)
                for fut in futures:
                    if not fut.done():
                        fut.set_result(stored)

    async def put(self, lease: Lease, key: str, stored: Stored) -> None:
        """Store the response or the failure (fenced), expiring after ``max_staleness``."""
        fields: list[Any]
        if stored.error is None:
            fields = ["fetched_at", repr(stored.fetched_at), "payload", stored.payload or b""]
            fields += ["failure", ""]
        else:
            error = stored.error
            failure = {
                "failed_at": stored.failed_at,
                "error_type": error.error_type.value,
                "error_message": error.message,
                "status_code": error.status_code,
            }
            fields = ["failure", json.dumps(failure)]
        await self._call(
            "share",
            self._put(keys=[f"{PREFIX}r:{key}"], args=[lease.fence, self._response_ms, *fields]),
        )

    # -- leases -------------------------------------------------------------------------

    async def take(self, name: str, *, queue: bool = False) -> Lease | None:
        """``SET NX PX`` with a fresh fence (a queued take runs as one script)."""
        lease_key, fence_key = f"{PREFIX}l:{name}", f"{PREFIX}f:{name}"
        if queue:
            fence = await self._call(
                "take",
                self._take_queued(
                    keys=[lease_key, fence_key, f"{PREFIX}n:{name}"],
                    args=[self.holder, self._lease_ms],
                ),
            )
            return None if int(fence) < 0 else Lease(name, self.holder, int(fence))
        if await self._call("look", self._client.exists(lease_key)):
            return None  # held: no fence spent
        fence = int(await self._call("fence", self._client.incr(fence_key)))
        taken = await self._call(
            "take",
            self._client.set(lease_key, f"{self.holder}|{fence}", nx=True, px=self._lease_ms),
        )
        return Lease(name, self.holder, fence) if taken else None

    async def renew(self, lease: Lease) -> bool:
        """Push the expiry on if the lease is still ours."""
        done = await self._call(
            "renew",
            self._renew(keys=[f"{PREFIX}l:{lease.name}"], args=[_value(lease), self._lease_ms]),
        )
        return bool(done)

    async def release(self, lease: Lease, results: Sequence[tuple[str, Stored]] = ()) -> None:
        """Store ``results``, then end the lease if still ours and wake the waiters."""
        for key, stored in results:
            await self.put(lease, key, stored)
        await self._call(
            "release",
            self._release(
                keys=[f"{PREFIX}l:{lease.name}"], args=[_value(lease), CHANNEL, lease.name]
            ),
        )

    # -- waiting ------------------------------------------------------------------------

    async def wait(self, name: str, within: float) -> LeaseEnd | None:
        """Until the lease on ``name`` ends (woken by its message, or seen at a look
        every ``poll_interval``), or None after ``within`` seconds."""
        await self._listen()
        waker = self._wakers.setdefault(name, asyncio.Event())
        clock = self._clock
        until = clock.monotonic() + within
        try:
            while True:
                if not await self._held(name):
                    return LeaseEnd("free")
                left = until - clock.monotonic()
                if left <= 0:
                    return None
                waker.clear()
                with contextlib.suppress(TimeoutError):
                    async with clock.timeout(min(left, self._poll)):
                        await waker.wait()
        finally:
            self._wakers.pop(name, None)

    async def _held(self, name: str) -> bool:
        """Whether ``name`` is leased; one look at a time per name, shared by its waiters
        (a process waits on one workspace's lease for each of its requests)."""
        look = self._looks.get(name)
        if look is None or look.done():
            look = asyncio.ensure_future(
                self._call("look", self._client.exists(f"{PREFIX}l:{name}"))
            )
            self._looks[name] = look

            def done(task: asyncio.Task[bool]) -> None:
                if self._looks.get(name) is task:
                    del self._looks[name]
                if not task.cancelled():
                    task.exception()  # retrieved: a waiter may have gone

            look.add_done_callback(done)
        return bool(await asyncio.shield(look))

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.done():
            return
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._call("subscribe", pubsub.subscribe(CHANNEL))
        except TierUnavailable:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub
        self._listener = asyncio.get_running_loop().create_task(self._listen_loop(pubsub))

    async def _listen_loop(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                data = message.get("data")
                name = data.decode() if isinstance(data, bytes) else str(data)
                waker = self._wakers.get(name)
                if waker is not None:
                    waker.set()
        except (RedisError, OSError) as exc:
            log.info("shared tier: Redis messages stopped: %s", exc)
            for waker in self._wakers.values():
                waker.set()  # look now: the look will say Redis is gone

    async def aclose(self) -> None:
        """Stop listening and close the pool."""
        for task in (self._listener, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._client.aclose()


def _value(lease: Lease) -> str:
    return f"{lease.holder}|{lease.fence}"


def _stored(got: list[Any]) -> Stored | None:
    fetched_at, payload, failure = got
    if fetched_at is None and failure is None:
        return None
    failed_at, error = _failure(failure)
    return Stored(
        float(fetched_at) if fetched_at else None,
        bytes(payload) if payload else None,
        failed_at,
        error,
    )


def _failure(raw: bytes | None) -> tuple[float | None, UpstreamError | None]:
    if not raw:
        return None, None
    try:
        doc = json.loads(raw)
        try:
            kind = ErrorType(doc.get("error_type"))
        except ValueError:
            kind = ErrorType.NETWORK
        error = UpstreamError(
            kind, str(doc.get("error_message") or "failed"), status_code=doc.get("status_code")
        )
        return float(doc["failed_at"]), error
    except (ValueError, KeyError, TypeError):
        return None, None
