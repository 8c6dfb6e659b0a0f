"""``check``'s progress line on stderr, when stderr is a terminal.

A cold ``check`` takes 12-17 s against 27 workspaces and printed nothing
meanwhile. On a terminal, one line on stderr now says how far it is
(``checking 8s: 12/27 workspaces answered · 140 requests · 5 in flight ·
2 retrying…``), rewritten in place (``\\r``, never
wider than the terminal, so it never wraps) and erased before the report is
printed. When stderr is not a terminal (cron, a pipe, a monitor) nothing is
written: the output stays exactly what it was.

The counts come from the monitor's request statuses (the same events the
console's Failures pane shows). The total of workspaces is the one the last
recorded snapshots had; without any, the line gives the count so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import TextIO

from portal_tui.engine.monitor import CallStatusChanged, MonitorEvent, PortalMonitor
from portal_tui.fetch.events import CallPhase

MIN_INTERVAL = 0.1
"""Seconds between redraws driven by events (a cold cycle has thousands of them)."""
TICK = 0.5
"""Seconds between redraws while nothing happens (the elapsed time moves on)."""


class CheckProgress:
    """The progress line of one ``check`` on ``stream`` (a terminal)."""

    def __init__(
        self,
        monitor: PortalMonitor,
        stream: TextIO,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monitor = monitor
        self._stream = stream
        self._monotonic = monotonic
        self._started = monotonic()
        self._drawn_at = float("-inf")
        self._shown = 0
        """Cells of the line on screen (erased by blanks: no escape sequences needed)."""
        self.done = 0
        self.failed = 0
        self.answered: set[tuple[str, str]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    def on_terminal(cls, monitor: PortalMonitor, stream: TextIO) -> CheckProgress | None:
        """A started progress line when ``stream`` is a terminal, else None."""
        try:
            tty = stream.isatty()
        except (OSError, ValueError):
            tty = False
        if not tty:
            return None
        progress = cls(monitor, stream)
        progress.start()
        return progress

    def start(self) -> None:
        """Listen to the monitor, draw the first line, redraw every :data:`TICK` seconds."""
        self._unsubscribe = self._monitor.subscribe(self._event)
        self._draw(force=True)
        with contextlib.suppress(RuntimeError):  # no running loop: events still redraw
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        """Stop listening and erase the line (the report follows on a clean line)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._write("")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self._draw(force=True)

    def _event(self, event: MonitorEvent) -> None:
        if not isinstance(event, CallStatusChanged):
            return
        status = event.status
        if status.phase in (CallPhase.SUCCEEDED, CallPhase.FAILED):
            self.done += 1
            if status.phase is CallPhase.FAILED:
                self.failed += 1
            elif status.workspace is not None:
                self.answered.add((status.instance, status.workspace))
        self._draw()

    def line(self) -> str:
        """What the line says now."""
        calls = self._monitor.active_calls()
        retrying = sum(1 for c in calls if c.phase is CallPhase.RETRYING)
        elapsed = self._monotonic() - self._started
        if not self.done and not calls:
            return f"checking {elapsed:.0f}s: starting…"
        total = max((len(s.rows) for s in self._monitor.snapshots.values()), default=0)
        count = len(self.answered)
        workspaces = f"{count}/{total}" if total >= count and total else f"{count}"
        failed = f" ({self.failed} failed)" if self.failed else ""
        parts = [
            f"checking {elapsed:.0f}s: {workspaces} workspaces answered",
            f"{self.done} requests{failed}",
            f"{len(calls) - retrying} in flight",
        ]
        if retrying:
            parts.append(f"{retrying} retrying")
        return " · ".join(parts) + "…"

    def _draw(self, *, force: bool = False) -> None:
        now = self._monotonic()
        if not force and now - self._drawn_at < MIN_INTERVAL:
            return
        self._drawn_at = now
        self._write(self.line())

    def _write(self, text: str) -> None:
        try:
            width = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError):
            width = 80
        text = text[: max(0, width - 1)]  # never wrap: a wrapped line is not rewritten
        blank = " " * max(0, self._shown - len(text))
        try:
            self._stream.write(f"\r{text}{blank}\r" if not text else f"\r{text}{blank}")
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: the check goes on
            return
        self._shown = len(text)
