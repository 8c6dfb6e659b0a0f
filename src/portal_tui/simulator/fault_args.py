"""One fault spec item's arguments, parsed and checked for the kind's builder.

See :mod:`portal_tui.simulator.fault_spec` for the grammar (``ARGS := ARG (":" ARG)*``,
positional args first, then ``NAME=VALUE``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

from portal_tui.simulator.fault_kinds import Fault
from portal_tui.upstream.endpoints import Endpoint


class FaultScope(TypedDict, total=False):
    """Keyword arguments every :class:`Fault` takes."""

    workspace_id: int | None
    endpoint: Endpoint | None
    rate: float
    first: int | None


class FaultArgs:
    """The parsed ``ARGS`` of one item, consumed by the kind's builder."""

    def __init__(self, kind: str, raw: str, scope: FaultScope) -> None:
        self.kind = kind
        self.scope = scope
        self.positional: list[str] = []
        self.named: dict[str, str] = {}
        for part in raw.split(":") if raw else []:
            if "=" in part:
                name, _, value = part.partition("=")
                if name in self.named:
                    raise ValueError(f"'{name}' given twice")
                self.named[name] = value
            else:
                if self.named:
                    raise ValueError(f"positional argument {part!r} after named ones")
                self.positional.append(part)

    def take_positional(self, most: int) -> list[str]:
        """The positional args, refusing more than ``most``."""
        if len(self.positional) > most:
            extra = ":".join(self.positional[most:])
            raise ValueError(
                f"{self.kind} takes at most {most} positional argument(s); extra {extra!r}"
            )
        return self.positional

    def number(self, name: str, text: str, *, low: float = 0.0, high: float | None = None) -> float:
        """``text`` as a float in ``[low, high]``."""
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {text!r}") from None
        if value != value or value < low or (high is not None and value > high):  # NaN or range
            bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            raise ValueError(f"{name} must be {bound}, got {text!r}")
        return value

    def integer(self, name: str, text: str, *, low: int = 0) -> int:
        """``text`` as an int >= ``low``."""
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {text!r}") from None
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
        return value

    def pop(self, name: str) -> str | None:
        """Consume the named arg ``name``."""
        return self.named.pop(name, None)

    def common(self, positional_rate: bool) -> FaultScope:
        """The scope, ``rate`` (positional or named) and ``first``."""
        out = self.scope.copy()
        if positional_rate:
            given = self.take_positional(1)
            if given:
                out["rate"] = self.number("rate", given[0], high=1.0)
        rate = self.pop("rate")
        if rate is not None:
            out["rate"] = self.number("rate", rate, high=1.0)
        first = self.pop("first")
        if first is not None:
            out["first"] = self.integer("first", first)
        return out

    def finish(self) -> None:
        """Refuse named args nobody consumed."""
        if self.named:
            raise ValueError(f"{self.kind} does not take {', '.join(sorted(self.named))}")


Builder = Callable[[FaultArgs], Fault]
"""Makes one kind's :class:`Fault` from its parsed arguments."""
