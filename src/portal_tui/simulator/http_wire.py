"""HTTP/1.1 on the wire for the loopback server: parse requests, write responses.

Just enough of the protocol for real clients (httpx, curl): request line,
headers, ``Content-Length`` or chunked bodies, ``Expect: 100-continue``,
keep-alive negotiation, and responses written whole, slowly, or cut off
with a TCP reset.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from contextlib import suppress
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from portal_tui.simulator.exchange import Delivery, SimRequest, SimResponse
from portal_tui.vocabulary.clock import Clock

MAX_BODY = 1 << 20
MAX_HEADERS = 100


class BadRequest(Exception):
    """A request the server answers with ``status`` and then closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_request(
    line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, default_host: str
) -> tuple[SimRequest, bool]:
    """The request whose request line is ``line``; raises :class:`BadRequest`.

    Returns the request and whether the connection may be kept alive.
    """
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    while True:
        try:
            raw = await reader.readline()
        except ValueError:
            raise BadRequest(431, "header line too long") from None
        if raw in (b"\r\n", b"\n"):
            break
        if not raw:
            raise asyncio.IncompleteReadError(b"", None)
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise BadRequest(400, "malformed header line")
        if len(headers) >= MAX_HEADERS:
            raise BadRequest(431, "too many headers")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    body = await _read_body(headers, reader, writer)
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    url = urlsplit(target)
    host = headers.get("host") or url.netloc or default_host
    return (
        SimRequest(
            method=method.upper(),
            path=url.path or "/",
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            origin=f"http://{host}",
        ),
        keep_alive,
    )


async def _read_body(
    headers: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size = 0
        while True:
            size_line = (await reader.readline()).split(b";", 1)[0].strip()
            try:
                length = int(size_line, 16)
            except ValueError:
                raise BadRequest(400, "malformed chunk size") from None
            if length == 0:
                while (await reader.readline()).strip():
                    pass  # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY:
                raise BadRequest(413, "request body too large")
            chunks.append(await reader.readexactly(length))
            await reader.readexactly(2)
    text = headers.get("content-length", "0").strip() or "0"
    if not text.isdigit():
        raise BadRequest(400, "invalid Content-Length")
    length = int(text)
    if length > MAX_BODY:
        raise BadRequest(413, "request body too large")
    return await reader.readexactly(length) if length else b""


async def send(
    writer: asyncio.StreamWriter,
    response: SimResponse,
    keep_alive: bool,
    method: str,
    clock: Clock,
) -> bool:
    """Write ``response`` as its delivery says; False when the connection is done."""
    if response.delivery is Delivery.REFUSE or (
        response.delivery is Delivery.RESET and response.reset_after is None
    ):
        abort(writer)
        return False
    body = b"" if method == "HEAD" else response.body
    head = head_bytes(response, len(response.body), keep_alive)
    if response.delivery is Delivery.RESET:
        writer.write(head + body[: response.reset_after])
        await writer.drain()
        abort(writer)
        return False
    trickle = response.trickle
    if trickle is None:
        writer.write(head + body)
        await writer.drain()
    else:
        writer.write(head)
        await writer.drain()
        for start in range(0, len(body), trickle.chunk):
            piece = body[start : start + trickle.chunk]
            await clock.sleep(len(piece) / trickle.bytes_per_second)
            writer.write(piece)
            await writer.drain()
    return keep_alive


def head_bytes(response: SimResponse, length: int, keep_alive: bool) -> bytes:
    """Status line and headers of ``response`` (``Content-Length`` is ``length``)."""
    try:
        reason = response.reason or HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "connection", "date", "server"):
            lines.append(f"{name}: {value}")
    lines += [
        f"Content-Length: {length}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: portal-tui-simulator",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def write_simple(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    """A short JSON error, then the connection is done."""
    response = SimResponse(
        status, f'{{"message":"{message}"}}'.encode(), {"Content-Type": "application/json"}
    )
    writer.write(head_bytes(response, len(response.body), False) + response.body)
    with suppress(ConnectionError):
        await writer.drain()


def abort(writer: asyncio.StreamWriter, *, at_once: bool = False) -> None:
    """Drop the connection with a TCP reset, as a crashed upstream or proxy would.

    The transport closes its socket on the next loop iteration; ``at_once``
    also shuts the socket down now, so a client about to reuse this pooled
    connection already sees it dead (and opens a new one) instead of
    racing the close.
    """
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            if at_once:
                sock.shutdown(socket.SHUT_RDWR)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
