"""Alert delivery in the background: a cycle never waits for a webhook.

The monitor calls :meth:`AlertDelivery.kick` once a cycle is recorded; that
starts (or re-arms) one background task running delivery passes
(:meth:`~portal_tui.engine.alerting.AlertSender.deliver`) until no kick is
left, so a dead webhook delays the messages, not the next cycle. ``watch``
and the console also :meth:`start` a pass every ``interval`` seconds, which
sends what waited for its lease to lapse and the reminders now due; a
``check`` :meth:`drain`\\ s before it exits, bounded by a deadline. What is not
delivered stays in the records' outbox for the next pass of any process.

After each pass the records' undelivered events are read again into
:attr:`AlertDelivery.trouble` (every process's, not only this one's): the
console's Overview shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from portal_tui.engine.alerting import AlertSender, addressed
from portal_tui.store.outbox import AlertEvent
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)

DELIVERY_INTERVAL = 60.0
"""Seconds between the background passes of ``watch`` and the console."""
EXIT_DEADLINE = 30.0
"""Seconds ``check`` waits at most for its alerts before it exits."""


ERROR_WIDTH = 60
"""Characters of the last error in :meth:`DeliveryTrouble.line` (the rest is in ``doctor``)."""


@dataclass(frozen=True, slots=True)
class DeliveryTrouble:
    """One target's undelivered events, as the records say."""

    target: str
    undelivered: int
    since: datetime
    """When the oldest of them was raised."""
    last_error: str | None

    def line(self) -> str:
        """``alerts: 3 undelivered to slack (last error …, since …)``."""
        last = self.last_error or ""
        if len(last) > ERROR_WIDTH:
            last = last[: ERROR_WIDTH - 1].rstrip() + "…"
        error = f"last error {last}, " if last else ""
        return (
            f"alerts: {self.undelivered} undelivered to {self.target} "
            f"({error}since {self.since:%Y-%m-%d %H:%M} UTC)"
        )


def trouble_of(sender: AlertSender, events: list[AlertEvent]) -> tuple[DeliveryTrouble, ...]:
    """Per target, the undelivered ``events`` it should have had (newest first in)."""
    found = []
    for resolved in sender.targets:
        target = resolved.target
        mine = [e for e in events if addressed(target, e) and target.label not in e.sent_to]
        if not mine:
            continue
        errors = [e.last_error for e in mine if e.last_error]
        found.append(
            DeliveryTrouble(
                target.label,
                len(mine),
                min(e.created_at for e in mine),
                _for_target(errors[0], target.label) if errors else resolved.problem,
            )
        )
    return tuple(found)


def _for_target(error: str, label: str) -> str:
    """This target's part of a ``label: error; other: error`` text (else all of it)."""
    for part in error.split("; "):
        if part.startswith(f"{label}: "):
            return part[len(label) + 2 :]
    return error


class AlertDelivery(AlertSender):
    """An :class:`AlertSender` whose passes run as a background task."""

    _task: asyncio.Task[None] | None = None
    _ticker: asyncio.Task[None] | None = None
    _again = False
    trouble: tuple[DeliveryTrouble, ...] = ()
    """Per target, the undelivered events the records held after the last pass."""

    def kick(self) -> None:
        """Run a delivery pass in the background (now, or again after the running one)."""
        if not self.targets:
            return
        self._again = True
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._passes(), name="alert delivery")

    async def _passes(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.deliver()
            except StoreError as exc:  # the records are busy or broken: the next pass retries
                log.warning("alert delivery pass skipped: %s", exc)
            except Exception:  # a bug here must not end the passes (nor reach the cycle)
                log.exception("alert delivery pass failed")
            await self.read_trouble()

    async def read_trouble(self) -> tuple[DeliveryTrouble, ...]:
        """Read the records' undelivered events again into :attr:`trouble`."""
        if not self.targets:
            return ()
        try:
            events = await self.store.alert_events(undelivered_only=True, limit=500)
        except StoreError as exc:
            log.warning("could not read the undelivered alerts: %s", exc)
            return self.trouble
        self.trouble = trouble_of(self, events)
        return self.trouble

    def start(self, interval: float = DELIVERY_INTERVAL) -> None:
        """Also run a pass every ``interval`` seconds (``watch`` and the console)."""
        if not self.targets or (self._ticker is not None and not self._ticker.done()):
            return
        loop = asyncio.get_running_loop()
        self._ticker = loop.create_task(self._tick(interval), name="alert delivery ticker")

    async def _tick(self, interval: float) -> None:
        await self.read_trouble()
        while True:
            await self.clock.sleep(interval)
            self.kick()

    async def idle(self) -> None:
        """Wait until no pass is running or asked for."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def drain(self, deadline: float | None) -> bool:
        """Wait for the passes asked for, at most ``deadline`` seconds (None: no limit).

        True when they finished; False when the deadline passed first (the
        pass goes on until :meth:`aclose`; its events stay in the outbox).
        """
        try:
            async with self.clock.timeout(deadline):
                await self.idle()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Stop the background passes (a send in flight is abandoned: its lease lapses)."""
        tasks = [t for t in (self._ticker, self._task) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
