"""The kinds of fault the simulator can inject, each a small frozen dataclass.

A :class:`Fault` has a scope (a workspace id and/or an endpoint, or neither
for everything), a ``rate`` (probability per matching request) and an
optional ``first`` budget (affects only the first K requests it matches, so
"fail the first K calls, then succeed" is ``ServerError(first=K)``).
Faults compare by identity, so the same fault can be added and removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import ClassVar, Literal

from portal_tui.simulator import seeded
from portal_tui.upstream.endpoints import Endpoint


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """A distribution of response latency, in seconds."""

    kind: Literal["fixed", "uniform", "lognormal"]
    a: float
    """fixed: the value; uniform: low; lognormal: median."""
    b: float = 0.0
    """uniform: high; lognormal: sigma."""
    cap: float | None = None
    """Longest latency drawn (a lognormal tail is long)."""

    def __post_init__(self) -> None:
        if self.a < 0 or self.b < 0 or (self.cap is not None and self.cap < 0):
            raise ValueError("latency parameters must be >= 0")
        if self.kind == "uniform" and self.b < self.a:
            raise ValueError("uniform latency needs low <= high")

    @classmethod
    def fixed(cls, seconds: float) -> LatencyModel:
        """Always ``seconds``."""
        return cls("fixed", seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> LatencyModel:
        """Uniform between ``low`` and ``high``."""
        return cls("uniform", low, high)

    @classmethod
    def lognormal(cls, median: float, sigma: float, cap: float | None = None) -> LatencyModel:
        """Log-normal with the given median and sigma (of the underlying normal)."""
        return cls("lognormal", median, sigma, cap)

    def sample(self, u1: float, u2: float) -> float:
        """A latency from two uniforms in ``[0, 1)``."""
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = self.a + (self.b - self.a) * u1
        else:
            value = self.a * math.exp(self.b * seeded.normal(u1, u2))
        return value if self.cap is None else min(value, self.cap)

    def spec(self) -> str:
        """Grammar form, e.g. ``lognormal:0.05:1``."""
        parts: list[str] = [self.kind, _num(self.a)]
        if self.kind != "fixed":
            parts.append(_num(self.b))
        if self.cap is not None:
            parts.append(f"cap={_num(self.cap)}")
        return ":".join(parts)


def _num(value: float) -> str:
    return f"{value:g}"


class DriftMode(StrEnum):
    """How a payload drifts from the schema."""

    MISSING = "missing"  # the field is absent
    WRONG_TYPE = "wrong_type"  # a number becomes text, text becomes a number
    EXTRA = "extra"  # a new, unknown field appears (valid: extra fields are kept)
    STRINGS = "strings"  # numbers arrive as numeric strings (valid, as on some instances)
    IMPLAUSIBLE = "implausible"  # a count becomes 10**25, a percentage Infinity


@dataclass(frozen=True, eq=False, kw_only=True)
class Fault:
    """Base of every fault: scope, rate and budget. Compared by identity."""

    kind: ClassVar[str] = ""
    global_only: ClassVar[bool] = False
    workspace_id: int | None = None
    endpoint: Endpoint | None = None
    rate: float = 1.0
    first: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"{self.kind}: rate must be between 0 and 1, got {self.rate:g}")
        if self.first is not None and self.first < 0:
            raise ValueError(f"{self.kind}: first must be >= 0")
        if self.global_only and (self.workspace_id is not None or self.endpoint is not None):
            raise ValueError(f"{self.kind} applies to the whole instance; it takes no @scope")

    def matches(self, workspace_id: int | None, endpoint: Endpoint | None) -> bool:
        """Whether a request for ``workspace_id`` at ``endpoint`` is in scope."""
        if self.workspace_id is not None and self.workspace_id != workspace_id:
            return False
        return self.endpoint is None or self.endpoint == endpoint

    @property
    def specificity(self) -> int:
        """2 for a workspace scope, 1 for an endpoint scope, summed."""
        return (2 if self.workspace_id is not None else 0) + (self.endpoint is not None)

    def spec(self) -> str:
        """This fault in the text grammar (parses back to an equal fault)."""
        head = self.kind
        scope = []
        if self.workspace_id is not None:
            scope.append(str(self.workspace_id))
        if self.endpoint is not None:
            scope.append(self.endpoint.value)
        if scope:
            head += "@" + "/".join(scope)
        args = self._args()
        if self.rate != 1.0:
            args.append(f"rate={_num(self.rate)}")
        if self.first is not None:
            args.append(f"first={self.first}")
        return head + ("=" + ":".join(args) if args else "")

    def _args(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec()}>"


@dataclass(frozen=True, eq=False, kw_only=True)
class Latency(Fault):
    """Responses take this long (on the simulator's clock).

    The most specific matching latency wins (ties: the latest added); ``rate``
    and ``first`` do not apply to latency.
    """

    kind: ClassVar[str] = "latency"
    model: LatencyModel

    def _args(self) -> list[str]:
        return [self.model.spec()]


@dataclass(frozen=True, eq=False, kw_only=True)
class ServerError(Fault):
    """A 5xx; the code is drawn from ``codes`` (502 comes back as an HTML page)."""

    kind: ClassVar[str] = "5xx"
    codes: tuple[int, ...] = (500, 502, 503)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.codes or any(not 500 <= c <= 599 for c in self.codes):
            raise ValueError("5xx: codes must be between 500 and 599")

    def _args(self) -> list[str]:
        return [] if self.codes == (500, 502, 503) else ["codes=" + "/".join(map(str, self.codes))]


@dataclass(frozen=True, eq=False, kw_only=True)
class RateLimited(Fault):
    """429. ``Retry-After`` is delta-seconds, an HTTP date that far ahead, or absent (None)."""

    kind: ClassVar[str] = "429"
    retry_after: float | None = 1.0
    http_date: bool = False

    def _args(self) -> list[str]:
        if self.retry_after is None:
            return ["retry_after=none"]
        name = "retry_after_date" if self.http_date else "retry_after"
        return [f"{name}={_num(self.retry_after)}"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Hang(Fault):
    """No response for ``seconds`` (None: forever), then the normal response."""

    kind: ClassVar[str] = "hang"
    seconds: float | None = None

    def _args(self) -> list[str]:
        return [] if self.seconds is None else [f"for={_num(self.seconds)}"]


@dataclass(frozen=True, eq=False, kw_only=True)
class ConnectionReset(Fault):
    """The connection drops after ``at`` of the body was sent (0: before any response byte)."""

    kind: ClassVar[str] = "reset"
    at: float = 0.5

    def _args(self) -> list[str]:
        return [] if self.at == 0.5 else [f"at={_num(self.at)}"]


@dataclass(frozen=True, eq=False, kw_only=True)
class MalformedJson(Fault):
    """200 with a body that is not JSON (a PHP warning printed before the JSON)."""

    kind: ClassVar[str] = "malformed"


@dataclass(frozen=True, eq=False, kw_only=True)
class TruncatedBody(Fault):
    """200 with only the first ``at`` of the JSON (Content-Length matches what is sent)."""

    kind: ClassVar[str] = "truncate"
    at: float = 0.5

    def _args(self) -> list[str]:
        return [] if self.at == 0.5 else [f"at={_num(self.at)}"]


@dataclass(frozen=True, eq=False, kw_only=True)
class SlowTrickle(Fault):
    """The body arrives ``chunk`` bytes at a time at ``bytes_per_second``."""

    kind: ClassVar[str] = "trickle"
    bytes_per_second: float = 256.0
    chunk: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bytes_per_second <= 0 or self.chunk < 1:
            raise ValueError("trickle: bps must be > 0 and chunk >= 1")

    def _args(self) -> list[str]:
        return [f"bps={_num(self.bytes_per_second)}", f"chunk={self.chunk}"]


@dataclass(frozen=True, eq=False, kw_only=True)
class SchemaDrift(Fault):
    """Objects in ``data`` drift: ``field`` missing, of the wrong type, new, or stringified.

    ``field="*"`` with ``STRINGS`` turns every number into a numeric string.
    Applies wherever the field exists (scope it to an endpoint to narrow it).
    """

    kind: ClassVar[str] = "drift"
    mode: DriftMode
    field: str = "*"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.field == "*" and self.mode is not DriftMode.STRINGS:
            raise ValueError(
                f"drift {self.mode.value} needs a field name, e.g. {self.mode.value}:interested"
            )

    def _args(self) -> list[str]:
        return [self.mode.value] + ([] if self.field == "*" else [self.field])


@dataclass(frozen=True, eq=False, kw_only=True)
class RevokedToken(Fault):
    """401 Unauthenticated, as when the token in use was revoked."""

    kind: ClassVar[str] = "revoked"


@dataclass(frozen=True, eq=False, kw_only=True)
class DuplicateEmails(Fault):
    """The first ``count`` mailboxes carry the addresses of another workspace's first ones.

    ``from_workspace`` defaults to the next workspace in list order.
    """

    kind: ClassVar[str] = "dup"
    count: int = 3
    from_workspace: int | None = None

    def _args(self) -> list[str]:
        args = [str(self.count)]
        if self.from_workspace is not None:
            args.append(f"from={self.from_workspace}")
        return args


@dataclass(frozen=True, eq=False, kw_only=True)
class EmptyData(Fault):
    """``data`` is an empty list (the stats ``data`` too, as PHP encodes an empty array)."""

    kind: ClassVar[str] = "empty"


@dataclass(frozen=True, eq=False, kw_only=True)
class PaginationLoop(Fault):
    """Sender-emails: the last page's ``links.next`` points back at page 1."""

    kind: ClassVar[str] = "loop"


@dataclass(frozen=True, eq=False, kw_only=True)
class EarlyEnd(Fault):
    """Sender-emails: ``meta.total`` claims ``extra`` more rows than exist (default two pages).

    ``links.next`` is null after the real last page; later pages are empty.
    """

    kind: ClassVar[str] = "early_end"
    extra: int | None = None

    def _args(self) -> list[str]:
        return [] if self.extra is None else [str(self.extra)]


@dataclass(frozen=True, eq=False, kw_only=True)
class InstanceDown(Fault):
    """The whole instance is unreachable: connections refused, or reset on arrival."""

    kind: ClassVar[str] = "down"
    global_only: ClassVar[bool] = True
    mode: Literal["refuse", "reset"] = "refuse"

    def _args(self) -> list[str]:
        return [] if self.mode == "refuse" else [self.mode]


ECHO_PLACES: tuple[str, ...] = ("value", "name", "number", "error")
"""Where :class:`EchoToken` can put the token."""


@dataclass(frozen=True, eq=False, kw_only=True)
class EchoToken(Fault):
    """The upstream echoes the caller's bearer token back (a leak waiting to happen).

    ``places``: ``value`` appends it to every ``name`` and ``email`` in
    ``data``; ``name`` adds a field named after it to every ``data`` object;
    ``number`` puts it where a count belongs (a validation error whose actual
    value is the token); ``error`` answers 422 with it in the reason phrase,
    the message and the field errors instead of data.
    """

    kind: ClassVar[str] = "echo_token"
    places: tuple[str, ...] = ("value", "name")

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [p for p in self.places if p not in ECHO_PLACES]
        if not self.places or unknown:
            raise ValueError(
                f"echo_token places are {', '.join(ECHO_PLACES)}; got {':'.join(self.places)!r}"
            )

    def _args(self) -> list[str]:
        return [] if self.places == ("value", "name") else list(self.places)


@dataclass(frozen=True, eq=False, kw_only=True)
class HugeBody(Fault):
    """200 with the usual JSON padded to ``size`` bytes (an extra array of zeros)."""

    kind: ClassVar[str] = "huge"
    size: int = 50_000_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size < 1:
            raise ValueError("huge: size must be >= 1 byte")

    def _args(self) -> list[str]:
        return [str(self.size)]


FAULT_TYPES: tuple[type[Fault], ...] = (
    Latency, ServerError, RateLimited, Hang, ConnectionReset, MalformedJson, TruncatedBody,
    SlowTrickle, SchemaDrift, RevokedToken, DuplicateEmails, EmptyData, PaginationLoop,
    EarlyEnd, InstanceDown, EchoToken, HugeBody,
)  # fmt: skip
"""Every fault class."""


def fault_fields(fault_type: type[Fault]) -> list[str]:
    """Names of a fault class's own parameters (for help text)."""
    base = {f.name for f in fields(Fault)}
    return [f.name for f in fields(fault_type) if f.name not in base]
