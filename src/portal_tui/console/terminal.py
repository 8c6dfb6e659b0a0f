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
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
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


class ConsoleDriver(LinuxDriver):
    """Textual's terminal driver, writing through :class:`TerminalOutput`."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)  # Driver keeps the app's running loop as ``_loop``
        # ``_file`` is what Textual's writer thread writes every frame to (a private
        # attribute: should a later Textual drop it, the console runs unguarded, as
        # Textual's own driver does, rather than failing to start).
        file: Any = getattr(self, "_file", None)
        if file is not None:
            # Duck-typed: the writer thread only calls write, flush and fileno.
            self._file = TerminalOutput(file, self._terminal_gone)  # type: ignore[assignment]

    def _terminal_gone(self) -> None:
        """Called in the writer thread: the app exits on its own loop (129, as SIGHUP)."""
        loop = self._loop
        gone = getattr(self._app, "terminal_gone", None)
        if gone is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: the app is gone
            loop.call_soon_threadsafe(gone, signal.SIGHUP)
