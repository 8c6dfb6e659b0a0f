"""Property-based tests (hypothesis): the cache as a state machine, parsers fed anything.

- :class:`CacheMachine` drives :class:`TtlCache` on a manual :class:`FakeClock`
  with loads the test resolves by hand, so gets, load completions, clears,
  prunes and the passage of time interleave in every order hypothesis
  likes. It checks: no value older than ``max_staleness`` is ever returned;
  a result is stale only after a failed load and is then always flagged with
  the error; concurrent gets of one key share one upstream call.
- The payload parsers (``EmailBisonClient._classify`` and the whole
  ``request`` path through httpx) fed arbitrary JSON, arbitrary bytes,
  statuses, encodings and ``Retry-After`` values return a model or raise
  :class:`UpstreamError`, never KeyError, TypeError, ValueError or
  RecursionError.
- The config parser fed mangled versions of ``config.example.toml`` returns a
  Config or raises :class:`ConfigError`, nothing else.

Example counts are kept modest so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from pydantic import BaseModel, SecretStr

from portal_tui.config import Config, InstanceConfig, parse_config
from portal_tui.fetch.cache import CacheResult, TtlCache
from portal_tui.fetch.fetcher import MODELS
from portal_tui.upstream.client import EmailBisonClient, Reply, parse_retry_after
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ConfigError, ErrorType, UpstreamError
from support import STATS_PAYLOAD

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MAX_STALENESS = 100.0
KEYS = ("stats", "schedules")
EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


class LoadFailed(Exception):
    """What a failed upstream load raises in the cache machine."""


# -- the cache as a state machine ---------------------------------------------------------


class CacheMachine(RuleBasedStateMachine):
    """TtlCache under arbitrary interleavings of gets, load outcomes, clears and time."""

    gets = Bundle("gets")

    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(NOW, autojump=False)
        self.cache: TtlCache[str, int] = TtlCache(self.clock, max_staleness=MAX_STALENESS)
        self.calls = dict.fromkeys(KEYS, 0)  # loader invocations = upstream calls
        self.pending: dict[str, list[asyncio.Future[int]]] = {k: [] for k in KEYS}
        self.loaded_at: dict[int, float] = {}  # value -> monotonic time its load succeeded
        self.next_value = 1
        self.last_load_failed = dict.fromkeys(KEYS, False)
        self.tasks: list[tuple[str, asyncio.Task[CacheResult[int]]]] = []
        # Start warm, as a console does after its first refresh: one good value per key.
        for key in KEYS:
            self.get(key, ttl=1.0, force=False, spins=1)
            self.finish_load(key, ok=True, spins=5)

    def teardown(self) -> None:
        if not hasattr(self, "loop"):
            return
        tasks, self.tasks = self.tasks, []
        for _, task in tasks:
            task.cancel()
        for futures in self.pending.values():
            for fut in futures:
                fut.cancel()
        self._spin(10)
        self.loop.close()

    def _spin(self, rounds: int) -> None:
        async def spin() -> None:
            for _ in range(rounds):
                await asyncio.sleep(0)

        self.loop.run_until_complete(spin())
        self._harvest()  # judge results at the time they were returned

    def _loader(self, key: str) -> Any:
        async def load() -> int:
            self.calls[key] += 1
            fut: asyncio.Future[int] = self.loop.create_future()
            self.pending[key].append(fut)
            return await fut

        return load

    @rule(
        key=st.sampled_from(KEYS),
        # TTLs on both sides of max_staleness: a config may set a TTL longer than it.
        ttl=st.sampled_from([1.0, 30.0, MAX_STALENESS, 1.5 * MAX_STALENESS])
        | st.floats(1.0, 2 * MAX_STALENESS),
        force=st.booleans(),
        spins=st.integers(0, 4),
    )
    def get(self, key: str, ttl: float, force: bool, spins: int) -> None:
        coro = self.cache.get(key, self._loader(key), ttl=ttl, force=force, tags=(key,))
        self.tasks.append((key, self.loop.create_task(coro)))
        self._spin(spins)

    @precondition(lambda self: any(f for fs in self.pending.values() for f in fs if not f.done()))
    @rule(key=st.sampled_from(KEYS), ok=st.booleans(), spins=st.integers(0, 6))
    def finish_load(self, key: str, ok: bool, spins: int) -> None:
        open_loads = [f for f in self.pending[key] if not f.done()]
        if not open_loads:
            return
        fut = open_loads[0]
        if ok:
            value = self.next_value
            self.next_value += 1
            self.loaded_at[value] = self.clock.monotonic()
            fut.set_result(value)
        else:
            fut.set_exception(LoadFailed(f"upstream down for {key}"))
        self.last_load_failed[key] = not ok
        self._spin(spins)

    @precondition(lambda self: any(f for fs in self.pending.values() for f in fs if not f.done()))
    @rule(key=st.sampled_from(KEYS), which=st.none() | st.sampled_from(KEYS))
    def clear_as_a_load_completes(self, key: str, which: str | None) -> None:
        """The console's clear-cache key pressed just as an answer arrives (a narrow window)."""
        open_loads = [f for f in self.pending[key] if not f.done()]
        if not open_loads:
            return
        value = self.next_value
        self.next_value += 1
        self.loaded_at[value] = self.clock.monotonic()
        open_loads[0].set_result(value)
        self.last_load_failed[key] = False
        self._spin(0)  # the load stores its entry; its waiters have not resumed yet
        self.cache.clear(which)

    @rule(spins=st.integers(1, 6))
    def run_loop(self, spins: int) -> None:
        self._spin(spins)

    @rule(
        seconds=st.sampled_from([0.0, 1.0, 29.0, 31.0, MAX_STALENESS + 1])
        | st.floats(0.0, 1.5 * MAX_STALENESS)
    )
    def advance(self, seconds: float) -> None:
        # Time passes only while the loop is idle: work that is ready runs first.
        self._spin(20)
        self.clock.advance(seconds)

    @rule(key=st.none() | st.sampled_from(KEYS))
    def clear(self, key: str | None) -> None:
        self.cache.clear(key)

    @rule()
    def prune(self) -> None:
        self.cache.prune()

    @invariant()
    def one_upstream_call_per_key_at_a_time(self) -> None:
        if not hasattr(self, "pending"):
            return
        for key in KEYS:
            in_flight = [f for f in self.pending[key] if not f.done()]
            assert len(in_flight) <= 1, f"{len(in_flight)} concurrent upstream calls for {key}"

    @invariant()
    def finished_gets_are_sound(self) -> None:
        if hasattr(self, "tasks"):
            self._harvest()

    def _harvest(self) -> None:
        now = self.clock.monotonic()
        still: list[tuple[str, asyncio.Task[CacheResult[int]]]] = []
        for key, task in self.tasks:
            if not task.done():
                still.append((key, task))
                continue
            error = task.exception()
            if error is not None:
                # Only the loader's own failure may surface, and only without a fallback.
                assert isinstance(error, LoadFailed), f"get({key!r}) raised {error!r}"
                continue
            result = task.result()
            real_age = now - self.loaded_at[result.value]
            assert real_age <= MAX_STALENESS + 1e-9, (
                f"served a value {real_age:.1f} s old (max staleness {MAX_STALENESS:g} s)"
            )
            assert result.age == real_age or abs(result.age - real_age) < 1e-6
            if result.stale:
                assert isinstance(result.error, LoadFailed)
                assert result.from_cache
            else:
                assert result.error is None
        self.tasks = still


CacheMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCacheMachine = CacheMachine.TestCase


async def test_a_ttl_longer_than_max_staleness_never_serves_older_data() -> None:
    # The machine's finding, pinned: a caller TTL above max_staleness used to be a hit.
    clock = FakeClock(NOW, autojump=False)
    cache: TtlCache[str, int] = TtlCache(clock, max_staleness=MAX_STALENESS)

    async def one() -> int:
        return 1

    async def down() -> int:
        raise LoadFailed("down")

    await cache.get("k", one, ttl=1.0)
    clock.advance(MAX_STALENESS + 1)
    with pytest.raises(LoadFailed):  # too old to serve, even as stale
        await cache.get("k", down, ttl=10 * MAX_STALENESS)
    fresh = await cache.get("k", one, ttl=10 * MAX_STALENESS)
    assert not fresh.from_cache and fresh.age == 0


# -- payload parsers fed anything ---------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["12", "3.5", "1,234", "-1", "", "7%", "1e3", "nan", "Infinity"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)

MAILBOX = {
    "id": 1,
    "email": "a@x.io",
    "status": "Connected",
    "daily_limit": 30,
    "tags": [{"id": 1, "name": "Zapmail"}],
    "emails_sent_count": 1,
    "total_replied_count": 0,
    "unique_replied_count": 0,
    "bounced_count": 0,
}


def _valid_payloads() -> dict[type[BaseModel], Any]:
    by_endpoint = {
        "workspaces": {"data": [{"id": 1, "name": "Acme"}]},
        "switch-workspace": {"data": {"ok": True}},
        "stats": {"data": STATS_PAYLOAD},
        "sending-schedules": {
            "data": [
                {"id": 1, "name": "c", "status": "on", "daily_limit": 1, "emails_being_sent": 1}
            ]
        },
        "sender-emails": {
            "data": [MAILBOX],
            "links": {"next": None},
            "meta": {"current_page": 1, "last_page": 1, "per_page": 15, "total": 1},
        },
    }
    return {model: by_endpoint[endpoint.value] for endpoint, model in MODELS.items()}


VALID = _valid_payloads()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[type[BaseModel], Any]:
    """A valid payload of some endpoint with a few nodes replaced or deleted."""
    model = draw(st.sampled_from(sorted(VALID, key=lambda m: m.__name__)))
    doc = json.loads(json.dumps(VALID[model]))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return model, doc


def _client(transport: httpx.AsyncBaseTransport | None = None) -> EmailBisonClient:
    instance = InstanceConfig(name="prop", base_url="https://bison.test/api")
    return EmailBisonClient(instance, transport=transport, now=lambda: NOW)


_SHARED: list[EmailBisonClient] = []


def _classify(status: int, body: bytes, model: type[BaseModel], headers: Any = None) -> Any:
    if not _SHARED:  # one client: building its TLS context costs more than the test itself
        _SHARED.append(_client())
    client = _SHARED[0]
    response = httpx.Response(status, content=body, headers=headers or {})
    try:
        return client._classify(response, body, model)
    except UpstreamError as exc:
        return exc


def _assert_model_or_upstream_error(outcome: Any, model: type[BaseModel]) -> None:
    if isinstance(outcome, Reply):
        assert isinstance(outcome.payload, model)
    else:
        assert isinstance(outcome, UpstreamError), f"{type(outcome).__name__}: {outcome}"


@settings(max_examples=150, deadline=None)
@given(model=st.sampled_from(sorted(MODELS.values(), key=lambda m: m.__name__)), doc=json_values)
def test_arbitrary_json_is_a_model_or_a_validation_error(model: type[BaseModel], doc: Any) -> None:
    outcome = _classify(200, json.dumps(doc).encode(), model)
    _assert_model_or_upstream_error(outcome, model)
    if isinstance(outcome, UpstreamError):
        assert outcome.error_type is ErrorType.VALIDATION and outcome.status_code == 200


@settings(max_examples=200, deadline=None)
@given(case=mutated_payloads())
def test_nearly_valid_payloads_are_a_model_or_a_validation_error(
    case: tuple[type[BaseModel], Any],
) -> None:
    model, doc = case
    outcome = _classify(200, json.dumps(doc).encode(), model)
    _assert_model_or_upstream_error(outcome, model)


@settings(max_examples=100, deadline=None)
@given(
    model=st.sampled_from(sorted(MODELS.values(), key=lambda m: m.__name__)),
    body=st.binary(max_size=64)
    | st.sampled_from(
        [b"[" * 50_000, b"1" * 5_000, b'{"data": ' + b"9" * 4_400 + b"}", b"\xef\xbb\xbf{}", b""]
    ),
)
def test_arbitrary_bytes_never_escape_as_anything_but_upstream_errors(
    model: type[BaseModel], body: bytes
) -> None:
    _assert_model_or_upstream_error(_classify(200, body, model), model)


@settings(max_examples=150, deadline=None)
@given(
    status=st.integers(100, 599),
    retry_after=st.none()
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "5",
            "-3",
            "1e400",
            "nan",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Mon, 01 Jan 99999 00:00:00 GMT",
        ]
    ),
    doc=json_values,
)
def test_every_status_is_classified_never_read_as_data(
    status: int, retry_after: str | None, doc: Any
) -> None:
    headers = {} if retry_after is None else {"Retry-After": retry_after.encode("utf-8", "ignore")}
    outcome = _classify(status, json.dumps(doc).encode(), MODELS[next(iter(MODELS))], headers)
    if not 200 <= status < 300:
        assert isinstance(outcome, UpstreamError)
        expected = (
            ErrorType.RATE_LIMITED
            if status == 429
            else ErrorType.SERVER_5XX
            if status >= 500
            else ErrorType.CLIENT_4XX
        )
        assert outcome.error_type is expected and outcome.status_code == status
        assert outcome.retry_after is None or outcome.retry_after >= 0


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=60))
def test_retry_after_is_none_or_a_non_negative_wait(text: str) -> None:
    wait = parse_retry_after(text, NOW)
    assert wait is None or wait >= 0


@settings(max_examples=80, deadline=None)
@given(
    model=st.sampled_from(sorted(MODELS.values(), key=lambda m: m.__name__)),
    body=json_values.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=40),
    status=st.sampled_from([200, 201, 204, 301, 400, 401, 404, 429, 500, 502, 503]),
    encoding=st.none() | st.sampled_from(["gzip", "deflate", "br", "identity", "x-bogus"]),
)
def test_the_whole_request_path_returns_a_model_or_an_upstream_error(
    model: type[BaseModel], body: bytes, status: int, encoding: str | None
) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    async def go() -> Any:
        client = _client(httpx.MockTransport(handler))
        try:
            return await client.request("GET", "stats", token=SecretStr("tok"), model=model)
        except UpstreamError as exc:
            return exc
        finally:
            await client.aclose()

    _assert_model_or_upstream_error(asyncio.run(go()), model)


# -- the config parser fed mangled files --------------------------------------------------

EXAMPLE_LINES = EXAMPLE.read_text(encoding="utf-8").splitlines()
CONFIG_VALUES = st.sampled_from(
    [
        '""',
        "-1",
        "0",
        "1e999",
        "true",
        "'x'",
        "[]",
        "{}",
        "[1, 'a']",
        "'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",
        "nan",
        "inf",
        "2026-01-01",
    ]
)


@st.composite
def mangled_configs(draw: st.DrawFn) -> str:
    """``config.example.toml`` with lines dropped, duplicated, or given odd values."""
    lines = list(EXAMPLE_LINES)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "value", "garble"]))
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif (
            action == "value" and "=" in lines[index] and not lines[index].lstrip().startswith("#")
        ):
            key = lines[index].split("=", 1)[0]
            lines[index] = f"{key}= {draw(CONFIG_VALUES)}"
        else:
            lines[index] = draw(st.text(max_size=20))
    return "\n".join(lines)


@settings(max_examples=120, deadline=None)
@given(text=mangled_configs())
def test_a_mangled_config_is_a_config_or_one_config_error(text: str) -> None:
    try:
        config = parse_config(text, source="mangled.toml")
    except ConfigError as exc:
        assert str(exc).startswith("mangled.toml")
        assert "\n" not in str(exc).strip() or "TOML" in str(exc)
    else:
        assert isinstance(config, Config)
