"""The alert outbox's writes of :class:`~portal_tui.store.database.Store` (a mixin):
claiming events to send, recording reminders that are due, settling a delivery."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from portal_tui.store import outbox, reminders
from portal_tui.store.outbox import AlertEvent
from portal_tui.store.records import to_epoch
from portal_tui.store.redaction import Redactor
from portal_tui.store.transactions import SharedConnection
from portal_tui.vocabulary.clock import Clock


class StoreAlerts:
    """Needs the store's shared connection, its clock and its redactor."""

    _db: SharedConnection
    _clock: Clock
    _redactor: Redactor

    async def claim_alerts(self, owner: str, lease: float, limit: int = 50) -> list[AlertEvent]:
        """Claim undelivered alert events whose lease lapsed, for ``lease`` seconds."""
        now = to_epoch(self._clock.now())
        query = partial(outbox.claim, owner=owner, now=now, lease=lease, limit=limit)
        return await self._db.run("claiming alerts to send", query)

    async def release_alerts(self, owner: str, ids: Sequence[int]) -> int:
        """Give back claims that were never sent (see :func:`outbox.release`)."""
        if not ids:
            return 0
        query = partial(outbox.release, owner=owner, ids=tuple(ids))
        return await self._db.run("releasing unsent alerts", query)

    async def claim_reminders(self, rules: Sequence[reminders.ReminderRule]) -> int:
        """Record the REMINDER events due now, in one write transaction (see
        :func:`reminders.enqueue_reminders`); returns how many."""
        if not rules:
            return 0
        now = to_epoch(self._clock.now())
        write = partial(reminders.enqueue_reminders, rules=tuple(rules), now=now)
        return await self._db.run("recording alert reminders", write)

    async def settle_alert(
        self,
        event: AlertEvent,
        *,
        owner: str,
        tries: int,
        sent_to: Sequence[str],
        error: str | None,
        delivered: bool,
        retry_after: float,
    ) -> bool:
        """Record a claimed alert's delivery result (see :func:`outbox.settle`)."""
        now = to_epoch(self._clock.now())
        write = partial(
            outbox.settle,
            event=event,
            owner=owner,
            now=now,
            tries=tries,
            sent_to=tuple(sent_to),
            error=None if error is None else self._redactor(error),
            delivered=delivered,
            retry_at=now + retry_after,
        )
        return await self._db.run("recording an alert delivery", write)
