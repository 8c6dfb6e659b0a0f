"""Data faults for the rules that compare one cycle with the last (issue 19).

Each keeps the payload valid and self-consistent except in the one way it is
meant to be wrong, so a test can ask for exactly one consistency finding:

- ``decrease``: stats counts come back lowered (a recount, lost data);
- ``percent``: a ``*_percentage`` no longer matches its count;
- ``bad_email``: sender addresses lose their ``@``;
- ``vanish``: the workspace list omits some workspaces.

Their grammar builders live here too (:data:`BUILDERS`, merged into
:mod:`portal_tui.simulator.fault_spec`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from portal_tui.simulator.fault_args import FaultArgs
from portal_tui.simulator.fault_kinds import Fault


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, eq=False, kw_only=True)
class CounterDecrease(Fault):
    """Stats: counts come back as ``fraction`` of their true value (rounded down), as when
    the upstream recounts or loses data. ``field="*"`` lowers every count. The
    ``*_percentage`` fields are computed from the lowered counts, so they still agree."""

    kind: ClassVar[str] = "decrease"
    field: str = "*"
    fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError("decrease: the fraction kept must be >= 0 and < 1")

    def _args(self) -> list[str]:
        return [self.field, _num(self.fraction)]


@dataclass(frozen=True, eq=False, kw_only=True)
class PercentSkew(Fault):
    """Stats: ``<field>_percentage`` is off by ``points`` from what its count says."""

    kind: ClassVar[str] = "percent"
    field: str = "interested"
    points: float = 10.0

    def _args(self) -> list[str]:
        return [self.field, _num(self.points)]


@dataclass(frozen=True, eq=False, kw_only=True)
class MalformedAddress(Fault):
    """Sender-emails: the first ``count`` mailboxes of a workspace have their ``@``
    replaced by `` at `` (an import gone wrong)."""

    kind: ClassVar[str] = "bad_email"
    count: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count < 1:
            raise ValueError("bad_email: count must be >= 1")

    def _args(self) -> list[str]:
        return [] if self.count == 1 else [str(self.count)]


@dataclass(frozen=True, eq=False, kw_only=True)
class VanishingWorkspaces(Fault):
    """The workspace list omits its last ``count`` workspaces (default: half, rounded up),
    as when the master token suddenly sees less; the workspaces themselves still answer."""

    kind: ClassVar[str] = "vanish"
    count: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count is not None and self.count < 1:
            raise ValueError("vanish: count must be >= 1")

    def _args(self) -> list[str]:
        return [] if self.count is None else [str(self.count)]


DATA_FAULT_TYPES: tuple[type[Fault], ...] = (
    CounterDecrease,
    PercentSkew,
    MalformedAddress,
    VanishingWorkspaces,
)
"""The fault classes of this module."""


def _decrease(args: FaultArgs) -> Fault:
    """``decrease[@SCOPE]=[FIELD|*][:FRACTION]`` (default ``*:0.5``)."""
    common = args.common(False)
    pos = args.take_positional(2)
    args.finish()
    field = pos[0] if pos and pos[0] else "*"
    fraction = 0.5 if len(pos) < 2 else args.number("fraction", pos[1], high=0.999999)
    return CounterDecrease(field=field, fraction=fraction, **common)


def _percent(args: FaultArgs) -> Fault:
    """``percent[@SCOPE]=[FIELD][:POINTS]`` (default ``interested:10``)."""
    common = args.common(False)
    pos = args.take_positional(2)
    args.finish()
    field = (pos[0] if pos and pos[0] else "interested").removesuffix("_percentage")
    points = 10.0 if len(pos) < 2 else args.number("points", pos[1], low=-1e6)
    return PercentSkew(field=field, points=points, **common)


def _bad_email(args: FaultArgs) -> Fault:
    """``bad_email[@SCOPE][=COUNT]`` (default 1)."""
    common = args.common(False)
    pos = args.take_positional(1)
    args.finish()
    count = 1 if not pos else args.integer("count", pos[0], low=1)
    return MalformedAddress(count=count, **common)


def _vanish(args: FaultArgs) -> Fault:
    """``vanish[=COUNT]`` (default: half the list)."""
    common = args.common(False)
    pos = args.take_positional(1)
    args.finish()
    count = None if not pos else args.integer("count", pos[0], low=1)
    return VanishingWorkspaces(count=count, **common)


BUILDERS: dict[str, Callable[[FaultArgs], Fault]] = {
    "decrease": _decrease,
    "percent": _percent,
    "bad_email": _bad_email,
    "vanish": _vanish,
}
"""Grammar builders of this module's kinds, by kind name."""
