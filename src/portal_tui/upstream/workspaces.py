"""A workspace of an upstream instance, with the client registry entry that matched it."""

from __future__ import annotations

from dataclasses import dataclass

from portal_tui.config import ClientEntry


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """A workspace as the cycle knows it: where it lives and its registry entry, if any."""

    instance: str
    id: int
    name: str
    registry: ClientEntry | None = None

    @property
    def key(self) -> tuple[str, int]:
        """Identity across instances: ``(instance, id)``."""
        return (self.instance, self.id)
