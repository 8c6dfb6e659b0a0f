"""The footer: the console's keys, as many words as the width allows.

Textual's Footer cuts the list at 80 columns (``s``, ``enter``, ``y``, ``?``
and ``q`` fell off the end). This bar reads the keys from the one table,
:mod:`portal_tui.console.bindings`, and picks the most verbose of a few
renderings that fits: keys of rank 2 lose their words first, then those of
rank 1, then keys drop out; the pane keys (``1-8``), ``? help`` and
``q quit`` are always there. It says ``p resume`` while paused.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from portal_tui.console.bindings import KeySpec, keys


def key_bar_text(width: int, *, paused: bool = False) -> Text:
    """The widest rendering of the keys that fits in ``width`` cells."""
    variants = _variants(paused)
    for variant in variants:
        if variant.cell_len <= width:
            return variant
    return variants[-1]


def _variants(paused: bool) -> list[Text]:
    specs = [spec for spec in keys() if spec.show]

    def word(spec: KeySpec, *, wide: bool = False, bare_from: int = 3) -> str:
        if spec.key == "p" and paused:
            return "resume"
        if spec.key.isdigit():  # the pane keys: "1-8" says it once the tabs are learnt
            return spec.footer if wide else ""
        if spec.rank >= bare_from:
            return ""
        return (spec.wide or spec.footer) if wide else spec.footer

    def pairs(bare_from: int = 3, drop_from: int = 3, *, wide: bool = False) -> list[Pair]:
        return [
            (spec.key_display or spec.key, word(spec, wide=wide, bare_from=bare_from))
            for spec in specs
            if spec.rank < drop_from
        ]

    return [
        _render(pairs(wide=True), "  "),
        _render(pairs(), " "),
        _render(pairs(bare_from=2), " "),
        _render(pairs(bare_from=1), " "),
        _render(pairs(bare_from=1, drop_from=2), " "),
        _render(pairs(bare_from=1, drop_from=1), " "),
    ]


Pair = tuple[str, str]


def _render(pairs: list[Pair], gap: str) -> Text:
    text = Text(" ")
    for index, (key, description) in enumerate(pairs):
        if index:
            text.append(gap)
        text.append(key, "reverse bold")
        if description:
            text.append(f" {description}")
    return text


class KeyBar(Static):
    """One line of keys at the bottom of the screen."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $panel;
    }
    """

    paused = False

    def set_paused(self, paused: bool) -> None:
        """Show ``p resume`` instead of ``p pause``."""
        self.paused = paused
        self._draw(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        """Re-pick the rendering for the new width."""
        self._draw(event.size.width)

    def on_mount(self) -> None:
        """First drawing."""
        self._draw(self.size.width or 80)

    def _draw(self, width: int) -> None:
        self.update(key_bar_text(width, paused=self.paused))
