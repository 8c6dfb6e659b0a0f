"""portal-tui: the incident console for the Performance Spotlight Portal's data."""

__version__ = "0.1.0"
