"""Which workspaces exist: the API's list joined with the client registry.

The API's list (master token) is the source of truth for which workspaces
exist; the registry adds targets and billing. A workspace the API lists but
the registry lacks is still shown ("no registry entry"). A registry entry the
API does not list is reported, and still fetched when it names its own id and
token (an api-user token may see a workspace the master token's list omits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from portal_tui.config import ClientEntry
from portal_tui.upstream.models import ApiWorkspace
from portal_tui.upstream.workspaces import WorkspaceRef


@dataclass(slots=True)
class Discovery:
    """One instance's workspaces for a cycle, and what did not line up."""

    instance: str
    workspaces: list[WorkspaceRef] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unmatched_registry: list[str] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)
    listed: bool = False  # True when the API's list was read this cycle (or from cache)
    listed_count: int = 0  # workspaces in the API's list (disabled ones included)
    source: str = "api"


def join_registry(
    instance: str,
    listed: Sequence[ApiWorkspace] | None,
    registry: Sequence[ClientEntry],
) -> Discovery:
    """Join the API's workspace list (None if it could not be read) with registry entries."""
    found = Discovery(
        instance,
        listed=listed is not None,
        listed_count=len(listed or ()),
        source="api" if listed is not None else "registry",
    )
    by_id = {c.id: c for c in registry if c.id is not None}
    by_name = {c.name.casefold(): c for c in registry}
    used: set[int] = set()
    for api in listed or ():
        entry = by_id.get(api.id) or by_name.get(api.name.casefold())
        if entry is not None:
            used.add(id(entry))
            if not entry.enabled:
                found.disabled.append(api.name)
                continue
        else:
            found.unregistered.append(api.name)
        found.workspaces.append(WorkspaceRef(instance, api.id, api.name, entry))
    for entry in registry:
        if id(entry) in used:
            continue
        if not entry.enabled:
            found.disabled.append(entry.name)
            continue
        if listed is not None:
            found.unmatched_registry.append(entry.name)
        # Without the API's list (or missing from it), an entry with its own id
        # and token can still be fetched directly.
        if entry.id is not None and (entry.api_key_env or listed is None):
            found.workspaces.append(WorkspaceRef(instance, entry.id, entry.name, entry))
    return found
