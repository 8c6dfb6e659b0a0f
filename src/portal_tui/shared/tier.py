"""What a shared tier stores and how a process talks to it (SQLite or Redis).

A *lease* is held on a name: ``response:<request>`` while one process fetches
that request for everyone, ``token:<token digest>`` while one process has a
master token switched to a workspace. A lease carries a fencing token that
grows by one at every take, so a holder whose lease expired under it (a
stopped process) can never overwrite a newer holder's result, and an expiry
in wall time, so a killed holder blocks nobody past it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from portal_tui.vocabulary.errors import UpstreamError

TierKind = Literal["sqlite", "redis"]


class TierUnavailable(Exception):
    """The tier could not answer (Redis down or slow, the file unusable): fetch here."""


@dataclass(frozen=True, slots=True)
class Stored:
    """What the tier holds for one request: the last good response (when the upstream
    answered, unix seconds, and its encoding) and the last failure after it."""

    fetched_at: float | None = None
    payload: bytes | None = None
    failed_at: float | None = None
    error: UpstreamError | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this process holds."""

    name: str
    holder: str
    fence: int


@dataclass(frozen=True, slots=True)
class LeaseEnd:
    """How the lease waited on ended: given up by its holder, or expired (the holder
    stopped renewing it: killed, or stopped)."""

    state: Literal["free", "expired"]


class Tier(Protocol):
    """The primitives :class:`~portal_tui.shared.loads.SharedLoads` needs.

    Every method raises :class:`TierUnavailable` when the tier cannot answer.
    """

    kind: TierKind
    holder: str

    @property
    def where(self) -> str:
        """Where it lives, for humans (a file path or a Redis host)."""
        ...

    async def read(self, key: str) -> Stored | None:
        """What is stored for ``key``, if anything."""
        ...

    async def take(self, name: str, *, queue: bool = False) -> Lease | None:
        """The lease on ``name``, or None while another process holds it.

        ``queue``: when refused, be next in line (token locks), so the holder
        cannot take it straight back after giving it up.
        """
        ...

    async def renew(self, lease: Lease) -> bool:
        """Push the lease's expiry on; False if it is no longer ours."""
        ...

    async def put(self, lease: Lease, key: str, stored: Stored) -> None:
        """Store a response (``payload``) or a failure (``error``) for ``key``, unless a
        holder with a newer fence already did."""
        ...

    async def release(self, lease: Lease, results: Sequence[tuple[str, Stored]] = ()) -> None:
        """Store ``results`` as :meth:`put` does, then end the lease (if still ours) and
        wake its waiters: a workspace's responses become visible together."""
        ...

    async def wait(self, name: str, within: float) -> LeaseEnd | None:
        """Wait until nobody holds ``name`` (how it ended), or None after ``within`` seconds."""
        ...

    async def aclose(self) -> None:
        """Close connections (never raises)."""
        ...


@dataclass(frozen=True, slots=True)
class TierStatus:
    """What the shared tier is doing, for the header, the Overview, ``check`` and ``doctor``."""

    kind: str
    """``sqlite``, ``redis`` or ``off``."""
    where: str
    healthy: bool
    detail: str | None = None
    """Why it is not healthy."""
    since: datetime | None = None
    fetched_here: int = 0
    """Distinct requests this process fetched under a lease, for everyone."""
    served: int = 0
    """Distinct requests another process fetched and the tier handed over."""
    fallbacks: int = 0
    """Distinct requests fetched here because the tier failed or a wait ran out."""

    @property
    def label(self) -> str:
        """One line: ``shared via SQLite (records file)``, or why it is not."""
        if self.kind == "off":
            return "shared tier off: this process fetches for itself"
        name = "Redis" if self.kind == "redis" else "SQLite"
        if self.healthy:
            return f"shared via {name} ({self.where})"
        return f"shared tier DOWN ({name} {self.where}: {self.detail}); fetching here"


OFF = TierStatus("off", "", healthy=True)


def redis_location(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL: never its user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    tls = " (TLS)" if parts.scheme == "rediss" else ""
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{tls}"
