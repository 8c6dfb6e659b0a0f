"""The console paints restored snapshots without loading the network side (issue 5,
cold start): the fetcher, httpx and the refresh cycle come with the first refresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from portal_tui.fetch.breaker import BreakerState
from support import rig


def test_the_console_and_its_restore_path_do_not_import_the_network_side() -> None:
    code = (
        "import sys, portal_tui.cli, portal_tui.console.app, portal_tui.engine.runtime; "
        "print(','.join(m for m in ('httpx', 'portal_tui.engine.cycle', 'portal_tui.fetch.fetcher',"
        " 'portal_tui.upstream.client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_before_the_first_request_breakers_are_closed_and_nothing_is_in_flight(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        await r.monitor.restore()
        assert "fetcher" not in vars(r.monitor)  # restoring built no clients
        before = r.monitor.breakers()
        assert [(b.instance, b.state, b.consecutive_failures) for b in before] == [
            (i.name, BreakerState.CLOSED, 0) for i in r.monitor.config.instances
        ]
        assert r.monitor.active_calls() == []
        await r.monitor.refresh()
        assert "fetcher" in vars(r.monitor)
        assert [b.instance for b in r.monitor.breakers()] == [b.instance for b in before]
