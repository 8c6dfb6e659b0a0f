"""The ``portal-tui`` command line."""

from portal_tui.cli.main import main

__all__ = ["main"]
