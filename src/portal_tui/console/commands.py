"""The command palette offers every key's action by name (``ctrl+p``)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from portal_tui.console.bindings import keys


class ConsoleCommands(Provider):
    """Palette entries for every key in :func:`~portal_tui.console.bindings.keys`."""

    def _entries(self) -> list[tuple[str, str, str]]:
        return [
            (spec.palette, spec.action, f"key {spec.key_display or spec.key}: {spec.help}")
            for spec in keys()
            if spec.palette is not None
        ]

    async def discover(self) -> Hits:
        """Everything, when the palette opens with an empty prompt."""
        for title, action, help_text in self._entries():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """Entries whose title fuzzily matches ``query``."""
        matcher = self.matcher(query)
        for title, action, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.app.run_action, action),
                    text=title,
                    help=help_text,
                )
