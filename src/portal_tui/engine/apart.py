"""Run a cycle's judging in a forked child, so it never holds this process's GIL (issue 20).

At the end of a refresh at 50,000 mailboxes the consistency rules (a digest
of every payload and row, the drift and number checks) and the cycle's
record (the snapshot text) take ~2 s of CPU. In a worker thread that work
competes for the GIL with the event loop a console draws from: keys pressed
then waited 250–380 ms for the screen. A child forked for it has the
cycle's data already (copy-on-write: nothing is pickled on the way in),
computes on its own interpreter, and sends back the result, pickled
(findings, checksums and the record: the snapshot text is one string per
dashboard), which the parent unpickles in tens of milliseconds.

The child is forked from a worker thread of a process that has other
threads (Textual's, aiosqlite's): it runs only pure computation on data
nothing changes any more (the same contract as the worker thread it
replaces), touches no file, socket or lock of the parent's, takes itself
out of the terminal's process group (a resize or hang-up is the parent's
business), and leaves with ``os._exit`` (no atexit, no finalizers).
Anything unexpected (no ``fork`` on this platform, a result that does not
pickle, the child dying) falls back to running the same function here, in
the calling thread, as before.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

FORK_AVAILABLE = sys.platform.startswith("linux") and hasattr(os, "fork")
"""Only where ``fork`` is the platform's own (Linux): macOS frameworks are not fork-safe."""


@dataclass(slots=True)
class ChildCost:
    """What the last child cost: its peak RSS (its own high-water mark, shared pages with
    the parent included) and whether the work ran in a child at all."""

    forked: bool = False
    peak_rss_mb: float = 0.0


last = ChildCost()
"""The last call's :class:`ChildCost` (the benchmark reads it)."""


def run_apart(work: Callable[[], T], *, apart: bool = True) -> T:
    """``work()``, computed in a forked child when possible, else here.

    Call from a worker thread (``asyncio.to_thread``): this blocks until the
    child is done. ``work``'s result must pickle; anything ``work`` changes
    in memory stays in the child, so it must return all it produces.
    """
    if not (apart and FORK_AVAILABLE):
        last.forked = False
        return work()
    try:
        return _forked(work)
    except _Unavailable as exc:
        log.debug("judging in this process: %s", exc)
        last.forked = False
        return work()


class _Unavailable(Exception):
    """The child could not deliver: run the work here instead."""


def _forked(work: Callable[[], T]) -> T:
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise _Unavailable(f"fork failed: {exc}") from exc
    if pid == 0:  # pragma: no cover - the child; its result is what the tests check
        os.close(read_end)
        _child(work, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    last.forked = True
    last.peak_rss_mb = usage.ru_maxrss / 1024
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
        raise _Unavailable(f"the child ended with status {status}")
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value  # the work's own exception, as the thread would have raised it
    if kind != "ok":
        raise _Unavailable(str(value))
    return value  # type: ignore[no-any-return]


def _child(work: Callable[[], Any], write_end: int) -> None:  # pragma: no cover - in the child
    code = 1
    try:
        os.setpgid(0, 0)  # out of the terminal's foreground group: no SIGWINCH, SIGHUP, ^C
        signal.set_wakeup_fd(-1)  # the parent's loop must never hear of a signal here
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGWINCH):
            signal.signal(sig, signal.SIG_DFL)
        try:
            result: tuple[str, Any] = ("ok", work())
        except Exception as exc:  # the parent raises it, as the thread would have
            result = ("raised", exc)
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(("unavailable", f"the result does not pickle: {exc!r}"))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)
