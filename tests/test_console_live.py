"""The console while things happen: start-up, slow refreshes, bursts, TTLs, failures, signals.

Time is a frozen FakeClock advanced by the tests; a "slow" refresh is one
whose simulated latency sleeps on that clock, so it stays in flight for
exactly as long as the test wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import fcntl
import io
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from console_scenario import (
    catch_up,
    demo_tokens,
    drive,
    open_scenario,
    running_console,
    scenario_clock,
    screen_text,
    settle,
    until,
)
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.engine.monitor import CallStatusChanged, SnapshotUpdated
from portal_tui.fetch.events import CallPhase, RetryStatus
from portal_tui.simulator import LatencyModel
from portal_tui.vocabulary.names import DashboardName

SLOW = LatencyModel.fixed(5.0)
"""Every request takes 5 s of (frozen) clock time: the refresh waits until a test advances."""


async def test_restored_snapshots_paint_at_once_then_revalidate(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    clock = scenario_clock()
    first = await open_scenario(db, clock, workspaces=6)
    try:
        await first.monitor.refresh(triggered_by="startup")
    finally:
        await first.aclose()
    clock.advance(10 * 60)  # the console is started again ten minutes later, on a slow link
    started = time.perf_counter()
    async with running_console(db, clock=clock, latency=SLOW, settle_first=False) as (
        app,
        pilot,
        runtime,
        _,
    ):
        await pilot.pause()
        painted = time.perf_counter() - started
        text = screen_text(app)
        assert "(restored)" in text  # labelled as from the last session ...
        assert "10m" in text and "very stale" in text  # ... with its age and state
        assert "↻ refreshing" in text  # ... while it revalidates
        assert runtime.monitor.refreshing  # the startup refresh is in flight
        assert painted < 10  # generous: the point is that nothing waits for the network
        await pilot.press("2")
        await pilot.pause()
        assert len(app.query_one("#kpi-table", RowTable).view.rows) == 6
        runtime.simulator.latency = None  # the link recovers: the rest answers at once
        await drive(pilot, clock, step=5)
        assert not runtime.monitor.refreshing
        cycles = await runtime.store.recent_cycles(1)
        assert cycles[0].triggered_by == "startup"
        assert "(restored)" not in screen_text(app)


async def test_keys_respond_while_a_slow_refresh_is_in_flight(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", latency=SLOW) as (app, pilot, runtime, clock):
        assert runtime.monitor.refreshing  # stuck on the clock until we advance it
        await pilot.press("6")
        assert app.current_pane().id == "failures"
        await catch_up(pilot)
        assert "attempt 1/4" in screen_text(app)  # live: what is in flight right now
        await pilot.press("p")
        assert app.state.policy.paused
        await pilot.press("2", "slash", "x")
        assert app.query_one("#kpi-filter").has_focus
        await pilot.press("escape", "question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert runtime.monitor.refreshing, "every key took effect before the refresh finished"
        runtime.simulator.latency = None
        await drive(pilot, clock, step=5)
        assert not runtime.monitor.refreshing
        assert len(app.query_one("#kpi-table", RowTable).view.rows) == 6


async def test_a_thousand_status_events_coalesce(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db") as (app, pilot, runtime, clock):
        await pilot.press("6")
        await catch_up(pilot)
        pane = app.current_pane()
        ticks = _count_ticks(pane)  # the once-a-second redraw is not a coalescing failure
        calls = app.query_one("#calls-table", RowTable)
        paints, posted, ticked = calls.paints, app.relay.posted["CallsChanged"], ticks[0]
        now = clock.now()
        for n in range(1000):  # one per workspace of a 1,000-workspace refresh
            status = RetryStatus("demo", f"ws{n}", ("kpi",), "stats", CallPhase.RETRYING, 1, 4, now)
            runtime.monitor._emit(CallStatusChanged(status))
        await until(pilot, lambda: calls.paints > paints, "repaint of the calls table")
        await pilot.pause(0.6)  # two or three flush intervals more: no further posts
        assert app.relay.seen["CallStatusChanged"] >= 1000
        assert app.relay.posted["CallsChanged"] - posted <= 3
        assert calls.paints - paints - (ticks[0] - ticked) <= 4  # not one repaint per event
        before, ticked = pane.repaints, ticks[0]
        for _ in range(50):  # snapshot updates coalesce too
            runtime.monitor._emit(SnapshotUpdated(DashboardName.KPI))
        updates = app.relay.posted["DashboardsUpdated"]
        await until(pilot, lambda: app.relay.posted["DashboardsUpdated"] > updates, "a post")
        await catch_up(pilot)
        await pilot.pause(0.6)
        assert app.relay.posted["DashboardsUpdated"] - updates <= 2
        assert 1 <= pane.repaints - before - (ticks[0] - ticked) <= 2


def _count_ticks(pane: Any) -> list[int]:
    """Count the pane's clock ticks (a busy machine may fit several into a wait)."""
    count = [0]
    tick = pane.tick

    def counted() -> None:
        count[0] += 1
        tick()

    pane.tick = counted
    return count


async def test_auto_refresh_on_ttl_lapse_without_hammering(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", auto_refresh=True, size=(120, 30)) as (
        app,
        pilot,
        runtime,
        clock,
    ):
        clock.advance(121)  # KPI and Volume (2 min) lapse; Revenue (5) and Infra (10) do not
        app.tick()
        await settle(pilot)
        cycles = await runtime.store.recent_cycles(5)
        assert cycles[0].triggered_by == "auto"
        assert set(cycles[0].dashboards) == {"kpi", "volume"}
        assert cycles[-1].triggered_by == "startup"
        app.tick()  # nothing else is due
        await settle(pilot)
        assert len(await runtime.store.recent_cycles(10)) == len(cycles)
        runtime.simulator.faults.add_spec("revoked")  # now every call fails
        clock.advance(121)
        app.tick()
        await settle(pilot)
        count = len(await runtime.store.recent_cycles(10))
        assert count == len(cycles) + 1
        clock.advance(5)  # data still old, but it was just tried: no hammering
        app.tick()
        await settle(pilot)
        assert len(await runtime.store.recent_cycles(10)) == count
        assert "retry in" in screen_text(app)


async def test_notifications_when_a_workspace_fails_and_recovers(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", faults="revoked@8") as (
        app,
        pilot,
        runtime,
        clock,
    ):
        await pilot.press("R")  # second failed cycle in a row: hysteresis flips it
        await settle(pilot)
        failing = [n for n in app._notifications if n.title == "workspace failing"]
        assert len(failing) == 1
        assert "Summitroot Media (demo) is FAILING" in failing[0].message
        assert "401" in failing[0].message
        runtime.simulator.faults.clear()
        await pilot.press("R")
        await settle(pilot)
        assert not [n for n in app._notifications if n.title == "workspace recovered"]
        await pilot.press("R")
        await settle(pilot)
        recovered = [n for n in app._notifications if n.title == "workspace recovered"]
        assert len(recovered) == 1 and "Summitroot Media" in recovered[0].message
        transitions = await runtime.store.state_transitions(clock.now().replace(hour=0))
        assert [t.to_state for t in transitions] == ["failing", "recovered"]


async def test_sighup_exits_cleanly(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", handle_signals=True) as (app, pilot, _, _):
        os.kill(os.getpid(), signal.SIGHUP)
        await until(pilot, lambda: app.return_code is not None, "exit after SIGHUP")
        assert app.return_code == 128 + signal.SIGHUP
    assert signal.getsignal(signal.SIGHUP) in (signal.SIG_DFL, signal.default_int_handler)


def _console_in_a_pty(
    tmp_path: Path, *, shell: str | None = None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The demo console on a new pty (its controlling terminal): (process, pty master, dump file).

    Its simulator has none of the demo's faults or latency: what these tests
    watch is the terminal, and a refresh then takes no real time (the demo's
    retries and backoffs take over 10 s, far more on a busy machine).
    ``shell``: a ``sh -c`` script run as the session leader instead, with the
    console's command line in ``$CONSOLE``. The console touches
    ``tmp_path / "dropping"`` once it drops frames, and adds a byte to
    ``tmp_path / "shown"`` for each pane key it has handled (:func:`_stall_the_link`).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    dump = tmp_path / "traceback.txt"
    # Textual draws on stderr, so all three go to the terminal; a hang's traceback to a file.
    script = (
        "import faulthandler, signal, sys\n"
        f"faulthandler.register(signal.SIGUSR1, file=open({str(dump)!r}, 'w'), all_threads=True)\n"
        "import portal_tui.simulator.demo as demo\n"
        "demo.demo_fault_spec = lambda dataset: ''\n"
        "from pathlib import Path\n"
        "from portal_tui.console.terminal import ConsoleDriver\n"
        "_write = ConsoleDriver.write\n"
        "def write(self, data):\n"
        "    _write(self, data)\n"
        f"    if self.dropping: Path({str(tmp_path / 'dropping')!r}).touch()\n"
        "ConsoleDriver.write = write\n"
        "from portal_tui.console.app import PortalConsole\n"
        "_show = PortalConsole.action_show_pane\n"
        "async def show(self, pane_id):\n"
        "    await _show(self, pane_id)\n"
        f"    with open({str(tmp_path / 'shown')!r}, 'a') as handled: handled.write('.')\n"
        "PortalConsole.action_show_pane = show\n"
        "from portal_tui.cli import main\n"
        f"sys.exit(main(['--demo', '--db', {str(tmp_path / 'c.db')!r}]))\n"
    )
    command = [sys.executable, "-c", script]
    env = dict(os.environ, TERM="xterm-256color", XDG_DATA_HOME=str(tmp_path))
    if shell is not None:
        env["CONSOLE_PYTHON"], env["CONSOLE_SCRIPT"] = command[0], script
        command = ["/bin/sh", "-c", shell]
    proc = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        preexec_fn=controlling_terminal,
        close_fds=True,
    )
    os.close(slave)
    return proc, master, dump


def _read_until_painted(master: int) -> None:
    seen = b""
    deadline = time.monotonic() + 30
    while b"Health" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    assert b"Health" in seen, "the console never painted"


def _stall_the_link(master: int, tmp_path: Path) -> None:
    """Stop reading the pty and switch panes until the console drops frames.

    Every switch redraws most of the screen: the pty buffer fills, then
    Textual's queue of 30 writes. The console says when it starts dropping
    and when it has handled each key, so the next round is sent only once the
    last was handled (no backlog of keys: a key sent next is handled next), and
    how fast a busy machine draws decides nothing.
    """
    dropping, shown = tmp_path / "dropping", tmp_path / "shown"
    deadline = time.monotonic() + 90
    sent = 0
    while not dropping.exists():
        for key in b"23456781":
            os.write(master, bytes([key]))
            time.sleep(0.03)  # pacing: one redraw per key rather than one for the lot
        sent += 8
        while (shown.stat().st_size if shown.exists() else 0) < sent:
            assert time.monotonic() < deadline, f"the console handled too few of {sent} keys"
            time.sleep(0.02)
        assert time.monotonic() < deadline, "the console never backed up"


def _exit_code_after_close(proc: subprocess.Popen[bytes], master: int, dump: Path) -> int:
    """Close the pty (the terminal goes away) and wait for the process to end."""
    os.close(master)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pgid = os.getpgid(proc.pid)
        os.killpg(pgid, signal.SIGUSR1)  # faulthandler writes where it hangs
        time.sleep(1)
        pytest.fail(
            "still running 20 s after its terminal went away:\n"
            + dump.read_text(errors="replace")[-6000:]
        )
    finally:
        # The whole group (setsid made it the session leader's pid), whether or not the
        # leader is still there: a console left behind by a shell leader would spin on.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_console_exits_when_its_terminal_goes_away(tmp_path: Path) -> None:
    """A real pty: close it (a dropped SSH session) and the console exits at once."""
    proc, master, dump = _console_in_a_pty(tmp_path)
    _read_until_painted(master)
    assert _exit_code_after_close(proc, master, dump) == 128 + signal.SIGHUP


def test_console_exits_when_a_stalled_terminal_goes_away_without_sighup(tmp_path: Path) -> None:
    """The 3 a.m. case: the link stalls (nothing is read), then the pty closes; no SIGHUP.

    The screen backs up in the pty and in Textual's queue of 30 writes; when
    the pty closes, the pending write fails. Stock Textual's writer thread
    died of that error with the queue full, and the event loop blocked for
    good on the next write. The session leader here is a shell that ignores
    SIGHUP and does not pass it on (as a wrapper script may), so only the
    failed write can tell the console its terminal is gone.
    """
    shell = 'trap \'\' HUP; "$CONSOLE_PYTHON" -c "$CONSOLE_SCRIPT"; exit $?'
    proc, master, dump = _console_in_a_pty(tmp_path, shell=shell)
    _read_until_painted(master)
    _stall_the_link(master, tmp_path)
    assert _exit_code_after_close(proc, master, dump) == 128 + signal.SIGHUP


async def test_nothing_is_mounted_once_the_console_is_exiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal goes away while hidden panes are still being composed (a busy
    machine): the pre-mount timer and queued pane keys then run on a console that is
    tearing its tabs down. Mounting there raised MountError, and the exit code was 1."""
    from portal_tui.console import app as console_app

    monkeypatch.setattr(console_app, "PREMOUNT_AFTER", 3600.0)  # nothing pre-mounted yet
    async with running_console(tmp_path / "c.db") as (app, pilot, _, _):
        assert "tab-history" not in app._panes
        app.terminal_gone(signal.SIGHUP)
        for _ in range(5):  # behind the exit in the app's queue
            app.call_later(app._premount_next)
            app.call_later(app.action_show_pane, "history")
        await pilot.pause()
    assert app.return_code == 128 + signal.SIGHUP
    assert "tab-history" not in app._panes


async def _never_opened() -> Any:
    """An opener for consoles whose runtime a test never starts."""
    raise AssertionError("not opened")


def test_a_failed_terminal_write_exits_once_and_never_blocks_the_writer() -> None:
    """Textual's own writer thread over :class:`TerminalOutput` keeps draining after EIO."""
    from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread
    from textual.drivers.linux_driver import LinuxDriver

    from portal_tui.console.app import PortalConsole
    from portal_tui.console.terminal import ConsoleDriver, TerminalOutput

    class ClosedPty(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    gone: list[int] = []
    output = TerminalOutput(ClosedPty(), lambda: gone.append(1))
    writer = WriterThread(output)  # type: ignore[arg-type]
    writer.start()
    frames = threading.Thread(
        target=lambda: [writer.write("frame") for _ in range(MAX_QUEUED_WRITES * 5)], daemon=True
    )
    frames.start()
    frames.join(30)
    assert not frames.is_alive(), "a frame write blocked: the writer thread stopped draining"
    writer.stop()
    assert gone == [1] and output.gone

    # On a real terminal the console runs on the driver that writes through TerminalOutput.
    assert issubclass(ConsoleDriver, LinuxDriver)
    assert PortalConsole(opener=_never_opened).driver_class is ConsoleDriver


async def test_no_token_ever_reaches_the_screen_or_the_clipboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_console(tmp_path / "c.db", size=(160, 50), faults="revoked@8") as (
        app,
        pilot,
        runtime,
        _,
    ):
        tokens = demo_tokens(runtime)
        assert len(tokens) > 3
        copied: list[str] = []
        monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
        seen = []
        for key in "12345678":
            await pilot.press(key)
            await catch_up(pilot)
            await pilot.press("y")
            seen.append(screen_text(app))
        await pilot.press("2", "enter")
        seen.append(screen_text(app))
        everything = "\n".join(seen + copied)
        assert "Summitroot Media" in everything
        for token in tokens:
            assert token not in everything


async def test_usable_at_80_by_24_in_monochrome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with running_console(tmp_path / "c.db", faults="revoked@8") as (
        app,
        pilot,
        runtime,
        clock,
    ):
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == 24 and max(len(line) for line in lines) <= 80
        for must in ("Health", "KPI", "Volume", "Revenue", "Infrastructure", "breaker", "? help"):
            assert must in text
        assert "8 History" in lines[1]  # every pane's number on the tab bar
        assert "DEMO  built-in simulator" in text and app.sub_title.startswith("DEMO")
        config = runtime.monitor.config
        insecure = config.instances[0].model_copy(update={"verify_tls": False})
        runtime.monitor.config = config.model_copy(update={"instances": [insecure]})
        app.tick()
        await pilot.pause()
        assert "⚠ TLS VERIFICATION OFF for instance demo" in screen_text(app)
        runtime.monitor.config = config
        # NO_COLOR: Textual's monochrome filter; every state keeps its word and symbol.
        assert app.no_color
        clock.advance(200)
        app.tick()
        await pilot.pause()
        svg = app.export_screenshot()
        colours = set(re.findall(r"fill: #([0-9a-f]{6})", svg)) - {"c5c8c6"}  # SVG default ink
        assert colours and all(c[0:2] == c[2:4] == c[4:6] for c in colours), colours
        text = screen_text(app)
        for word in ("◐ stale", "● fresh", "▲ warning", "✖ CRITICAL", "● closed"):
            assert word in text


async def test_fifty_thousand_mailboxes_stay_smooth(tmp_path: Path) -> None:
    async with running_console(tmp_path / "c.db", size=(120, 40)) as (app, pilot, runtime, _):
        snap = runtime.monitor.snapshots[DashboardName.INFRASTRUCTURE]
        template = [m for row in snap.rows for m in row.mailboxes]
        per_row, rows = 50_000 // len(snap.rows), []
        for index, row in enumerate(snap.rows):
            boxes = tuple(
                dataclasses.replace(template[n % len(template)], id=index * per_row + n)
                for n in range(per_row)
            )
            rows.append(row.model_copy(update={"mailboxes": boxes, "mailbox_count": per_row}))
        snap.rows = rows
        total = per_row * len(rows)
        assert total >= 49_998
        await pilot.press("5")
        pane: Any = app.current_pane()
        runtime.monitor._emit(SnapshotUpdated(DashboardName.INFRASTRUCTURE))
        await catch_up(pilot)
        table = app.query_one("#mailbox-table", RowTable)
        assert table.view.total == total
        assert pane.mailbox_show_seconds < 1.0  # on the UI thread (the build runs in a thread)
        table.focus()
        started = time.thread_time()  # this thread's CPU: other processes do not count
        for _ in range(3):
            for y in range(40):
                table.render_line(y)
        assert (time.thread_time() - started) / 3 < 0.1  # a full screen of lines
        await pilot.press("end")
        assert table.cursor == total - 1
        assert f"{total:,}" in screen_text(app)


async def test_the_console_driver_wraps_the_terminal_and_starts_without_the_private_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Textual's ``LinuxDriver._file`` is private: wrapped while it exists, never a crash."""
    from textual.drivers.linux_driver import LinuxDriver

    from portal_tui.console.app import PortalConsole
    from portal_tui.console.terminal import ConsoleDriver, TerminalOutput

    app = PortalConsole(opener=_never_opened)
    assert isinstance(ConsoleDriver(app)._file, TerminalOutput)

    original = LinuxDriver.__init__

    def without_file(self: LinuxDriver, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        del self._file

    monkeypatch.setattr(LinuxDriver, "__init__", without_file)
    assert not hasattr(ConsoleDriver(app), "_file")


class StalledLink(io.StringIO):
    """A terminal that stops reading: ``write`` blocks until :meth:`resume`."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self._flowing = threading.Event()
        self.taken: list[str] = []

    def write(self, text: str) -> int:
        self.entered.set()
        self._flowing.wait(60)  # resume() ends it; this only bounds a broken test
        self.taken.append(text)
        return len(text)

    def resume(self) -> None:
        self._flowing.set()


async def test_a_stalled_terminal_never_blocks_the_loop_and_is_repainted_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frames are dropped while the terminal takes nothing; once it has taken what was
    queued, synchronized output is closed and the whole screen repainted."""
    from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread

    from portal_tui.console import terminal
    from portal_tui.console.app import PortalConsole

    monkeypatch.setattr(terminal, "BACKLOG_POLL", 0.01)
    app = PortalConsole(opener=_never_opened)
    repaints: list[int] = []
    monkeypatch.setattr(app, "refresh", lambda: repaints.append(1))
    driver = terminal.ConsoleDriver(app)
    link = StalledLink()
    writer = WriterThread(link)  # type: ignore[arg-type]
    driver._writer_thread = writer
    driver._may_drop = True  # application mode, without touching this process's terminal
    writer.start()
    try:
        driver.write("frame 0")
        assert link.entered.wait(30)  # the writer thread is stuck in the terminal's write
        started = time.monotonic()
        for n in range(1, MAX_QUEUED_WRITES + 11):
            driver.write(f"frame {n}")
        # A write that waited would wait out the stall; 40 that do not take
        # microseconds: the margin is for a busy machine.
        assert time.monotonic() - started < 5.0, "a write waited for the stalled terminal"
        assert driver.dropping and driver.dropped_writes == 10
        await asyncio.sleep(0.1)
        assert driver.dropping and not repaints  # still stalled: nothing to repaint onto

        link.resume()
        for _ in range(3000):  # 30 s at least: room for a busy machine
            if not driver.dropping:
                break
            await asyncio.sleep(0.01)
        assert not driver.dropping and repaints == [1]
        driver.write("after")
    finally:
        driver._may_drop = False
        writer.stop()
    kept = [f"frame {n}" for n in range(MAX_QUEUED_WRITES + 1)]
    assert link.taken == [*kept, terminal.SYNC_END, "after"]


def test_keys_and_refreshes_go_on_while_the_terminal_link_is_stalled(tmp_path: Path) -> None:
    """A real pty that stops being read (a stalled SSH link, not a closed one): the
    console still takes keys and refreshes, and records them; before, its loop waited
    in Textual's full write queue for as long as the stall lasted."""
    from portal_tui.console.terminal import SYNC_END

    sync_end = SYNC_END.encode()
    proc, master, dump = _console_in_a_pty(tmp_path)
    db = tmp_path / "c.db"

    def cycles(trigger: str) -> int:
        if not db.exists():
            return 0
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as raw:
            query = "SELECT COUNT(*) FROM refresh_cycles WHERE triggered_by = ?"
            return int(raw.execute(query, (trigger,)).fetchone()[0])

    try:
        _read_until_painted(master)
        # Read along until the start-up refresh is recorded (a key pressed before then
        # would join that refresh instead of starting one).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cycles("startup") == 0:
            if select.select([master], [], [], 0.2)[0]:
                os.read(master, 65536)
        assert cycles("startup") == 1
        # The link stalls: nobody reads the pty, until the console drops frames.
        _stall_the_link(master, tmp_path)
        # Force-refresh every dashboard, still unread. The start-up cycle counts as
        # refreshing a moment after its row is written (health, pruning, a sweep): an
        # R pressed then joins it, so R again every few seconds until one starts its own.
        deadline = time.monotonic() + 60
        pressed = 0.0
        while time.monotonic() < deadline and cycles("manual") == 0:
            if time.monotonic() - pressed > 5:
                os.write(master, b"R")
                pressed = time.monotonic()
            time.sleep(0.2)
        if cycles("manual") == 0:
            os.killpg(proc.pid, signal.SIGUSR1)
            time.sleep(1)
            pytest.fail(
                "no refresh while the link was stalled:\n"
                + dump.read_text(errors="replace")[-6000:]
            )
        # The link comes back: everything is read, and the console still answers.
        # (This pty never answers Textual's query, so only the recovery ends
        # synchronized output: its sequence marks the repaint.)
        seen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sync_end not in seen:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 65536)
        assert sync_end in seen, "no repaint after the link came back"
    finally:
        assert _exit_code_after_close(proc, master, dump) == 128 + signal.SIGHUP
