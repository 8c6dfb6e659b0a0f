"""What the fetcher is asked for: one distinct upstream request, as a hashable key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Endpoint(StrEnum):
    """The Email Bison endpoints portal-tui reads (SPEC section 1)."""

    LIST_WORKSPACES = "workspaces"
    SWITCH_WORKSPACE = "switch-workspace"
    STATS = "stats"
    SCHEDULES = "sending-schedules"
    SENDER_EMAILS = "sender-emails"

    @property
    def path(self) -> str:
        """Path under the instance's ``base_url``."""
        return _PATHS[self]


_PATHS = {
    Endpoint.LIST_WORKSPACES: "/workspaces/v1.1",
    Endpoint.SWITCH_WORKSPACE: "/workspaces/v1.1/switch-workspace",
    Endpoint.STATS: "/workspaces/v1.1/stats",
    Endpoint.SCHEDULES: "/campaigns/sending-schedules",
    Endpoint.SENDER_EMAILS: "/sender-emails",
}


@dataclass(frozen=True, slots=True)
class RequestKey:
    """One distinct ``(instance, workspace, endpoint, params)``.

    Within a refresh cycle each key is fetched once and every dashboard that
    needs it reads the same response. For ``SENDER_EMAILS`` the key stands for
    the whole collection (every page).
    """

    instance: str
    workspace_id: int | None
    endpoint: Endpoint
    params: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """Human form without secrets: ``stats start_date=2026-11-01 end_date=2026-11-21``."""
        query = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.endpoint.value} {query}".strip()

    def cache_key(self) -> str:
        """Stable text form, used in SQLite ``data_cache_metadata``."""
        query = "&".join(f"{k}={v}" for k, v in self.params)
        workspace = "-" if self.workspace_id is None else str(self.workspace_id)
        return f"{self.instance}/{workspace}/{self.endpoint.value}?{query}"
