"""The real console in a real pty: its own peak RSS and keypress→screen latency (issue 20).

The suite's other console rows run the app under Textual's pilot inside the
suite's process. This one starts ``portal-tui --config X --db Y`` as a user
does, as its own process on a new pseudo-terminal (120×40, ``xterm-256color``),
against :mod:`bench.simproc` over loopback HTTP, and measures from outside:

- **memory**: the console process's ``VmHWM`` (its own high-water mark, read
  from ``/proc``) after its start-up refresh (cold, fresh records file) and
  after a second full refresh forced with ``R``;
- **keypress→screen**: during both refreshes (and for :data:`TAIL` seconds
  after each is recorded, when the console builds its rows), a pane key
  (``2``, ``5``, ``1`` in turn) is written to the pty every :data:`KEY_EVERY`
  seconds; its latency is until the first pty output that contains the
  header of the pane the key shows (a header no other pane has, so it is in
  the output only once that pane is drawn). A thread reads the pty and
  timestamps what it reads, so this is what a terminal would show, after
  Textual's writer thread and the kernel.

A refresh counts as finished when its ``refresh_cycles`` row is in the
records file (read-only polling). ``--src`` runs another source tree's
console (``PYTHONPATH``), e.g. a worktree of ``main``, against the same
simulator, alternating with this tree's run by run (the old tree from
``git worktree add ../portal-tui-old OLD_REV``)::

    python -m bench.console_pty --src ../portal-tui-old/src --src src --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

from bench.scenario import Upstream, client_config
from bench.stats import percentile
from bench.upstream import ROOT

KEYS = (b"2", b"5", b"1")
MARKERS = {b"2": b"Proj%", b"5": b"NotConn", b"1": b"Inval"}
"""A header only that pane draws: KPI, Infrastructure, Overview."""
KEY_EVERY = 0.25
KEY_GIVE_UP = 30.0
TAIL = 3.0
"""Seconds of keys after a refresh is recorded: the console builds its rows then."""
SIZE = (40, 120)
ATTEMPT_TIMEOUT = 10.0
BOARDS = ("kpi", "volume", "revenue", "infrastructure")


class PtyReader(threading.Thread):
    """Reads the pty master until it closes; keeps (monotonic time, bytes) per read."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.changed = threading.Condition()
        self.total = 0

    def run(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    continue
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            with self.changed:
                self.chunks.append((now, data))
                self.total += len(data)
                # Old output is needed only to find markers split across reads.
                if len(self.chunks) > 4096:
                    del self.chunks[:2048]
                self.changed.notify_all()

    def wait_for(self, marker: bytes, after: float, timeout: float) -> float | None:
        """Time of the first read at or after ``after`` whose text (with the read before it)
        contains ``marker``; None if none within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            index = 0
            while True:
                while index < len(self.chunks):
                    at, data = self.chunks[index]
                    if at >= after:
                        before = self.chunks[index - 1][1][-64:] if index else b""
                        if marker in before + data:
                            return at
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)
                # The list may have been trimmed meanwhile: start again from its start.
                index = 0


def _vm(pid: int, field: str) -> float:
    """``VmHWM`` / ``VmRSS`` of ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def _cycles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)) as c:
            sql = "SELECT count(*) FROM refresh_cycles WHERE json_array_length(dashboards) >= 4"
            return int(c.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def _cycle_rows(db: Path) -> list[list[Any]]:
    """Each recorded cycle: trigger, seconds, requests, failures (a full refresh fails none)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
        sql = (
            "SELECT triggered_by, round(finished_at - started_at, 1), requests, failures"
            " FROM refresh_cycles ORDER BY id"
        )
        return [list(row) for row in c.execute(sql)]


def _start_simulator(upstream: Upstream) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bench.simproc", "--workspaces", str(upstream.workspaces),
            "--mailboxes", str(upstream.mailboxes), "--per-page", str(upstream.per_page),
            "--latency", upstream.latency_spec, "--seed", str(upstream.seed),
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the simulator process did not start")
    return proc, str(json.loads(line)["base_url"])


def _reset(sim: subprocess.Popen[bytes], seed: int) -> None:
    assert sim.stdin is not None and sim.stdout is not None
    sim.stdin.write((json.dumps({"cmd": "reset", "seed": seed}) + "\n").encode())
    sim.stdin.flush()
    if not sim.stdout.readline():
        raise RuntimeError("the simulator process died")


def _write_config(upstream: Upstream, base_url: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    from bench.console_rows import config_toml

    config, secrets = client_config(upstream, base_url, request_deadline=600.0)
    path = tmp / "console.toml"
    data = config.model_dump(mode="json")
    # What is measured here is the console, not the fetch: on a loaded machine the suite's
    # compressed attempt timeout (0.5 s) times calls out, the breaker opens, and a refresh
    # with no data holds no memory. Generous timeouts keep every run a full refresh.
    for instance in data["instances"]:
        instance["attempt_timeout"] = ATTEMPT_TIMEOUT
    # No auto-refresh inside the run (a cold 1,000-workspace refresh on a loaded machine
    # can outlast KPI's 2-minute TTL): the two refreshes measured are the start-up one and ``R``.
    data["ttl"] = {"max_staleness": 3600.0, **dict.fromkeys(BOARDS, 3000.0)}
    path.write_text(config_toml(data))
    names = [i.master_token_env for i in config.instances]
    names += [c.api_key_env for c in config.clients]
    env: dict[str, str] = {}
    for name in names:
        if name and (token := secrets.get(name)) is not None:
            env[name] = token.get_secret_value()
    return path, env


def _spawn(src: Path | None, config: Path, db: Path, tokens: dict[str, str], tmp: Path) -> Any:
    master, slave = pty.openpty()
    rows, cols = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = dict(os.environ, TERM="xterm-256color", XDG_DATA_HOME=str(tmp), **tokens)
    env.pop("TEXTUAL", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    code = (
        "import sys\nfrom portal_tui.cli.main import main\n"
        f"sys.exit(main(['--config', {str(config)!r}, '--db', {str(db)!r}]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        preexec_fn=controlling_terminal,
        close_fds=True,
        cwd=tmp,
    )
    os.close(slave)
    return proc, master


def _keys_until(
    reader: PtyReader,
    master: int,
    db: Path,
    cycles: int,
    turn: list[int],
    out: list[float],
    tail: float = TAIL,
) -> int:
    """Press pane keys until the records file holds ``cycles`` cycles, then :data:`TAIL` s
    more. Returns the keys lost (no marker within :data:`KEY_GIVE_UP`)."""
    lost = 0
    recorded_at: float | None = None
    while recorded_at is None or time.monotonic() - recorded_at < tail:
        key = KEYS[turn[0] % len(KEYS)]
        turn[0] += 1
        pressed = time.monotonic()
        os.write(master, key)
        shown = reader.wait_for(MARKERS[key], pressed, KEY_GIVE_UP)
        if os.environ.get("BENCH_PTY_DEBUG"):
            print(key, None if shown is None else round((shown - pressed) * 1000), file=sys.stderr)
        if shown is None:
            lost += 1
        else:
            out.append(shown - pressed)
        if recorded_at is None and _cycles(db) >= cycles:
            recorded_at = time.monotonic()
        time.sleep(max(0.0, KEY_EVERY - (time.monotonic() - pressed)))
    return lost


def console_run(
    upstream: Upstream, base_url: str, src: Path | None, *, tail: float = TAIL, settle: float = 2.0
) -> dict[str, Any]:
    """One console process across two full refreshes; what it cost and how keys fared."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config, tokens = _write_config(upstream, base_url, tmp)
        db = tmp / "console.sqlite3"
        proc, master = _spawn(src, config, db, tokens, tmp)
        reader = PtyReader(master)
        reader.start()
        try:
            if reader.wait_for(b"Overview", 0.0, 60) is None:
                raise RuntimeError("the console never painted")
            time.sleep(1.5)  # its hidden panes are composed in the background first
            keys: list[float] = []
            turn = [0]
            start = time.monotonic()
            lost = _keys_until(reader, master, db, 1, turn, keys, tail)
            first = time.monotonic() - start
            after_one = _vm(proc.pid, "VmHWM")
            os.write(master, b"R")
            start = time.monotonic()
            lost += _keys_until(reader, master, db, 2, turn, keys, tail)
            second = time.monotonic() - start
            time.sleep(settle)  # anything the console does once the refresh is in
            after_two = _vm(proc.pid, "VmHWM")
            rss_now = _vm(proc.pid, "VmRSS")
            cycles = _cycle_rows(db)
        finally:
            with contextlib.suppress(OSError):
                os.write(master, b"q")
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(OSError):
                os.close(master)
    ms = [k * 1000 for k in keys]
    return {
        "hwm_after_one_mb": after_one,
        "hwm_after_two_mb": after_two,
        "rss_end_mb": rss_now,
        "key_p50_ms": percentile(ms, 50),
        "key_p99_ms": percentile(ms, 99),
        "key_max_ms": max(ms, default=0.0),
        "keys": len(ms),
        "keys_lost": lost,
        "slowest_ms": sorted(round(m) for m in ms)[-5:],
        "refresh_seconds": [first, second],
        "cycles": cycles,
    }


def main(argv: list[str] | None = None) -> None:
    """Run each ``--src`` in turn, ``--runs`` times, against one simulator process."""
    parser = argparse.ArgumentParser(prog="python -m bench.console_pty")
    parser.add_argument("--src", action="append", default=[], help="a tree's src/ (repeatable)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=50_000)
    parser.add_argument("--median", type=float, default=0.02)
    parser.add_argument("--json", type=Path, help="append one JSON line per run here")
    parser.add_argument("--tail", type=float, default=TAIL, help="seconds of keys after a refresh")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before the last read")
    args = parser.parse_args(argv)
    upstream = Upstream(args.workspaces, args.mailboxes, per_page=100, median=args.median)
    srcs: list[Path | None] = [Path(s).resolve() for s in args.src] or [None]
    sim, base_url = _start_simulator(upstream)
    results: list[dict[str, Any]] = []
    try:
        for run in range(args.runs):
            # Alternate which tree goes first, run by run.
            order = srcs if run % 2 == 0 else srcs[::-1]
            for src in order:
                _reset(sim, 3000 + run)  # both trees of a run are served the same latencies
                load = os.getloadavg()
                result = console_run(upstream, base_url, src, tail=args.tail, settle=args.settle)
                results.append(result)
                result.update(src=str(src), run=run, load=[round(x, 2) for x in load])
                line = json.dumps(result)
                print(line, flush=True)
                if args.json:
                    with args.json.open("a") as out:
                        out.write(line + "\n")
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
    print(summary(results))


FIGURES = (
    ("hwm_after_one_mb", "VmHWM after one refresh", "MB", 0),
    ("hwm_after_two_mb", "VmHWM after two refreshes", "MB", 0),
    ("key_p50_ms", "keypress→screen p50", "ms", 0),
    ("key_p99_ms", "keypress→screen p99", "ms", 0),
    ("key_max_ms", "keypress→screen max", "ms", 0),
)


def summary(results: list[dict[str, Any]]) -> str:
    """A Markdown table: per tree, the median of each figure (min–max) over its runs."""
    trees = list(dict.fromkeys(r["src"] for r in results))
    lines = ["| figure | " + " | ".join(trees) + " |", "|---|" + "---|" * len(trees)]
    for key, label, unit, digits in FIGURES:
        cells = []
        for tree in trees:
            values = sorted(r[key] for r in results if r["src"] == tree)
            mid = statistics.median(values)
            cells.append(
                f"{mid:.{digits}f} {unit} ({values[0]:.{digits}f}–{values[-1]:.{digits}f})"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for tree in trees:
        mine = [r for r in results if r["src"] == tree]
        keys = sum(r["keys"] for r in mine)
        lost = sum(r["keys_lost"] for r in mine)
        loads = [r["load"][0] for r in mine]
        lines.append(
            f"\n{tree}: {len(mine)} runs, {keys} keys ({lost} lost), load average at start "
            f"{min(loads):.1f}–{max(loads):.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
