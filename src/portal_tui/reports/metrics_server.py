"""``watch --metrics-port N``: ``/metrics`` over HTTP, built from the records at scrape time.

A small asyncio server on the loop ``watch`` already runs (no thread, no
second registry): each ``GET /metrics`` reads the records file and renders
it with :func:`~portal_tui.reports.metrics.metrics_text`, so a scrape sees
every process's cycles, not only this one's. It serves OpenMetrics, or the
classic text format to a client whose ``Accept`` asks for ``text/plain``
alone. It listens on 127.0.0.1 unless told otherwise: the numbers name the
customers' workspaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from portal_tui.reports.metrics import metrics_text
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
READ_TIMEOUT = 10.0
"""Seconds a client has to send its request line and headers."""
MAX_HEADER_LINES = 100


class MetricsPortError(Exception):
    """The metrics port could not be bound (in use, or not allowed)."""


@dataclass(slots=True)
class MetricsServer:
    """A running ``/metrics`` endpoint; :meth:`aclose` stops it."""

    server: asyncio.Server
    host: str
    port: int

    async def aclose(self) -> None:
        """Stop listening and end the open connections."""
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 5.0)


async def serve_metrics(store: Store, clock: Clock, host: str, port: int) -> MetricsServer:
    """Listen on ``host:port`` (0: any free port). Raises :class:`MetricsPortError`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _answer(reader, writer, store, clock)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that went away or spoke garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise MetricsPortError(f"cannot serve /metrics on {host}:{port}: {why}") from None
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return MetricsServer(server, host, int(bound))


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, store: Store, clock: Clock
) -> None:
    async with asyncio.timeout(READ_TIMEOUT):  # real time: a socket, not a TTL
        request = (await reader.readline()).decode("latin-1").split()
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if len(request) < 2 or request[0] not in ("GET", "HEAD"):
        await _reply(writer, 405, "text/plain; charset=utf-8", b"only GET /metrics\n")
        return
    if request[1].split("?")[0] != "/metrics":
        await _reply(writer, 404, "text/plain; charset=utf-8", b"see /metrics\n")
        return
    accept = headers.get("accept", "")
    openmetrics = "openmetrics" in accept or "text/plain" not in accept
    try:
        text = await metrics_text(store, clock.now(), openmetrics=openmetrics)
    except StoreError as exc:
        log.warning("metrics scrape failed: %s", exc)
        await _reply(writer, 503, "text/plain; charset=utf-8", f"{exc}\n".encode())
        return
    body = text.encode("utf-8")
    await _reply(writer, 200, OPENMETRICS if openmetrics else TEXT, body, head=request[0] == "HEAD")


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def _reply(
    writer: asyncio.StreamWriter, status: int, kind: str, body: bytes, *, head: bool = False
) -> None:
    writer.write(
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
    )
    if not head:
        writer.write(body)
    await writer.drain()
