"""The ``portal-tui`` console: a Textual face on the headless core.

Layering (k9s-style): the core's :class:`~portal_tui.engine.monitor.PortalMonitor`
fetches and holds state; :mod:`.relay` turns its events into the small
messages of :mod:`.messages`; :mod:`.render`, :mod:`.render_status`,
:mod:`.render_checks` and :mod:`.columns` turn snapshots into table rows
(pure functions over :mod:`.table_model`, tested without an app); the panes
in :mod:`.panes`, the screens in :mod:`.screens` and the widgets in
:mod:`.widgets` draw them; :mod:`.app` wires it together, :mod:`.actions`
holds what the keys (:mod:`.bindings`, :mod:`.commands`) do and the workers.
:mod:`.scenario` builds deterministic demo runtimes for the tests and
``scripts/screenshots.py``. Nothing here calls the network.
"""
