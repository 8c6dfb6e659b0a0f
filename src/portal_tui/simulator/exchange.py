"""What passes between a transport and the simulator, and what the simulator counts."""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portal_tui.simulator.fault_kinds import SlowTrickle

DEMO_ORIGIN = "http://simulator.local"
"""Origin of the in-process simulator (``base_url`` ``http://simulator.local/api``)."""


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One request as any transport hands it over."""

    method: str
    path: str
    """Full path, e.g. ``/api/sender-emails``."""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Header names in lower case (kept out of ``repr``: they carry the token)."""
    body: bytes = b""
    origin: str = DEMO_ORIGIN
    """``scheme://host[:port]`` the client used; pagination links are built on it."""


class Delivery(StrEnum):
    """How a response reaches (or fails to reach) the client."""

    SEND = "send"
    REFUSE = "refuse"  # connection refused: nothing at all
    RESET = "reset"  # connection dropped, see ``reset_after``


@dataclass(slots=True)
class SimResponse:
    """What to put on the wire and how."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delivery: Delivery = Delivery.SEND
    reset_after: int | None = None
    """RESET: body bytes sent before the drop; None drops before the status line."""
    trickle: SlowTrickle | None = None
    """Send the body slowly, per this fault."""
    reason: str | None = None
    """Reason phrase of the status line; None: the standard one."""

    def json(self) -> Any:
        """The body parsed as JSON (tests)."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One served request, for tests and benchmarks (no tokens: a label)."""

    at: float
    endpoint: str
    workspace_id: int | None
    token: str
    status: int
    latency: float
    fault: str | None


@dataclass
class SimCounters:
    """What the simulator has seen; safe to read at any time.

    A request is in flight from arrival until its response is decided
    (latency and hangs included; a trickled body's slow delivery is not).
    """

    requests: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_workspace: Counter[int] = field(default_factory=Counter)
    by_token: Counter[str] = field(default_factory=Counter)
    """Keyed by token label: ``master``, ``api-user:<id>``, ``unknown``, ``none``."""
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    """Fault kinds that fired."""
    refused: int = 0
    switches: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    latencies: list[float] = field(default_factory=list)
    """Latency actually slept for each request (hangs excluded)."""
    log: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=100_000))

    def lower_bound(self, concurrency: int) -> float:
        """Least possible wall time for the served latencies: max(ΣL / C, max L)."""
        if not self.latencies:
            return 0.0
        return max(sum(self.latencies) / max(1, concurrency), max(self.latencies))

    def reset(self) -> None:
        """Forget everything counted so far (in-flight requests stay counted)."""
        in_flight = self.in_flight
        fresh = SimCounters()
        for name in fresh.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        self.in_flight = in_flight
