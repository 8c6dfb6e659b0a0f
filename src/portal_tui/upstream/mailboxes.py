"""Every sender email of one workspace, gathered from all of its pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal_tui.upstream.models import PageMeta, SenderEmail


@dataclass(frozen=True, slots=True)
class MailboxCollection:
    """Every sender email of one workspace, as gathered from all pages."""

    mailboxes: Sequence[SenderEmail]
    meta: PageMeta | None
    pages_fetched: int
    # Things the pages said that do not add up (a looping links.next, a page
    # that claims another number); the data may still be whole.
    anomalies: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every page arrived and the count matches ``meta.total``."""
        if self.meta is None:
            return True
        return self.pages_fetched >= self.meta.last_page and len(self.mailboxes) == self.meta.total
