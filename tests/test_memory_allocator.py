"""glibc heap handling (issue 5, peak RSS): trim after a cycle's big phases, tune at start-up.

The helpers must be no-ops off glibc and must leave an operator's
``MALLOC_MMAP_THRESHOLD_`` alone; the monitor must
trim in the judging worker thread (before the digests grow that thread's
arena) and once the record is written.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from portal_tui.engine import memory, monitor, recorder
from support import rig


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", (pad,)))
        return 1

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", (param, value)))
        return 1


def test_the_helpers_are_no_ops_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert memory.release_free_memory() is False
    assert memory.tune_allocator() is False


def test_the_helpers_call_glibc_and_respect_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    libc = _FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: libc)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert memory.release_free_memory() is True
    assert memory.tune_allocator() is True
    assert memory.tune_allocator(65536) is True
    assert libc.calls == [
        ("malloc_trim", (0,)),
        ("mallopt", (memory.M_MMAP_THRESHOLD, 128 * 1024)),
        ("mallopt", (memory.M_MMAP_THRESHOLD, 65536)),
    ]
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "4096")  # glibc has read the operator's
    assert memory.tune_allocator() is False
    assert len(libc.calls) == 3
    with pytest.raises(ValueError):
        memory.tune_allocator(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_real_libc_is_found_and_trims_without_error() -> None:
    if memory._glibc() is None:
        pytest.skip("not glibc")
    assert isinstance(memory.release_free_memory(), bool)
    assert memory.tune_allocator() is True  # mallopt accepts the setting


async def test_the_monitor_trims_in_the_judging_thread_and_after_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[bool] = []

    def trim() -> bool:
        threads.append(threading.current_thread() is threading.main_thread())
        return True

    monkeypatch.setattr(recorder, "release_free_memory", trim)  # judging the cycle
    monkeypatch.setattr(monitor, "release_free_memory", trim)  # after recording it
    async with rig(tmp_path) as r:
        await r.monitor.refresh()
        assert await r.store.recent_cycles(1)
    # both off the event loop's thread: before the digests, then after the record
    assert threads == [False, False]
