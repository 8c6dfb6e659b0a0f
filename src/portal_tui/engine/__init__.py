"""The orchestration both faces drive: discovery, refresh cycles, recording, standing, health.

:mod:`monitor` is the long-lived core; :mod:`cycle` one refresh; :mod:`recording`
turns a cycle into one SQLite transaction; :mod:`runtime` assembles it all for a face.
"""
