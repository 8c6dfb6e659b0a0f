"""``portal-tui verify``: its arguments and its run (kept apart from ``main`` to stay small).

Exit codes follow ``check``: 0 every sampled row matches the upstream, 1 some
could not be re-fetched, 2 a divergence, 3 usage or config (nothing recorded,
an unknown workspace, a bad ``--sample``: one line on stderr, from ``main``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any


def _sample_size(text: str) -> int:
    """argparse type for ``--sample``: a whole number >= 1 (bad → exit 3)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid sample size {text!r}: a whole number >= 1")
    return value


def add_verify_command(
    sub: argparse._SubParsersAction[Any], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``verify`` to ``sub``; ``common`` adds ``--config``, ``--demo`` and ``--db``."""
    verify = sub.add_parser(
        "verify",
        help="re-fetch a sample past the cache and diff it with what is shown; "
        "exit 0 same, 1 could not re-fetch, 2 divergence, 3 usage",
    )
    common(verify)
    verify.add_argument(
        "--sample", type=_sample_size, default=5, metavar="N", help="workspaces (default 5)"
    )
    verify.add_argument("--workspace", metavar="NAME", help="this workspace (name or id)")
    verify.add_argument("--json", action="store_true", help="print JSON")


def run_verify_command(args: argparse.Namespace) -> int:
    """Open the runtime, verify, print; returns the exit code (errors raise to ``main``)."""
    from portal_tui.engine.runtime import open_runtime
    from portal_tui.reports.verify import print_verify, print_verify_json, run_verify

    async def go() -> int:
        runtime = await open_runtime(config_arg=args.config, demo=args.demo, db_arg=args.db)
        try:
            for notice in getattr(runtime.store, "notices", []):
                print(f"portal-tui: {notice}", file=sys.stderr)
            run = await run_verify(runtime.monitor, sample=args.sample, workspace=args.workspace)
        finally:
            await runtime.aclose()
        (print_verify_json if args.json else print_verify)(run, sys.stdout)
        return int(run.exit_code)

    return asyncio.run(go())
