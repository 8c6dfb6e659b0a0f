"""The footer: the console's keys, as many words as the width allows.

Textual's Footer cuts the list at 80 columns (``s``, ``enter``, ``y``, ``?``
and ``q`` fell off the end). This bar picks the most verbose of a few
renderings that fits, always ending with ``? help``, and says ``p resume``
while paused.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from portal_tui.console.bindings import pane_key_display

# (key shown, full word, short word); the pane keys (first) are on the tab bar as well.
KEY_WORDS: tuple[tuple[str, str, str], ...] = (
    ("1-8", "pane", ""),  # "1-8" is pane_key_display(): as many digits as panes
    ("r", "refresh", "refresh"),
    ("R", "refresh all", "all"),
    ("c", "clear cache", "clear"),
    ("C", "clear all", "all"),
    ("p", "pause", "pause"),
    ("/", "filter", "filter"),
    ("s", "sort", "sort"),
    ("⏎", "detail", "detail"),
    ("y", "copy", "copy"),
    ("?", "help", "help"),
    ("q", "quit", "quit"),
)


def key_bar_text(width: int, *, paused: bool = False) -> Text:
    """The widest rendering of the keys that fits in ``width`` cells."""
    for variant in _variants(paused):
        if variant.cell_len <= width:
            return variant
    return _variants(paused)[-1]


def _variants(paused: bool) -> list[Text]:
    def word(key: str, text: str) -> str:
        return "resume" if key == "p" and paused else text

    words = [(pane_key_display(), "pane", ""), *KEY_WORDS[1:]]
    full = [(k, word(k, w)) for k, w, _ in words]
    short = [(k, word(k, s)) for k, _, s in words if s]
    no_quit = [pair for pair in short if pair[0] != "q"]
    keys_only = [(k, "") for k, _, s in words if s and k not in ("?",)] + [("?", "help")]
    return [
        _render(full, "  "),
        _render(short, " "),
        _render(no_quit, " "),
        _render(keys_only, " "),
    ]


def _render(pairs: list[tuple[str, str]], gap: str) -> Text:
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
