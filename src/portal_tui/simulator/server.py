"""The simulator over real HTTP/1.1 on loopback (``asyncio.start_server``, no dependency).

Faults are real here: a reset aborts the TCP connection (RST) mid-body, a
trickle writes the body a few bytes at a time, and :class:`InstanceDown` in
``refuse`` mode closes the listening socket (clients get "connection
refused") until the fault is cleared, when the same port is listened on again.

Keep-alive with ``Content-Length``, concurrent connections, chunked request
bodies, ``Expect: 100-continue`` and ``Connection: close`` are handled; a
client that hangs up while its request hangs gets its work cancelled.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TextIO

from portal_tui.simulator.config_snippet import config_snippet
from portal_tui.simulator.core import SimRequest, SimResponse, Simulator
from portal_tui.simulator.data import Dataset
from portal_tui.simulator.endpoints import API_PREFIX
from portal_tui.simulator.faults import FaultSet
from portal_tui.simulator.generate import DEFAULT_SEED, DEFAULT_WORKSPACES, generate_dataset
from portal_tui.simulator.http_wire import BadRequest, abort, read_request, send, write_simple
from portal_tui.vocabulary.clock import SystemClock

DEFAULT_PORT = 8765
MASTER_TOKEN_ENV = "PORTAL_TUI_SIM_MASTER_TOKEN"
"""Environment variable the ``simulate`` banner tells the user to put the fake master token in."""


class _ClientGone(Exception):
    """The client closed the connection while its request was being served."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimulatorServer:
    """A :class:`Simulator` listening on ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        simulator: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
        idle_timeout: float = 30.0,
    ) -> None:
        if not is_loopback(host) and not allow_remote:
            raise ValueError(
                f"refusing to serve the simulator on non-loopback host {host!r}: it hands out "
                "a fake master token over plain HTTP (allow_remote=True to insist)"
            )
        self.simulator = simulator
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        self._starting: asyncio.Task[asyncio.Server] | None = None
        self._pending_socket: socket.socket | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._down_mode: str | None = None
        self._closed = False

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/api``, the ``base_url`` to configure."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    @property
    def listening(self) -> bool:
        """Whether new connections are accepted."""
        return self._server is not None

    @property
    def open_connections(self) -> int:
        """Client connections currently open."""
        return len(self._connections)

    async def start(self) -> None:
        """Bind and listen; follows the simulator's faults from now on."""
        self._listen()
        if self._starting is not None:
            await self._starting
        self.simulator.faults.subscribe(self._faults_changed)
        self._faults_changed()

    async def close(self) -> None:
        """Stop listening, drop every connection and wait for their tasks."""
        self._closed = True
        self.simulator.faults.unsubscribe(self._faults_changed)
        self.stop_listening()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    def stop_listening(self) -> None:
        """Close the listening socket now: new connections are refused."""
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            if self._pending_socket is not None:
                self._pending_socket.close()
        self._starting = None
        self._pending_socket = None
        if self._server is not None:
            self._server.close()
            self._server = None

    def resume_listening(self) -> None:
        """Listen on the same port again (the socket is bound before this returns)."""
        if self._server is None and self._starting is None and not self._closed:
            self._listen()

    def drop_connections(self) -> None:
        """Reset every open client connection."""
        for writer in list(self._connections.values()):
            abort(writer, at_once=True)

    def _listen(self) -> None:
        # Bind and listen synchronously so that, once this returns, connections
        # queue in the backlog instead of being refused (no race after a fault clears).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(256)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._pending_socket = sock

        async def serve() -> asyncio.Server:
            server = await asyncio.start_server(self._on_connection, sock=sock)
            self._server = server
            self._starting = None
            self._pending_socket = None
            return server

        self._starting = asyncio.get_running_loop().create_task(serve())

    def _faults_changed(self) -> None:
        down = self.simulator.faults.down()
        mode = None if down is None else down.mode
        if mode == self._down_mode:
            return
        self._down_mode = mode
        if mode is None:
            self.resume_listening()
            return
        if mode == "refuse":
            self.stop_listening()
        else:
            self.resume_listening()
        self.drop_connections()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        self.connections_accepted += 1
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, _ClientGone, TimeoutError):
            pass
        except asyncio.CancelledError:
            # This task is the root of its connection and only close() awaits it;
            # on Python 3.11, letting it end "cancelled" makes asyncio's stream
            # callback log a spurious CancelledError traceback.
            abort(writer)
        finally:
            self._connections.pop(task, None)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            if self._down_mode is not None:
                abort(writer)
                return
            try:
                async with asyncio.timeout(self.idle_timeout):
                    line = await reader.readline()
            except ValueError:  # request line longer than the stream limit
                await write_simple(writer, 414, "request line too long")
                return
            if not line:
                return  # the client closed an idle keep-alive connection
            if not line.strip():
                continue  # tolerate stray CRLF between requests
            try:
                request, keep_alive = await read_request(
                    line, reader, writer, f"{self.host}:{self.port}"
                )
            except BadRequest as exc:
                await write_simple(writer, exc.status, str(exc))
                return
            response = await self._handle_watching(request, reader)
            clock = self.simulator.clock
            if not await send(writer, response, keep_alive, request.method, clock):
                return

    async def _handle_watching(
        self, request: SimRequest, reader: asyncio.StreamReader
    ) -> SimResponse:
        # A hung request whose client gave up must not pin a task (and an
        # in-flight count) forever: poll for the client's EOF meanwhile.
        task = asyncio.ensure_future(self.simulator.handle(request))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.25)
                if done:
                    return task.result()
                if reader.at_eof():
                    raise _ClientGone
        finally:
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task


@asynccontextmanager
async def serve_simulator(
    simulator: Simulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
) -> AsyncIterator[SimulatorServer]:
    """Serve ``simulator`` over HTTP for the ``async with`` block; yields the server.

    ``server.base_url`` is ``http://127.0.0.1:PORT/api``.
    """
    server = SimulatorServer(simulator, host, port, allow_remote=allow_remote)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def banner(server: SimulatorServer, simulator: Simulator) -> str:
    """What ``simulate`` prints once listening: URL, token hint, a config with a registry.

    The master token is printed on purpose: it is the simulator's own fake
    token, and the user needs it to point a client at the simulator.
    """
    dataset = simulator.dataset
    faults = simulator.faults.spec() or "none"
    return "\n".join(
        [
            f"portal-tui simulator: {len(dataset)} workspaces, "
            f"{dataset.mailbox_total:,} sender emails, seed {dataset.seed}",
            f"workspace ids: {_id_list(dataset)}",
            f"faults: {faults}",
            f"listening on {server.base_url}",
            "",
            "The master token below is fake and valid only for this simulator. In another shell:",
            f"  export {MASTER_TOKEN_ENV}='{dataset.master_token}'",
            "",
            "A config for it (save it as config.toml; use it with --config config.toml):",
            "",
            *config_snippet(dataset, server.base_url, MASTER_TOKEN_ENV),
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def _id_list(dataset: Dataset, most: int = 12) -> str:
    ids = [str(w.id) for w in dataset.workspaces]
    return ", ".join(ids[:most]) + (f", ... ({len(ids)} in all)" if len(ids) > most else "")


def run(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    workspaces: int = DEFAULT_WORKSPACES,
    faults: str | None = "",
    seed: int = DEFAULT_SEED,
    *,
    mailboxes_total: int | None = None,
    max_per_page: int = 100,
    allow_remote: bool = False,
    out: TextIO | None = None,
) -> int:
    """Serve the simulator over HTTP until Ctrl-C or SIGTERM; returns the exit code (0).

    Raises :class:`ValueError` (with a message fit for the user) for a bad
    fault spec, a bad count, a non-loopback host (unless ``allow_remote``) or
    a port that cannot be bound.
    """
    stream = out or sys.stdout
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to serve on non-loopback host {host!r} (the simulator's token is "
            "public and it speaks plain HTTP); use 127.0.0.1 or ::1"
        )
    if workspaces < 1:
        raise ValueError("--workspaces must be at least 1")
    fault_set = FaultSet.parse(faults or "", seed=seed)
    dataset = generate_dataset(workspaces, seed=seed, mailboxes_total=mailboxes_total)
    for fault in fault_set:
        ids = {fault.workspace_id, getattr(fault, "from_workspace", None)} - {None}
        unknown = sorted(i for i in ids if i is not None and dataset.get(i) is None)
        if unknown:
            raise ValueError(
                f"fault {fault.spec()!r} names workspace {unknown[0]}, which this simulator "
                f"does not have (ids: {_id_list(dataset)})"
            )
    simulator = Simulator(dataset, fault_set, SystemClock(), max_per_page=max_per_page)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Handled here rather than as KeyboardInterrupt so the server always
        # closes cleanly, even when started as a background job (SIGINT ignored).
        for signum in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        server = SimulatorServer(simulator, host, port, allow_remote=allow_remote)
        try:
            await server.start()
        except OSError as exc:
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        try:
            print(banner(server, simulator), file=stream, flush=True)
            await stop.wait()
        finally:
            await server.close()

    with suppress(KeyboardInterrupt):  # Ctrl-C where signal handlers are unavailable
        asyncio.run(serve())
    print(f"\nsimulator stopped after {simulator.counters.requests:,} requests", file=stream)
    return 0
