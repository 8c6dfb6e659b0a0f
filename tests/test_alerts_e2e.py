"""Alerts end to end: the real monitor, two connections on one file, a real webhook on loopback."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.alert_receiver import receiver
from tests.shared_rig import environment, upstream, write_config
from tests.support import MASTER, rig, token_env

from portal_tui.config import Secrets
from portal_tui.config.alerts import AlertTarget
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import SystemClock


async def test_one_failing_and_one_recovered_message_between_two_processes(
    tmp_path: Path,
) -> None:
    with receiver() as hook:
        hook.fail_next = [500]  # the first delivery fails once, then is retried
        target = AlertTarget(
            url=hook.url, failure_threshold=3, success_threshold=2, name="hook"
        )
        async with rig(tmp_path, alerts=[target]) as r:
            # The second process: its own connection to the same file, its own monitor.
            other_store = await Store.open(tmp_path / "records.sqlite3", clock=r.clock)
            other = PortalMonitor(
                r.monitor.config,
                secrets=Secrets(token_env(r.sim.dataset)),
                clock=r.clock,
                store=other_store,
                transports={"sim": r.sim.transport()},
            )
            try:
                monitors = [r.monitor, other]
                r.faults.add_spec("revoked@3")
                for n in range(3):  # three failed cycles, alternating processes
                    await monitors[n % 2].refresh(force=True)
                r.faults.clear()
                for n in range(4):  # recovered after two good ones; then quiet
                    await monitors[(n + 1) % 2].refresh(force=True)
                for monitor in monitors:  # delivery runs in the background
                    await monitor.alerts.idle()
                events = await r.store.alert_events()
            finally:
                await other.aclose()
                await other_store.close()
        titles = hook.titles()
        failing = [t for t in titles if t.startswith("FAILING ")]
        recovered = [t for t in titles if t.startswith("RECOVERED ")]
        assert len(failing) == 1 and len(recovered) == 1, titles
        assert "Initech" in failing[0] or "(sim)" in failing[0], failing
        # Every event delivered exactly once: one accepted message per outbox row.
        assert sorted(titles) == sorted(e.title for e in events)
        assert all(e.delivered_at is not None for e in events)
        # The 500 was recorded and the message retried (two POSTs, one accepted).
        retried = [e for e in events if e.attempts == 2]
        assert len(retried) == 1 and "500" in (retried[0].last_error or "")
        assert len(hook.posts) == len(events) + 1
        # The body says since when, what failed and what to run next.
        [failing_body] = [b for b in hook.accepted if str(b["title"]).startswith("FAILING")]
        assert "since" in str(failing_body["message"])
        assert "portal-tui export" in str(failing_body["message"])
        # No token in any message.
        secrets = [MASTER, *token_env(r.sim.dataset).values()]
        for _, body in hook.posts:
            text = str(body)
            assert not any(s in text for s in secrets if len(s) >= 8)


async def _check(config: Path, db: Path, env: dict[str, str]) -> str:
    """One ``portal-tui check`` in its own OS process; its stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portal_tui.cli",
        "check",
        "--config",
        str(config),
        "--db",
        str(db),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    text = err.decode()
    assert process.returncode in (0, 1, 2), text  # a verdict, not a usage error
    assert "Traceback" not in text, text
    return text


async def test_two_os_processes_send_one_failing_and_one_recovered_message(
    tmp_path: Path,
) -> None:
    """The Done-when: real ``check`` processes on one file, the simulator and a webhook
    over loopback; a workspace fails three cycles, then recovers."""
    async with upstream(faults="") as up:
        with receiver() as hook:
            hook.fail_next = [500]  # the first delivery is refused once, then retried
            config = write_config(
                tmp_path / "c.toml",
                up.base_url,
                "enabled = false\n"  # each process fetches for itself: records are what is shared
                f"[[alerts]]\nname = 'hook'\nurl = '{hook.url}'\n"
                "failure_threshold = 3\nsuccess_threshold = 2\n",
            )
            env = environment(tmp_path, up.simulator.dataset.master_token)
            db = tmp_path / "records.sqlite3"
            up.simulator.faults.add_spec("revoked@4")  # Boldcrest Digital's requests: 401
            for _ in range(3):  # three failed cycles, process after process
                await _check(config, db, env)
            up.simulator.faults.clear()
            # Then two processes at once on the same file: two good cycles, RECOVERED, and
            # both deliver what is pending at the same time.
            await asyncio.gather(_check(config, db, env), _check(config, db, env))
            posts = list(hook.posts)
            titles = hook.titles()
    async with await Store.open(db, clock=SystemClock()) as store:
        events = await store.alert_events()
        standings = await store.standings()
    failing = [t for t in titles if t.startswith("FAILING ")]
    recovered = [t for t in titles if t.startswith("RECOVERED ")]
    records = [(e.title, e.delivered_at, e.attempts) for e in events]
    assert len(failing) == 1 and len(recovered) == 1, (titles, records, standings)
    assert failing[0].startswith("FAILING Boldcrest Digital (sim): ") and "401" in failing[0]
    assert recovered[0].startswith("RECOVERED Boldcrest Digital (sim)"), recovered
    # Every event delivered exactly once between the processes.
    assert sorted(titles) == sorted(e.title for e in events)
    assert all(e.delivered_at is not None for e in events)
    # The refused POST was recorded and the message retried.
    [retried] = [e for e in events if e.attempts == 2]
    assert "500" in (retried.last_error or "")
    assert len(posts) == len(events) + 1
    # No token in any message.
    secrets = [up.simulator.dataset.master_token, *up.simulator.dataset.tokens().values()]
    for _, body in posts:
        assert not any(s in str(body) for s in secrets if len(s) >= 8)
