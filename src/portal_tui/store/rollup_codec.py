"""The attempts of one roll-up bucket, packed: what every older window is answered from.

A bucket is one (hour, instance, workspace). It keeps, per attempt, exactly
what the History pane, ``history``, ``export``, ``metrics`` and the health
rules read of a logged attempt: when (µs), how long (µs) and, for a failure,
its error kind and HTTP status, in the attempts' ``(timestamp, id)`` order.
Endpoint, method, attempt number and cycle are dropped: nothing reads them
for a window. Times are integers because the raw rows hold exactly these
values (timestamps come from datetimes, which are whole microseconds, and
:mod:`portal_tui.store.cycle_writer` records response times to the
microsecond), so an answer read from a bucket is the answer the raw rows
gave, to the bit.

Layout of :attr:`Packed.attempts`: one format byte, the response-time width
(4 or 8 bytes), then zlib of two little-endian arrays, byte-shuffled (all
lowest bytes first, then the next, ...; zlib then finds the runs): the gaps
between consecutive timestamps (the first one from the hour's start) and the
response times. ~4 bytes an attempt where a raw row takes ~100.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

FORMAT = 1
HOUR_US = 3_600_000_000


def _typecode(width: int) -> str:
    for code in ("I", "L", "Q"):
        if array(code).itemsize == width:
            return code
    raise RuntimeError(f"no {width}-byte unsigned array type")  # pragma: no cover


_U32, _U64 = _typecode(4), _typecode(8)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as a bucket keeps it."""

    at_us: int
    """Unix-epoch microseconds."""
    response_us: int
    failure: tuple[str | None, int | None] | None = None
    """``(error_type, status_code)`` of a failed attempt; None when it succeeded."""
    message: str | None = None
    """The error message; kept only for a bucket's newest failure (see :class:`Packed`)."""


@dataclass(frozen=True, slots=True)
class Packed:
    """A bucket's row values: totals for quick counts, and every attempt packed."""

    calls: int
    failures: int
    total_us: int
    max_us: int
    attempts: bytes
    failed: str
    """JSON list of ``[index, error_type, status_code]``, one per failed attempt."""
    last_error: str | None
    """JSON ``[error_type, status_code, message]`` of the newest failure (History's last error)."""


def _shuffle(data: array[int]) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover - the file is little-endian everywhere
        data = array(data.typecode, data)
        data.byteswap()
    raw, k = data.tobytes(), data.itemsize
    return b"".join(raw[i::k] for i in range(k))


def _unshuffle(raw: bytes, typecode: str, count: int) -> array[int]:
    k = array(typecode).itemsize
    out = bytearray(count * k)
    for i in range(k):
        out[i::k] = raw[i * count : (i + 1) * count]
    data = array(typecode)
    data.frombytes(bytes(out))
    if sys.byteorder == "big":  # pragma: no cover
        data.byteswap()
    return data


def pack(hour_us: int, attempts: Sequence[Attempt]) -> Packed:
    """Pack ``attempts`` (in order, all inside the hour starting at ``hour_us``)."""
    gaps = array(_U32)
    previous = hour_us
    for a in attempts:
        gap = a.at_us - previous
        if gap < 0 or a.at_us >= hour_us + HOUR_US:
            raise ValueError("attempts must be in time order inside their hour")
        gaps.append(gap)
        previous = a.at_us
    times = [a.response_us for a in attempts]
    wide = any(t >= 1 << 32 for t in times)
    if any(t < 0 for t in times):
        raise ValueError("a response time cannot be negative")
    responses = array(_U64 if wide else _U32, times)
    body = zlib.compress(_shuffle(gaps) + _shuffle(responses), 6)
    failed = [
        [i, a.failure[0], a.failure[1]] for i, a in enumerate(attempts) if a.failure is not None
    ]
    last = next((a for a in reversed(attempts) if a.failure is not None), None)
    return Packed(
        calls=len(attempts),
        failures=len(failed),
        total_us=sum(times),
        max_us=max(times, default=0),
        attempts=bytes((FORMAT, 8 if wide else 4)) + body,
        failed=json.dumps(failed, separators=(",", ":")),
        last_error=None
        if last is None or last.failure is None
        else json.dumps([last.failure[0], last.failure[1], last.message]),
    )


def unpack(
    hour_us: int, calls: int, attempts: bytes, failed: str, last_error: str | None
) -> list[Attempt]:
    """Every attempt of a bucket, in order (the newest failure with its message)."""
    if len(attempts) < 2 or attempts[0] != FORMAT or attempts[1] not in (4, 8):
        raise ValueError("unknown roll-up format")
    body = zlib.decompress(attempts[2:])
    split = calls * 4
    gaps = _unshuffle(body[:split], _U32, calls)
    responses = _unshuffle(body[split:], _U64 if attempts[1] == 8 else _U32, calls)
    failures: dict[int, tuple[str | None, int | None]] = {
        int(i): (kind, code) for i, kind, code in json.loads(failed)
    }
    newest = max(failures, default=None)
    message = None if last_error is None else json.loads(last_error)[2]
    out: list[Attempt] = []
    at = hour_us
    for i in range(calls):
        at += gaps[i]
        out.append(Attempt(at, responses[i], failures.get(i), message if i == newest else None))
    return out


def merge(existing: Sequence[Attempt], new: Sequence[Attempt]) -> list[Attempt]:
    """Both in one order: by time, the rows already rolled up first on a tie.

    (A raw row rolled up later has a larger id than any rolled up before it, so
    this is the raw rows' ``(timestamp, id)`` order.) Only the newest failure
    keeps its message.
    """
    merged = sorted([*existing, *new], key=lambda a: a.at_us)  # stable: existing first
    newest = max((i for i, a in enumerate(merged) if a.failure is not None), default=None)
    return [
        a if a.message is None or i == newest else Attempt(a.at_us, a.response_us, a.failure)
        for i, a in enumerate(merged)
    ]
