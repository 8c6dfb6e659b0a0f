"""The console rows: loop lag and keypress-to-screen while refreshing; cold start to data.

The console (:class:`portal_tui.console.app.PortalConsole`) runs headless
under Textual's own test pilot (``App.run_test``), on the real clock, against
:mod:`bench.simproc` over loopback HTTP. A "frame" is a compositor update
handed to the driver (``App._display``): the moment the screen would change.

- **lag**: the loop-lag probe of :mod:`bench.loop_lag`, inside the app;
- **keypress-to-screen**: a pane key (``1``, ``2``, ``5`` in turn) is posted
  every 250 ms; the latency is until the first frame after which that pane
  is the active one;
- **cold start**: a fresh interpreter opens a records file holding the
  snapshots of a previous refresh and starts the console; the time from
  spawning it to its first frame with those snapshots on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.loop_lag import PROBE_INTERVAL, summarize
from bench.scenario import Upstream, client_config
from bench.stats import percentile
from bench.upstream import ROOT, simulator_process
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.runtime import Runtime
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import SystemClock

KEYS = ("2", "5", "1")
KEY_EVERY = 0.25
KEY_GIVE_UP = 30.0
"""Seconds without any frame after which a key counts as lost (the screen stopped)."""


def console_available() -> bool:
    """Whether the console has landed (``portal_tui.console.app.PortalConsole``)."""
    try:
        from portal_tui.console.app import PortalConsole  # noqa: F401
    except ImportError:
        return False
    return True


async def _console_run(upstream: Upstream, base_url: str, tmp: Path) -> dict[str, Any]:
    from textual import events
    from textual.widgets import TabbedContent

    from portal_tui.console.app import PortalConsole

    config, secrets = client_config(upstream, base_url)
    clock = SystemClock()
    store = await Store.open(tmp / "console.sqlite3", clock=clock)
    monitor = PortalMonitor(config, secrets=secrets, clock=clock, store=store)
    runtime = Runtime(config, None, monitor, store, False)
    app = PortalConsole(runtime, auto_refresh=False, startup_refresh=False, handle_signals=False)
    frames: list[float] = []
    frame_seen = asyncio.Event()
    display = app._display

    def on_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())
            frame_seen.set()

    app._display = on_display  # type: ignore[method-assign]
    lags: list[float] = []
    keys: list[float] = []
    slowest: list[tuple[float, float, str]] = []  # (latency, seconds into the refresh, key)
    lost = 0
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            # The hidden panes are composed in the background during the first second
            # (``PREMOUNT_AFTER``); a key before then waits for its pane (~0.15 s at this
            # size), which belongs to start-up, not to "during a refresh".
            await asyncio.wait_for(app.composed.wait(), 30)
            tabs = app.query_one("#panes", TabbedContent)
            refresh = asyncio.ensure_future(monitor.refresh(force=True))
            start = time.perf_counter()

            async def probe() -> None:
                while not refresh.done():
                    t = time.perf_counter()
                    await asyncio.sleep(PROBE_INTERVAL)
                    lags.append(max(0.0, time.perf_counter() - t - PROBE_INTERVAL))

            prober = asyncio.ensure_future(probe())
            turn = 0
            while not refresh.done():
                key = KEYS[turn % len(KEYS)]
                turn += 1
                wanted = f"tab-{_pane_for(key)}"
                pressed = time.perf_counter()
                app.post_message(events.Key(key, key))
                while True:
                    frame_seen.clear()
                    try:
                        await asyncio.wait_for(frame_seen.wait(), KEY_GIVE_UP)
                    except TimeoutError:
                        lost += 1  # no frame at all: counted apart, never as a latency
                        break
                    if tabs.active == wanted:
                        keys.append(frames[-1] - pressed)
                        slowest.append((frames[-1] - pressed, pressed - start, key))
                        break
                await asyncio.sleep(max(0.0, KEY_EVERY - (time.perf_counter() - pressed)))
            await refresh
            seconds = time.perf_counter() - start
            await prober
            await pilot.pause()
    finally:
        await monitor.aclose()
        await store.close()
    lag = summarize(lags, seconds)
    ms = [k * 1000 for k in keys]
    return {
        "lag_p99_ms": lag.p99,
        "lag_max_ms": lag.max,
        "key_p50_ms": percentile(ms, 50),
        "key_p99_ms": percentile(ms, 99),
        "key_max_ms": max(ms, default=0.0),
        "keys": len(ms),
        "keys_lost": lost,
        "slowest_keys": [
            (round(ms * 1000), round(at, 2), key) for ms, at, key in sorted(slowest)[-5:]
        ],
        "refresh_seconds": seconds,
    }


def _pane_for(key: str) -> str:
    from portal_tui.console.bindings import panes

    return panes()[int(key) - 1][0]


async def console_while_refreshing(upstream: Upstream, runs: int) -> list[dict[str, Any]]:
    """``runs`` console sessions, each across one cold full refresh of ``upstream``."""
    out = []
    async with simulator_process(
        workspaces=upstream.workspaces,
        mailboxes=upstream.mailboxes,
        per_page=upstream.per_page,
        latency=upstream.latency_spec,
    ) as sim:
        for run in range(runs):
            await sim.reset(3000 + run)
            with tempfile.TemporaryDirectory() as tmp:
                out.append(await _console_run(upstream, sim.base_url, Path(tmp)))
    return out


# -- cold start -------------------------------------------------------------------------

# The child starts the console the way ``portal-tui --config X --db Y`` does
# (``open_runtime`` on a TOML file, tokens from the environment), so it imports
# what a user's console imports and nothing of the bench (no simulator, no
# generated dataset).
_FIRST_FRAME = """
import asyncio, sys, time
sys.path.insert(0, {root!r})
from bench.startup import first_frame_child
print(asyncio.run(first_frame_child({config!r}, {db!r})), flush=True)
"""


async def prepare_snapshots(db: Path, workspaces: int, mailboxes: int) -> None:
    """A records file holding the snapshots of one real refresh (in-process simulator).

    Also writes the config the console will open (``db`` with ``.toml``) and
    its tokens (``db`` with ``.env``, one ``NAME=value`` a line).
    """
    from portal_tui.simulator import FaultSet, Simulator

    upstream = Upstream(workspaces, mailboxes, per_page=100, median=0.2)
    clock = SystemClock()
    sim = Simulator(upstream.dataset(), FaultSet(), clock, latency=None)
    config, secrets = client_config(upstream, "http://simulator.local/api")
    store = await Store.open(db, clock=clock)
    monitor = PortalMonitor(
        config, secrets=secrets, clock=clock, store=store, transports={"bench": sim.transport()}
    )
    try:
        await monitor.refresh(force=True)
    finally:
        await monitor.aclose()
        await store.close()
    # The child's upstream is a closed port: it must paint from SQLite alone.
    offline, _ = client_config(upstream, "http://127.0.0.1:9/api")
    db.with_suffix(".toml").write_text(config_toml(offline.model_dump(mode="json")))
    names = [i.master_token_env for i in offline.instances]
    names += [c.api_key_env for c in offline.clients]
    tokens = {n: secrets.get(n) for n in names if n}
    db.with_suffix(".env").write_text(
        "".join(f"{n}={t.get_secret_value()}\n" for n, t in tokens.items() if t is not None)
    )


def config_toml(data: dict[str, Any]) -> str:
    """``data`` (a dumped :class:`~portal_tui.config.Config`) as TOML: tables, arrays of tables."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        return json.dumps(v)  # strings and lists of strings are valid TOML this way

    def body(table: dict[str, Any]) -> list[str]:
        return [f"{k} = {value(v)}" for k, v in table.items() if v is not None]

    lines = body({k: v for k, v in data.items() if not isinstance(v, dict | list)})
    for key, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{key}]", *body(v)]
        elif isinstance(v, list):
            for item in v:
                lines += ["", f"[[{key}]]", *body(item)]
    return "\n".join(lines) + "\n"


async def cold_start_seconds(
    db: Path, workspaces: int, mailboxes: int, *, pycache: Path | None = None
) -> float:
    """Seconds from spawning a fresh interpreter to the console's first frame of ``db``'s data.

    ``db`` comes from :func:`prepare_snapshots` (``workspaces`` and
    ``mailboxes`` are what it was prepared with). ``pycache``: a bytecode
    cache directory (``PYTHONPYCACHEPREFIX``), filled by an untimed first
    start when empty, as an installed console has its ``.pyc`` files;
    without it the interpreter's environment decides (this machine sets
    ``PYTHONDONTWRITEBYTECODE``, so every start compiles portal_tui anew).
    """
    del workspaces, mailboxes  # the records file and its config say it all
    code = _FIRST_FRAME.format(root=str(ROOT), config=str(db.with_suffix(".toml")), db=str(db))
    env = dict(os.environ)
    for line in db.with_suffix(".env").read_text().splitlines():
        name, _, token = line.partition("=")
        env[name] = token
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not pycache.exists() or not any(pycache.iterdir()):
            await _first_frame(code, env)  # fills the cache
    return await _first_frame(code, env)


async def _first_frame(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env
    )
    assert proc.stdout is not None
    seconds = float("nan")
    while line := await proc.stdout.readline():
        if line.strip() == b"FRAME":
            seconds = time.perf_counter() - start
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the console child exited {proc.returncode}")
    return seconds
