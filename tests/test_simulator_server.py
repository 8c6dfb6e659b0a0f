"""The loopback HTTP server: protocol handling, concurrency, and the ``simulate`` command."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from portal_tui.simulator import (
    DEFAULT_SEED,
    LatencyModel,
    Simulator,
    SimulatorServer,
    generate_dataset,
    run,
    serve_simulator,
)
from portal_tui.simulator.server import is_loopback
from portal_tui.vocabulary.clock import FakeClock


@pytest.fixture
async def served() -> AsyncIterator[tuple[Simulator, SimulatorServer]]:
    sim = Simulator(generate_dataset(3, seed=5, mailboxes_per_workspace=12), clock=FakeClock())
    async with serve_simulator(sim) as server:
        yield sim, server


async def raw_exchange(server: SimulatorServer, payload: bytes) -> bytes:
    """Send ``payload`` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(payload)
    await writer.drain()
    try:
        async with asyncio.timeout(5):
            return await reader.read()  # until the server closes
    finally:
        writer.close()


def request_bytes(server: SimulatorServer, head: str, body: bytes = b"") -> bytes:
    return head.replace("{host}", f"{server.host}:{server.port}").encode() + body


async def test_base_url_and_keep_alive(served: tuple[Simulator, SimulatorServer]) -> None:
    sim, server = served
    assert server.base_url == f"http://127.0.0.1:{server.port}/api" and server.port > 0
    limits = httpx.Limits(max_connections=1)
    headers = {"Authorization": f"Bearer {sim.dataset.master_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits) as client:
        for _ in range(5):
            reply = await client.get("workspaces/v1.1", headers=headers)
            assert reply.status_code == 200 and reply.headers["connection"] == "keep-alive"
    assert server.connections_accepted == 1


async def test_concurrent_connections_are_served_concurrently() -> None:
    clock = FakeClock(autojump=False)  # time moves only when every request is in flight
    sim = Simulator(generate_dataset(5, seed=5), clock=clock, latency=LatencyModel.fixed(1.0))
    async with (
        serve_simulator(sim) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        calls = [
            asyncio.ensure_future(
                client.get("sender-emails", headers={"Authorization": f"Bearer {w.token}"})
            )
            for w in sim.dataset.workspaces
            for _ in range(6)
        ]
        for _ in range(3000):  # 30 s at least: every connection accepted and in flight
            if sim.counters.in_flight == 30:
                break
            await asyncio.sleep(0.01)
        assert sim.counters.in_flight == 30
        clock.advance(1.0)
        replies = await asyncio.gather(*calls)
    assert [r.status_code for r in replies] == [200] * 30
    assert sim.counters.max_in_flight == 30 and server.connections_accepted >= 30


async def test_raw_protocol_edges(served: tuple[Simulator, SimulatorServer]) -> None:
    sim, server = served
    token = sim.dataset.master_token
    garbage = await raw_exchange(server, b"HELLO\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")

    team = sim.dataset.workspaces[2].id
    body = f'{{"team_id": {team}}}'.encode()
    chunked = request_bytes(
        server,
        "POST /api/workspaces/v1.1/switch-workspace HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n",
    )
    answer = await raw_exchange(server, chunked)
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in answer
    assert sim.current_workspace(token) == team

    expect = request_bytes(
        server,
        "POST /api/workspaces/v1.1/switch-workspace HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n",
        body,
    )
    answer = await raw_exchange(server, expect)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")

    absolute = request_bytes(
        server,
        "GET http://{host}/api/sender-emails?per_page=5&page=2 HTTP/1.0\r\n"
        f"Authorization: Bearer {token}\r\n\r\n",
    )
    answer = await raw_exchange(server, absolute)  # HTTP/1.0: the server closes after it
    assert answer.startswith(b"HTTP/1.1 200 OK") and b'"current_page":2' in answer
    assert f"http://{server.host}:{server.port}/api/sender-emails".encode() in answer

    too_big = await raw_exchange(
        server, request_bytes(server, "POST /api/x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
    )
    assert too_big.startswith(b"HTTP/1.1 413 ")
    bad_header = await raw_exchange(server, b"GET /api/x HTTP/1.1\r\nno colon here\r\n\r\n")
    assert bad_header.startswith(b"HTTP/1.1 400 ")


def test_loopback_only_unless_allowed() -> None:
    sim = Simulator(generate_dataset(1))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    with pytest.raises(ValueError, match="non-loopback"):
        SimulatorServer(sim, host="0.0.0.0")
    assert SimulatorServer(sim, host="0.0.0.0", allow_remote=True).host == "0.0.0.0"
    with pytest.raises(ValueError, match="non-loopback"):
        run(host="192.0.2.1")
    with pytest.raises(ValueError, match="unknown fault kind"):
        run(port=0, faults="bogus")
    with pytest.raises(ValueError, match="names workspace 999, which this simulator does not"):
        run(port=0, workspaces=2, faults="5xx@2=0.1,dup@2=1:from=999")


def test_run_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ValueError, match=r"cannot listen on 127\.0\.0\.1"):
            run(port=busy.getsockname()[1], workspaces=2)


async def test_simulate_command_serves_until_ctrl_c() -> None:
    code = (
        "import sys; from portal_tui.simulator.server import run; "
        "sys.exit(run(port=0, workspaces=3, faults='5xx@2=0.1'))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(15):
        while not lines or "Ctrl-C" not in lines[-1]:
            lines.append((await process.stdout.readline()).decode())
    banner = "".join(lines)
    base_url = next(x.split()[-1] for x in lines if x.startswith("listening on"))
    dataset = generate_dataset(3, seed=DEFAULT_SEED)
    assert f"PORTAL_TUI_SIM_MASTER_TOKEN='{dataset.master_token}'" in banner
    assert f'base_url = "{base_url}"' in banner and "faults: 5xx@2=rate=0.1" in banner
    assert not any(w.token in banner for w in dataset.workspaces)  # only the master hint
    assert f"workspace ids: {', '.join(str(w.id) for w in dataset.workspaces)}" in banner
    headers = {"Authorization": f"Bearer {dataset.master_token}"}
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("workspaces/v1.1", headers=headers)).status_code == 200
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(15):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "simulator stopped after 1 requests" in out.decode()
    assert "Traceback" not in err.decode()
