"""RSS of the real console across pane switches in a pty (BENCHMARKS.md item 32).

Starts ``portal-tui --demo`` on a new pseudo-terminal (120×40), waits for the
first frame, then writes pane keys (default ``2`` then ``1``, a switch each),
waiting after each key until the new pane's header is on the pty, and reads
the console's ``VmRSS`` from ``/proc`` at the checkpoints::

    python -m bench.pane_switches --switches 0,100,300,600
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

MARKERS = {b"2": b"Proj%", b"5": b"NotConn", b"1": b"Inval"}
SIZE = (40, 120)
CONSOLE = "import sys; from portal_tui.cli import main; sys.exit(main())"
"""``portal-tui`` as its entry point runs it, on this interpreter."""


def status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status."""
    with open(f"/proc/{pid}/status") as file:
        return dict(line.rstrip("\n").split(":\t", 1) for line in file if ":\t" in line)


def rss_kb(pid: int) -> int:
    """The process's resident set size (kB) from /proc."""
    return int(status(pid)["VmRSS"].split()[0])


def read_until(master: int, marker: bytes, timeout: float = 30.0) -> None:
    """Read the pty until ``marker`` is in what was read (or raise after ``timeout``)."""
    seen = b""
    end = time.monotonic() + timeout
    while marker not in seen:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(marker)
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            seen = seen[-4096:] + os.read(master, 65536)


def drain(master: int, seconds: float) -> None:
    """Read (and drop) what the pty says for ``seconds``."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([master], [], [], left)[0]:
            os.read(master, 65536)


def run(
    checkpoints: list[int], keys: bytes, extra: list[str], settle: float = 1.5
) -> list[tuple[int, int]]:
    """Start the console, switch panes, return (switches, VmRSS kB) at each checkpoint.

    Before each reading the pty is read for ``settle`` seconds (more than the
    console's 1 s tick, which is when it sweeps the frames' cyclic garbage).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[0], SIZE[1], 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(SIZE[1]), LINES=str(SIZE[0]))
    proc = subprocess.Popen(
        [sys.executable, "-c", CONSOLE, "--demo", *extra],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    out: list[tuple[int, int]] = []
    try:
        read_until(master, MARKERS[b"1"], 60.0)
        drain(master, 1.0)
        done = 0
        for target in checkpoints:
            while done < target:
                key = keys[done % len(keys) : done % len(keys) + 1]
                os.write(master, key)
                read_until(master, MARKERS[key])
                done += 1
            drain(master, settle)
            out.append((done, rss_kb(proc.pid)))
            mb, threads = out[-1][1] / 1024, status(proc.pid)["Threads"].strip()
            print(f"switches {done:5d}  VmRSS {mb:7.1f} MB  threads {threads}", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", default="0,100,300,600")
    parser.add_argument("--keys", default="21", help="pane keys in turn (of 1, 2, 5)")
    parser.add_argument("extra", nargs="*", help="more arguments for portal-tui")
    args = parser.parse_args()
    run([int(n) for n in args.switches.split(",")], args.keys.encode(), args.extra)


if __name__ == "__main__":
    main()
