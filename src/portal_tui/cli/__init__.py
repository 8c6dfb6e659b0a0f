"""The ``portal-tui`` command line."""

from portal_tui.cli.main import UsageError, main, parse_args

__all__ = ["UsageError", "main", "parse_args"]
