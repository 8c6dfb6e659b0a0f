"""Limits on what the upstream sends: a size cap on bodies, plausibility bounds on numbers.

- A body larger than ``max_response_bytes`` fails its call as ``validation``
  ("response larger than N bytes"), is never retried, and is never buffered
  past the cap: reading stops at the first chunk beyond it (an endless body
  costs a few chunks), and a ``Content-Length`` over the cap is refused
  unread. An error status with an oversized body keeps its status.
- Counts beyond ±10^9 and percentages that are not finite numbers within
  ±10,000 (NaN, Infinity, ``"-inf"``, ``1e309``, 15000) are validation errors
  naming the field, the bound and the value sent; nothing is clamped and
  nothing reaches a total. (The sign is each dashboard's rule, as the SPEC
  has it: Volume warns about a negative count.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from portal_tui.cli import main
from portal_tui.config import InstanceConfig, parse_config
from portal_tui.dashboards.base import issues_from_validation_error
from portal_tui.upstream.client import Answer, EmailBisonClient, PayloadError
from portal_tui.upstream.models import MAX_COUNT, StatsResponse
from portal_tui.vocabulary.errors import ErrorType, UpstreamError
from portal_tui.vocabulary.names import DashboardName
from support import MASTER, STATS_PAYLOAD, hand_dataset, rig, simulator_in_thread


class Endless(httpx.AsyncByteStream):
    """A body that never ends, counting the chunks taken from it."""

    def __init__(self, chunk: int = 1024) -> None:
        self.chunk = chunk
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.taken += 1
            yield b"0" * self.chunk


class Serving(httpx.AsyncBaseTransport):
    """Answers every request with ``status``, ``headers`` and ``stream``."""

    def __init__(
        self, status: int, stream: httpx.AsyncByteStream, headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.stream, self.headers = status, stream, headers or {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, stream=self.stream)


def client(transport: httpx.AsyncBaseTransport, cap: int = 4096) -> EmailBisonClient:
    inst = InstanceConfig(name="a", base_url="https://h/api", max_response_bytes=cap)
    return EmailBisonClient(inst, transport=transport)


async def fetch(transport: httpx.AsyncBaseTransport, cap: int = 4096) -> UpstreamError:
    c = client(transport, cap)
    with pytest.raises(UpstreamError) as caught:
        await c.request("GET", "workspaces/v1.1/stats", token=SecretStr("t"), model=StatsResponse)
    return caught.value


async def test_an_endless_body_is_read_only_to_the_cap() -> None:
    body = Endless()
    error = await fetch(Serving(200, body))
    assert error.error_type is ErrorType.VALIDATION and not error.error_type.is_retryable
    assert error.message.startswith("response larger than 4096 bytes")
    assert error.status_code == 200
    assert body.taken == 5  # 4 chunks of 1 KiB fit; the fifth passes the cap and ends it


async def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    body = Endless()
    error = await fetch(Serving(200, body, {"Content-Length": str(10**9)}))
    assert error.error_type is ErrorType.VALIDATION and body.taken == 0


async def test_an_error_status_with_a_huge_body_keeps_its_status() -> None:
    error = await fetch(Serving(503, Endless()))
    assert error.error_type is ErrorType.SERVER_5XX and error.status_code == 503


async def test_a_body_at_the_cap_is_read() -> None:
    payload = json.dumps({"data": STATS_PAYLOAD}).encode()
    padded = payload[:-1] + b', "pad": "' + b"x" * (4096 - len(payload) - 11) + b'"}'
    assert len(padded) == 4096
    reply = await client(Serving(200, httpx.ByteStream(padded))).request(
        "GET", "stats", token=SecretStr("t"), model=StatsResponse
    )
    assert reply.size_bytes == 4096


def test_the_cap_is_configurable_and_bounded() -> None:
    config = parse_config(
        "[[instances]]\nname = 'a'\nbase_url = 'https://h/api'\nmax_response_bytes = 65536\n"
    )
    assert config.instances[0].max_response_bytes == 65536
    assert InstanceConfig(name="a", base_url="https://h/api").max_response_bytes == 16 * 2**20
    with pytest.raises(ValueError):
        InstanceConfig(name="a", base_url="https://h/api", max_response_bytes=0)


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[[list[str]], tuple[int, str, str]]:
    monkeypatch.setenv("LIMITS_TEST_MASTER", MASTER)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def invoke(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return int(code), out, err

    return invoke


def test_a_huge_body_over_loopback_http_fails_its_call_once(
    tmp_path: Path, run_cli: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    db = tmp_path / "records.sqlite3"
    with simulator_in_thread(hand_dataset(), "huge@2/stats=1000000") as (base_url, sim):
        config = tmp_path / "portal.toml"
        config.write_text(
            f"[[instances]]\nname = 'sim'\nbase_url = '{base_url}'\n"
            "master_token_env = 'LIMITS_TEST_MASTER'\nmax_response_bytes = 65536\n"
            "attempt_timeout = 2.0\nrequest_deadline = 4.0\n"
            "[retry]\nattempts = 3\nbackoff_initial = 0.05\njitter = 0.0\n"
            f"[storage]\npath = '{db}'\n"
        )
        code, out, err = run_cli(["check", "--json", "--dashboard", "kpi", "--config", str(config)])
        assert sim.counters.faults["huge"] == 4  # each stats window once: never retried
    assert code in (1, 2), err
    failed = json.loads(out)["dashboards"]["kpi"]["failed_workspaces"]
    acme = [f for f in failed if f["workspace"] == "Acme Corp"]
    assert acme and acme[0]["error_type"] == "validation" and acme[0]["attempts"] == 1
    assert "response larger than 65536 bytes" in acme[0]["message"]
    assert {f["workspace"] for f in failed} == {"Acme Corp"}  # the others are untouched
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT error_type, status_code, error_message FROM api_health_logs "
            "WHERE workspace = 'Acme Corp' AND success = 0"
        ).fetchall()
    assert len(rows) == 4
    assert all(r[0] == "validation" and r[1] == 200 and "larger than" in r[2] for r in rows)


# -- plausibility ---------------------------------------------------------------------


def stats_body(**fields: Any) -> bytes:
    data = {**STATS_PAYLOAD, **fields}
    return json.dumps({"data": data}).encode()


@pytest.mark.parametrize(
    ("field", "raw", "expected", "actual"),
    [
        ("opened_percentage", "NaN", "a finite number", "'NaN'"),
        ("opened_percentage", "Infinity", "a finite number", "'Infinity'"),
        ("bounced_percentage", "-inf", "a finite number", "'-inf'"),
        ("bounced_percentage", "1e309", "a finite number", "'1e309'"),
        ("interested_percentage", 15000, "<= 10000.0", "15000"),
        ("interested_percentage", -15000, ">= -10000.0", "-15000"),
        ("interested", 10**25, "<= 1000000000", str(10**25)),
        ("emails_sent", 10**30, "<= 1000000000", str(10**30)),
        ("emails_sent", "1e30", "<= 1000000000", "'1e30'"),
        ("bounced", -(10**12), ">= -1000000000", str(-(10**12))),
    ],
)
def test_implausible_numbers_are_validation_errors(
    field: str, raw: object, expected: str, actual: str
) -> None:
    c = client(Serving(200, httpx.ByteStream(b"")))
    with pytest.raises(PayloadError) as caught:
        c.parse(Answer(200, stats_body(**{field: raw})), StatsResponse)
    assert caught.value.validation is not None
    issues = issues_from_validation_error(
        caught.value.validation, dashboard=DashboardName.KPI, workspace="w", prefix="stats"
    )
    assert [(i.field_name, i.error_type.value, i.expected, i.actual) for i in issues] == [
        (f"stats.data.{field}", "range_error", expected, actual)
    ]


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e309"])
def test_non_finite_json_literals_are_refused(raw: bytes) -> None:
    body = stats_body(opened_percentage=0).replace(
        b'"opened_percentage": 0', b'"opened_percentage": ' + raw
    )
    assert raw in body
    c = client(Serving(200, httpx.ByteStream(b"")))
    with pytest.raises(PayloadError) as caught:
        c.parse(Answer(200, body), StatsResponse)
    assert "opened_percentage" in caught.value.message


def test_plausible_numbers_pass_as_the_real_api_sends_them() -> None:
    c = client(Serving(200, httpx.ByteStream(b"")))
    body = stats_body(interested=str(MAX_COUNT), opened_percentage="100", bounced="1,234")
    reply = c.parse(Answer(200, body), StatsResponse)
    data = reply.payload.data  # type: ignore[attr-defined]
    assert (data.interested, data.opened_percentage, data.bounced) == (MAX_COUNT, 100.0, 1234)


async def test_implausible_counts_never_reach_a_total(tmp_path: Path) -> None:
    async with rig(
        tmp_path,
        faults="drift@2/stats=implausible:interested,drift@3/stats=implausible:opened_percentage",
    ) as r:
        await r.monitor.refresh(force=True)
        kpi = r.monitor.snapshots[DashboardName.KPI]
        assert kpi.totals["leads_generated"] < MAX_COUNT
        assert {row.workspace_id for row in kpi.rows} == {4}  # Initech only
        stored = await r.store.open_validation_errors("kpi")
    found = {(e.workspace, e.field_name, e.expected, e.actual) for e in stored}
    assert ("Acme Corp", "stats.data.interested", "<= 1000000000", str(10**25)) in found
    assert ("Globex", "stats.data.opened_percentage", "a finite number", "inf") in found
