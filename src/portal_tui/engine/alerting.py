"""Alert delivery: claim events from the records' outbox, send them with Apprise, settle.

Events are written to the outbox by the store, in the transaction that
records their cause (:mod:`portal_tui.store.outbox`). A delivery pass
(:meth:`AlertSender.deliver`, run in the background by
:class:`~portal_tui.engine.alert_delivery.AlertDelivery`) first records the
REMINDER events now due (:mod:`portal_tui.store.reminders`), then claims the
pending events (a lease, so two consoles and a cron ``check`` never both send
one), sends each to every target that wants it, and records the result.

Apprise is synchronous (it blocks on HTTP): each send runs in a daemon
thread of its own, never on the event loop, and each attempt
is bounded by the target's socket timeouts (``attempt_timeout``). A failed send is
retried with tenacity on the injected clock (entered only after the first
failure, :func:`~portal_tui.vocabulary.retrying.retry_after_failure`) within
a deadline; what still fails is recorded (``attempts``, ``last_error``) and
tried again by a later pass once its lease lapses. After repeated failures
the store raises a DELIVERY_FAILING event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential

from portal_tui.config.alerts import AlertTarget
from portal_tui.store import Store
from portal_tui.store.outbox import AlertEvent
from portal_tui.store.reminders import ReminderRule
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError
from portal_tui.vocabulary.retrying import retry_after_failure

log = logging.getLogger(__name__)

SEVERITY = {
    "OK": 0,
    "RECOVERED": 0,
    "WARNING": 1,
    "FINDING": 1,
    "FAILING": 2,
    "CRITICAL": 2,
    "DELIVERY_FAILING": 2,
    "REMINDER": 2,
}
_MIN = {"info": 0, "warning": 1, "critical": 2}
_RESOLVED = ("OK", "RECOVERED")


def wants(target: AlertTarget, kind: str) -> bool:
    """Whether ``target`` takes events of ``kind`` (its filter, severity and send_on_resolved)."""
    if target.events and kind not in target.events:
        return False
    if kind in _RESOLVED and not target.send_on_resolved:
        return False
    return SEVERITY.get(kind, 2) >= _MIN[target.min_severity]


def addressed(target: AlertTarget, event: AlertEvent) -> bool:
    """Whether ``event`` goes to ``target``: a reminder to its one target, else :func:`wants`."""
    if event.target is not None:
        return event.target == target.label
    return wants(target, event.kind)


def reminder_rules(targets: Sequence[AlertTarget]) -> tuple[ReminderRule, ...]:
    """The reminders each target with ``reminder_minutes`` asks for."""
    return tuple(
        ReminderRule(
            t.label,
            t.reminder_minutes * 60.0,
            workspaces=wants(t, "FAILING"),
            health=wants(t, "CRITICAL"),
        )
        for t in targets
        if t.reminder_minutes
    )


class DeliveryError(Exception):
    """One send failed (the message says why, redacted before it is kept)."""


def _send_blocking(url: str, title: str, body: str, timeout: float) -> None:
    """Send one message through Apprise (blocking: run in a worker thread).

    ``timeout`` bounds connecting and each read (the plugin's socket
    timeouts), so a dead webhook costs one attempt at most about twice that.
    """
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        raise DeliveryError("Apprise does not recognise this target's URL")
    plugin.socket_connect_timeout = timeout
    plugin.socket_read_timeout = timeout
    sender = apprise.Apprise()
    sender.add(plugin)
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        ok = sender.notify(title=title, body=body)
    if not ok:
        lines = [line for line in str(captured.getvalue()).splitlines() if line.strip()]
        raise DeliveryError(lines[-1].strip() if lines else "the target refused the message")


async def _in_daemon_thread(url: str, title: str, body: str, socket_timeout: float) -> None:
    """:func:`_send_blocking` in a daemon thread of its own.

    Not ``asyncio.to_thread``: ``asyncio.run`` joins the default executor's
    threads on the way out, so a console quitting (or a ``check`` past its
    deadline) would wait for a dead webhook's socket timeouts. A daemon
    thread is abandoned instead; its event stays claimed until the lease lapses.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():
            return  # the pass was cancelled meanwhile
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            _send_blocking(url, title, body, socket_timeout)
        except BaseException as exc:  # handed to the awaiting task, which decides
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=run, name="alert send", daemon=True).start()
    await done


class _StopAtDeadline(stop_base):
    """Stop when the next attempt could not start before ``deadline`` (injected clock)."""

    def __init__(self, clock: Clock, deadline: float) -> None:
        self.clock = clock
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock.monotonic() + (retry_state.upcoming_sleep or 0.0) > self.deadline


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One target's result for one message."""

    target: str
    ok: bool
    tries: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    target: AlertTarget
    url: str | None
    problem: str | None = None


class AlertSender:
    """Delivers the outbox's events to the configured targets."""

    def __init__(
        self,
        targets: Sequence[AlertTarget],
        *,
        store: Store,
        clock: Clock,
        env: Mapping[str, str] | None = None,
        attempts: int = 3,
        deadline: float = 30.0,
        lease: float = 120.0,
        backoff: float = 1.0,
        owner: str | None = None,
        attempt_timeout: float = 5.0,
    ) -> None:
        env = os.environ if env is None else env
        self.store = store
        self.clock = clock
        self.attempts = attempts
        self.deadline = deadline
        self.lease = lease
        self.backoff = backoff
        self.attempt_timeout = attempt_timeout
        self.reminders = reminder_rules(targets)
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.targets: list[Resolved] = []
        for target in targets:
            if target.url is not None:
                self.targets.append(Resolved(target, target.url))
                continue
            value = env.get(target.url_env or "", "").strip()
            if not value:
                problem = f"env var {target.url_env} is not set"
                self.targets.append(Resolved(target, None, problem))
                continue
            store.add_secrets([value])  # the URL may hold a webhook secret: never written
            self.targets.append(Resolved(target, value))
        self._lock = asyncio.Lock()

    async def send(self, target: Resolved, title: str, body: str) -> TargetResult:
        """Send one message to one target, retrying within the deadline."""
        label = target.target.label
        if target.url is None:
            return TargetResult(label, False, 0, target.problem)
        url = target.url
        tries = 1
        try:
            await _in_daemon_thread(url, title, body, self.attempt_timeout)
            return TargetResult(label, True, 1)
        except DeliveryError as first:
            log.info("alert to %s failed, retrying: %s", label, self.store.redact(str(first)))
            failure: Exception = first
        deadline = self.clock.monotonic() + self.deadline

        async def attempt(number: int) -> None:
            nonlocal tries
            tries = number
            await _in_daemon_thread(url, title, body, self.attempt_timeout)

        retrying = AsyncRetrying(
            sleep=self.clock.sleep,
            stop=stop_after_attempt(self.attempts) | _StopAtDeadline(self.clock, deadline),
            wait=wait_exponential(multiplier=self.backoff, max=30.0),
            reraise=True,
        )
        try:
            await retry_after_failure(retrying, failure, attempt)
        except DeliveryError as last:
            return TargetResult(label, False, tries, self.store.redact(f"{label}: {last}"))
        return TargetResult(
            label, True, tries, self.store.redact(f"{label}: {failure} (then delivered)")
        )

    async def deliver(self) -> list[AlertEvent]:
        """One delivery pass: remind, claim, send, settle. Returns the events delivered now."""
        if not self.targets:
            return []
        async with self._lock:  # one pass at a time in this process
            await self.store.claim_reminders(self.reminders)
            # Sending must end within the lease, or another process could claim and
            # send the same event: the lease covers two events' worst case, and an
            # event that could not end within it waits for the lease to lapse.
            budget = len(self.targets) * (self.deadline + 2 * self.attempt_timeout)
            lease = max(self.lease, 2 * budget)
            done: list[AlertEvent] = []
            # A claim takes a batch; claim again until nothing is left (an event that
            # failed waits for its retry time, so it is not claimed twice in one pass).
            while events := await self.store.claim_alerts(self.owner, lease):
                waiting = {e.id for e in events}
                try:
                    finished = await self._send_batch(events, lease - budget, done, waiting)
                finally:
                    # Stopped early (out of time, cancelled, or failed): what was
                    # claimed but never started goes back at once, so another process
                    # (or the next pass) sends it now, not after the lease.
                    if waiting:
                        with contextlib.suppress(StoreError):  # then the lease lapses
                            release = self.store.release_alerts(self.owner, sorted(waiting))
                            await asyncio.shield(release)
                if not finished:
                    break
            return done

    async def _send_batch(
        self,
        events: list[AlertEvent],
        window: float,
        done: list[AlertEvent],
        waiting: set[int],
    ) -> bool:
        """Send one claimed batch, starting sends for ``window`` seconds; False if out of time.

        An event leaves ``waiting`` when its first send starts: one in flight when
        the pass stops keeps its lease, as its message may still arrive.
        """
        last_start = self.clock.monotonic() + window
        for event in events:
            if self.clock.monotonic() > last_start:
                log.info("alert delivery pass out of time; the rest is released")
                return False
            waiting.discard(event.id)
            sent = list(event.sent_to)
            errors: list[str] = []
            tries = 0
            for target in self.targets:
                label = target.target.label
                if label in sent or not addressed(target.target, event):
                    continue
                result = await self.send(target, event.title, event.body)
                tries = max(tries, result.tries, 1)
                if result.ok:
                    sent.append(label)
                if result.error:
                    errors.append(result.error)
            pending = [
                t for t in self.targets if addressed(t.target, event) and t.target.label not in sent
            ]
            delivered = not pending
            retry_after = min(3600.0, self.lease * 2 ** max(0, event.attempts))
            await self.store.settle_alert(
                event,
                owner=self.owner,
                tries=tries,
                sent_to=sent,
                error="; ".join(errors) or None,
                delivered=delivered,
                retry_after=retry_after,
            )
            if delivered:
                done.append(event)
        return True

    async def test(self) -> list[TargetResult]:
        """Send a test message to every target; each one's result."""
        title = "TEST portal-tui alerts: this target works"
        body = "A test message from `portal-tui alert test`. Nothing is wrong."
        return [await self.send(t, title, body) for t in self.targets]
