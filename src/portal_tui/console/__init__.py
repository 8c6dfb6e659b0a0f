"""The ``portal-tui`` console: a Textual face on the headless core.

Layering (k9s-style): the core's :class:`~portal_tui.monitor.PortalMonitor`
fetches and holds state; :mod:`.relay` turns its events into the small
messages of :mod:`.messages`; :mod:`.render` and :mod:`.columns` turn
snapshots into table rows (pure functions, tested without an app); the panes
in :mod:`.panes` and the widgets in :mod:`.widgets` draw them; :mod:`.app`
wires it together and owns the workers. Nothing here calls the network.
"""
