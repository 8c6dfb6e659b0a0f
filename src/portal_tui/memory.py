"""Keeping glibc's heap from holding what the core has freed (issue 5, peak RSS).

A full refresh at 50,000 mailboxes allocates and frees a few hundred MB of
transient payloads; the consistency digests and the cycle's record are built
in a worker thread, and aiosqlite writes from its own. glibc raises its mmap
threshold after the first big free (so later big blocks fragment the heap),
gives those threads their own arenas (memory freed in one cannot serve
another) and keeps freed pages resident until something trims them.
:func:`tune_allocator` (at start-up) and :func:`release_free_memory` (after
each cycle's big phases) counter that; both are no-ops where the C library
is not glibc (musl, macOS, Windows)."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>


@functools.cache
def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: ~5 ms that the ``check`` path's start-up need not pay

    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None  # not glibc
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS (``malloc_trim(0)``); True if any were.

    Takes a few milliseconds on a heap of a few hundred MB; it walks every
    arena, so one call from any thread trims them all.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def tune_allocator(mmap_threshold: int = 128 * 1024) -> bool:
    """At start-up: a fixed mmap threshold; True if the C library took it.

    (Capping arenas too, ``M_ARENA_MAX``, measured no better once this is set.)

    Every block of at least ``mmap_threshold`` bytes (snapshot text, lists
    of 50,000 rows, big response bodies) then gets its own mapping, unmapped
    on free. Left dynamic, glibc raises the threshold after the first big
    free, and such blocks then fragment the heap for good. An operator's
    ``MALLOC_MMAP_THRESHOLD_`` is left as it is.
    """
    if mmap_threshold < 1:
        raise ValueError("mmap_threshold must be positive")
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
