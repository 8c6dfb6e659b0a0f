"""The faults in force: a mutable :class:`FaultSet`, plus every fault kind re-exported.

Tests add faults mid-run and clear them for recovery; the HTTP server
subscribes to changes so that :class:`InstanceDown` really stops listening.
Every roll is a pure function of ``(seed, fault, request key, n-th time that
key was seen)``, so outcomes do not depend on how concurrent requests
interleave. The text grammar lives in :mod:`portal_tui.simulator.fault_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from portal_tui.simulator import seeded
from portal_tui.simulator.data_faults import (
    DATA_FAULT_TYPES,
    CounterDecrease,
    MalformedAddress,
    PercentSkew,
    VanishingWorkspaces,
)
from portal_tui.simulator.fault_kinds import FAULT_TYPES as _TRANSPORT_AND_PAYLOAD
from portal_tui.simulator.fault_kinds import (
    ConnectionReset,
    DriftMode,
    DuplicateEmails,
    EarlyEnd,
    EchoToken,
    EmptyData,
    Fault,
    Hang,
    HugeBody,
    InstanceDown,
    Latency,
    LatencyModel,
    MalformedJson,
    PaginationLoop,
    RateLimited,
    RevokedToken,
    SchemaDrift,
    ServerError,
    SlowTrickle,
    TruncatedBody,
    fault_fields,
)
from portal_tui.simulator.fault_spec import parse_faults
from portal_tui.upstream.endpoints import Endpoint

__all__ = [
    "FAULT_TYPES",
    "ConnectionReset",
    "CounterDecrease",
    "DriftMode",
    "DuplicateEmails",
    "EarlyEnd",
    "EchoToken",
    "EmptyData",
    "Fault",
    "FaultSet",
    "Hang",
    "HugeBody",
    "InstanceDown",
    "Latency",
    "LatencyModel",
    "MalformedAddress",
    "MalformedJson",
    "PaginationLoop",
    "PercentSkew",
    "RateLimited",
    "RevokedToken",
    "SchemaDrift",
    "ServerError",
    "SlowTrickle",
    "TruncatedBody",
    "VanishingWorkspaces",
    "fault_fields",
    "parse_faults",
]

FAULT_TYPES: tuple[type[Fault], ...] = (*_TRANSPORT_AND_PAYLOAD, *DATA_FAULT_TYPES)
"""Every fault class."""

F = TypeVar("F", bound=Fault)


class FaultSet:
    """The faults in force, changeable while the simulator runs.

    Change it only from the event loop's thread (listeners such as the HTTP
    server act on the change at once).
    """

    def __init__(self, faults: Iterable[Fault] = (), *, seed: int = 0) -> None:
        self.seed = seed
        self._faults: list[Fault] = []
        self._uid: dict[Fault, int] = {}
        self._next_uid = 0
        self._uses: dict[int, int] = {}
        self._seen: dict[tuple[int, str], int] = {}
        self._listeners: list[Callable[[], None]] = []
        self.add(*faults)

    @classmethod
    def parse(cls, spec: str, *, seed: int = 0) -> FaultSet:
        """Faults from the text grammar; :class:`ValueError` with a clear message if bad."""
        return cls(parse_faults(spec), seed=seed)

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def spec(self) -> str:
        """Every fault in the text grammar, comma-separated ("" when none)."""
        return ",".join(f.spec() for f in self._faults)

    def add(self, *faults: Fault) -> None:
        """Put ``faults`` in force (later ones win ties between latencies)."""
        for fault in faults:
            if fault in self._uid:
                continue
            self._faults.append(fault)
            self._uid[fault] = self._next_uid
            self._next_uid += 1
        if faults:
            self._changed()

    def add_spec(self, spec: str) -> list[Fault]:
        """Parse ``spec`` and add its faults; returns them (to remove them later)."""
        parsed = parse_faults(spec)
        self.add(*parsed)
        return parsed

    def remove(self, *faults: Fault) -> None:
        """Lift ``faults`` (unknown ones are ignored)."""
        kept = [f for f in self._faults if f not in faults]
        if len(kept) != len(self._faults):
            self._faults = kept
            self._changed()

    def clear(self, *, workspace_id: int | None = None) -> None:
        """Lift every fault, or only those scoped to ``workspace_id``."""
        if workspace_id is None:
            self._faults = []
        else:
            self._faults = [f for f in self._faults if f.workspace_id != workspace_id]
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def down(self) -> InstanceDown | None:
        """The :class:`InstanceDown` in force, if any (it ignores rate and budget)."""
        return next((f for f in self._faults if isinstance(f, InstanceDown)), None)

    def latency(self, workspace_id: int | None, endpoint: Endpoint | None) -> LatencyModel | None:
        """The most specific matching latency model (ties: the latest added)."""
        best: Latency | None = None
        for fault in self._faults:
            if (
                isinstance(fault, Latency)
                and fault.matches(workspace_id, endpoint)
                and (best is None or fault.specificity >= best.specificity)
            ):
                best = fault
        return None if best is None else best.model

    def fire(
        self, kind: type[F], workspace_id: int | None, endpoint: Endpoint | None, key: str
    ) -> F | None:
        """The first fault of ``kind`` in scope whose roll fires for this request, if any.

        ``key`` names the request (endpoint, workspace, query); the n-th
        request with the same key always rolls the same number.
        """
        for fault in self._faults:
            if isinstance(fault, kind) and self._rolls(fault, workspace_id, endpoint, key):
                return fault
        return None

    def fire_all(
        self, kind: type[F], workspace_id: int | None, endpoint: Endpoint | None, key: str
    ) -> list[F]:
        """Every fault of ``kind`` in scope that fires for this request."""
        return [
            f
            for f in self._faults
            if isinstance(f, kind) and self._rolls(f, workspace_id, endpoint, key)
        ]

    def draw(self, *parts: object) -> tuple[float, ...]:
        """Eight seeded uniforms for ``parts`` (latency draws use this)."""
        return seeded.units(self.seed, *parts)

    def _rolls(
        self, fault: Fault, workspace_id: int | None, endpoint: Endpoint | None, key: str
    ) -> bool:
        if not fault.matches(workspace_id, endpoint):
            return False
        uid = self._uid[fault]
        if fault.first is not None:
            used = self._uses.get(uid, 0)
            if used >= fault.first:
                return False
            self._uses[uid] = used + 1
        if fault.rate >= 1.0:
            return True
        if fault.rate <= 0.0:
            return False
        n = self._seen.get((uid, key), 0)
        self._seen[(uid, key)] = n + 1
        return seeded.unit(self.seed, "fault", uid, key, n) < fault.rate

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
