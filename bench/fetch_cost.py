"""The fetch layer's own CPU per logical request, without the network.

``python -m bench.fetch_cost [--requests N] [--repeats R]`` (not part of the suite)

A :class:`Fetcher` on the real clock over an in-memory ``httpx.MockTransport``
(no sockets, no simulator), requests awaited one at a time, CPU time
(``time.process_time``) per request. Two cases:

- ``ok``: every request succeeds at once (nearly every request in
  production: the happy path, which must not pay for the retry machinery);
- ``retried``: every request's first attempt gets a 503 and its second
  succeeds (backoff 0 s, so only the retry machinery's CPU shows).

Prints the median and range over the repeats, in µs per request. It uses the
fetcher's public API only, so the same file measures an older checkout
(``PYTHONPATH=<old>/src python bench/fetch_cost.py``), for before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

import httpx

from portal_tui.config import (
    BreakerConfig,
    ClientEntry,
    Config,
    InstanceConfig,
    RetryConfig,
    Secrets,
)
from portal_tui.fetch.fetcher import CallContext, Fetcher
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import SystemClock

_BODY = (
    b'{"data": {"emails_sent": 100, "total_leads_contacted": 50, "opened": 10,'
    b' "opened_percentage": 10.0, "unique_opens_per_contact": 5,'
    b' "unique_opens_per_contact_percentage": 10.0, "unique_replies_per_contact": 4,'
    b' "unique_replies_per_contact_percentage": 8.0, "bounced": 1,'
    b' "bounced_percentage": 1.0, "unsubscribed": 0, "unsubscribed_percentage": 0.0,'
    b' "interested": 3, "interested_percentage": 3.0}}'
)
_HEADERS = {"content-type": "application/json"}


async def per_request_us(requests: int, *, fail_first: bool) -> float:
    """CPU µs per logical request over ``requests`` sequential fetches."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if fail_first and calls % 2 == 1:
            return httpx.Response(503, content=b"{}", headers=_HEADERS)
        return httpx.Response(200, content=_BODY, headers=_HEADERS)

    client = ClientEntry(name="Acme", id=1, api_key_env="ACME")
    config = Config(
        instances=[
            InstanceConfig(
                name="main", base_url="https://bison.test/api", concurrency=5,
                attempt_timeout=45, request_deadline=120,
            )
        ],
        clients=[client],
        retry=RetryConfig(attempts=4, backoff_initial=0.0, backoff_max=0.0, jitter=0.0),
        # Never opens: every other attempt fails in the retried case.
        breaker=BreakerConfig(failure_threshold=10**9, reset_timeout=30),
    )  # fmt: skip
    fetcher = Fetcher(
        config,
        Secrets({"ACME": "acme-token-0123456789"}),
        SystemClock(),
        transports={"main": httpx.MockTransport(handler)},
    )
    ctx = CallContext("manual", ("kpi",), lambda record: None)
    ws = WorkspaceRef("main", 1, "Acme", client)
    key = RequestKey(
        "main", 1, Endpoint.STATS, (("start_date", "2026-11-01"), ("end_date", "2026-11-21"))
    )
    try:
        for _ in range(50):  # warm-up: imports, the pool, first-call caches
            await fetcher.fetch(key, ws, ctx)
        gc.collect()
        start = time.process_time()
        for _ in range(requests):
            await fetcher.fetch(key, ws, ctx)
        took = time.process_time() - start
    finally:
        await fetcher.aclose()
    expected = (50 + requests) * (2 if fail_first else 1)
    if calls != expected:  # measured something else than it says
        raise RuntimeError(f"{calls} HTTP calls for {50 + requests} requests, not {expected}")
    return took / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name, fail_first in (("ok", False), ("retried", True)):
        runs = [
            asyncio.run(per_request_us(args.requests, fail_first=fail_first))
            for _ in range(args.repeats)
        ]
        print(
            f"{name:8} {statistics.median(runs):7.1f} µs/request "
            f"({min(runs):.1f}–{max(runs):.1f}, {args.repeats} runs × {args.requests})"
        )


if __name__ == "__main__":
    main()
