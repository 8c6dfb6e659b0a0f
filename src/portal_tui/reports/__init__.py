"""The headless face: ``check``, ``export``, ``history`` and ``doctor``.

Each reads the core or the records and prints a report; none imports Textual.
"""
