"""The terminal going away while the screen is being written (a dropped SSH session).

Textual writes frames through a writer thread and a queue of 30 writes. If
the terminal's ``write`` raises (``EIO`` once the pty is closed), that
thread dies with the error, nothing drains the queue any more, and the 31st
write blocks the event loop for good: the SIGHUP handler never runs and the
console hangs (reproduced with a pty that stops reading, as a stalled SSH
link does, and is then closed). :class:`TerminalOutput` is the file that
thread writes to: a failed write marks the terminal gone, asks the app to
exit (code 129, as SIGHUP), and every later write is dropped, so the
thread keeps draining and the loop never blocks on a terminal that is gone.

A link that stalls without closing (a laptop lid, a congested hop) filled
the same queue, and the loop then waited in ``queue.put`` for as long as the
stall lasted: no keys, no refreshes, and requests in flight could time out
late and be recorded as failures of the API. :class:`ConsoleDriver` never waits
for a frame: while the queue is full it drops frames, and once the terminal
has taken everything queued it repaints the whole screen. The sequences that
set up and restore the terminal are never dropped.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from queue import Full, Queue
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class TerminalOutput:
    """A file-like over the terminal's output whose failures mean "the terminal is gone"."""

    def __init__(self, file: IO[str], on_gone: Callable[[], None]) -> None:
        self._file = file
        self._on_gone = on_gone
        self._lock = threading.Lock()
        self.gone = False
        """True once a write or flush failed; nothing is written after that."""

    def write(self, text: str) -> int:
        """Write ``text``; dropped (reported written) once the terminal is gone."""
        if not self.gone:
            try:
                self._file.write(text)
            except (OSError, ValueError):  # EIO/EPIPE from a closed pty, or a closed file
                self._went_away()
        return len(text)

    def flush(self) -> None:
        """Flush; a failure means the terminal is gone."""
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._went_away()

    def fileno(self) -> int:
        """The terminal's file descriptor."""
        return self._file.fileno()

    def isatty(self) -> bool:
        """Whether the terminal is a tty."""
        return self._file.isatty()

    def _went_away(self) -> None:
        with self._lock:
            if self.gone:
                return
            self.gone = True
        self._on_gone()


SYNC_END = "\x1b[?2026l"
"""Ends synchronized output: a frame cut short by a drop may have left it begun."""

SWITCH_INTERVAL = 0.001
"""Seconds a thread may keep the GIL while another waits for it, in the console's process
(:func:`sys.setswitchinterval`; CPython's default is 5 ms). A key crosses threads on its
way to the screen (Textual's input thread, the event loop, the writer thread); while a
worker thread computes (the end of a refresh: the consistency verdict and the snapshot
text, ~2 s at 50,000 mailboxes) every crossing waits for that worker to give up the
GIL, several times per key (issue 20)."""
BACKLOG_POLL = 0.25
"""Seconds between looks at a backed-up terminal while frames are being dropped."""


class ConsoleDriver(LinuxDriver):
    """Textual's terminal driver, writing through :class:`TerminalOutput`; never waits for
    a stalled terminal (frames are dropped, then the screen repainted)."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)  # Driver keeps the app's running loop as ``_loop``
        self._may_drop = False  # only between set-up and restore: frames, not modes
        self.dropping = False
        """True while frames are dropped because the terminal stopped taking them."""
        self.dropped_writes = 0
        # ``_file`` is what Textual's writer thread writes every frame to (a private
        # attribute: should a later Textual drop it, the console runs unguarded, as
        # Textual's own driver does, rather than failing to start).
        file: Any = getattr(self, "_file", None)
        if file is not None:
            # Duck-typed: the writer thread only calls write, flush and fileno.
            self._file = TerminalOutput(file, self._terminal_gone)  # type: ignore[assignment]

    def start_application_mode(self) -> None:
        """Set up the terminal (every sequence written), then let frames be dropped."""
        super().start_application_mode()  # type: ignore[no-untyped-call]
        self._may_drop = True

    def stop_application_mode(self) -> None:
        """Restore the terminal; these writes wait for the terminal, as Textual's do."""
        self._may_drop = False
        super().stop_application_mode()

    def write(self, data: str) -> None:
        """Queue ``data`` for the terminal without ever waiting for it to be read."""
        queue = self._queue()
        if not self._may_drop or queue is None:
            super().write(data)
            return
        if self.dropping:
            self.dropped_writes += 1
            return
        try:
            queue.put_nowait(data)
        except Full:
            self.dropping = True
            self.dropped_writes += 1
            self._loop.call_later(BACKLOG_POLL, self._check_backlog)

    def _queue(self) -> Queue[str | None] | None:
        # Textual's writer thread keeps its frames in ``_queue`` (private): without
        # it, writes go Textual's way (waiting when full).
        queue: Queue[str | None] | None = getattr(self._writer_thread, "_queue", None)
        return queue

    def _check_backlog(self) -> None:
        """While dropping: once the terminal has taken everything queued, repaint it all."""
        queue = self._queue()
        if queue is None or not self.dropping:
            return
        if queue.qsize() > 0:
            self._loop.call_later(BACKLOG_POLL, self._check_backlog)
            return
        self.dropping = False
        with contextlib.suppress(Full):
            queue.put_nowait(SYNC_END)
        refresh = getattr(self._app, "refresh", None)
        if refresh is not None:
            refresh()  # the whole screen: what the terminal shows is some frames behind

    def _terminal_gone(self) -> None:
        """Called in the writer thread: the app exits on its own loop (129, as SIGHUP)."""
        loop = self._loop
        gone = getattr(self._app, "terminal_gone", None)
        if gone is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: the app is gone
            loop.call_soon_threadsafe(gone, signal.SIGHUP)
