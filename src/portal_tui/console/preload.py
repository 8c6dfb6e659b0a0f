"""Modules the console imports on first use, imported once it has started.

Screens and most panes are imported when first shown, to keep them off the
cold start. But a console runs for days, and its own package may be replaced
on disk meanwhile (``pip install -e .`` into its venv, a checkout moving
files): an import made then finds other files, or none, and the console
would crash on a key press. So once the first frame is drawn and the panes
are composed, every module the console may still need is imported here;
from then on nothing it does reads the package from disk.

Should an import fail anyway (a module missing from this list), the app
exits with one line instead of a traceback (see ``PortalConsole``).
"""

from __future__ import annotations

import importlib

LAZY_MODULES: tuple[str, ...] = (
    # Screens (actions.py imports them on first use).
    "portal_tui.console.screens.confirm",
    "portal_tui.console.screens.detail",
    "portal_tui.console.screens.help",
    "portal_tui.console.screens.finding",
    # What the targeted actions import on first use (verify, its result's text).
    "portal_tui.console.render_operator",
    "portal_tui.engine.verification",
    # Panes (panes/factory.py imports each the first time it is made).
    "portal_tui.console.panes.overview",
    "portal_tui.console.panes.dashboard",
    "portal_tui.console.panes.infrastructure",
    "portal_tui.console.panes.failures",
    "portal_tui.console.panes.consistency",
    "portal_tui.console.panes.history",
    # The core's own first-use imports (a refresh cycle, the fetcher, payload errors).
    "portal_tui.engine.cycle",
    "portal_tui.fetch.fetcher",
    "portal_tui.upstream.client",
    # The shared tier, built with the fetcher (Redis only when configured).
    "portal_tui.shared.build",
    "portal_tui.shared.redis_tier",
)
"""Every module the running console imports lazily (a test keeps this list complete)."""


def preload() -> None:
    """Import every module in :data:`LAZY_MODULES` (cheap once imported: a dict lookup)."""
    for name in LAZY_MODULES:
        importlib.import_module(name)
