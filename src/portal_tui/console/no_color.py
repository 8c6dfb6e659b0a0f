"""NO_COLOR that stays readable: greys, with every text kept clear of its background.

Under NO_COLOR Textual turns each colour into the grey of the same
luminance. Red has little luminance: the console's "bad" tone (bold red,
drawn as the theme's red) became grey 59 on the background's grey 18, so
"Health 50/100 ✖ CRITICAL" showed as colour 237 on 233 on a 256-colour
terminal, nearly invisible; ``$error`` text and the cursor over it were
not much better. :class:`ReadableMonochrome` does what Textual's filter
does, except that a state colour (red, yellow, green: a colour, not one of
the theme's greys) becomes white or black, whichever stands out on the cell
behind it, and any other text whose contrast with its cell is under
:data:`MIN_CONTRAST` (WCAG AA for body text) is lightened (or darkened)
until it is not. Every state, already told by its word and symbol, can be
read. Box-drawing runs (the tab bar's underline) are decoration and keep
their greys.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.app import App
from textual.color import Color
from textual.filter import Monochrome, dim_color, monochrome_style

MIN_CONTRAST = 4.5
"""The least WCAG contrast ratio between any text and its background under NO_COLOR."""

NO_DIM = Style(dim=False)


def luminance(grey: int) -> float:
    """WCAG relative luminance of the grey ``grey`` (0-255)."""
    c = grey / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def contrast(first: int, second: int) -> float:
    """WCAG contrast ratio of two greys: 1 (the same) to 21 (black on white)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@lru_cache(4096)
def readable_grey(text: int, background: int) -> int:
    """The grey nearest ``text`` that reads on ``background`` (at least :data:`MIN_CONTRAST`).

    Moves away from the background (lighter on a dark one); when that way
    cannot reach the ratio, the other way; failing both, the extreme that
    contrasts most.
    """
    if contrast(text, background) >= MIN_CONTRAST:
        return text
    first = 1 if text >= background else -1
    for step in (first, -first):
        grey = text
        while 0 <= grey <= 255:
            if contrast(grey, background) >= MIN_CONTRAST:
                return grey
            grey += step
    return _extreme(background)


def _grey(colour: RichColor) -> int:
    return Color.from_rich_color(colour).monochrome.r


def _is_decoration(text: str) -> bool:
    """Box drawing and blanks only (rules, underlines): no words to read."""
    return all(ch == " " or "\u2500" <= ch <= "\u259f" for ch in text)


@lru_cache(4096)
def readable_style(style: Style, background: RichColor) -> Style:
    """``style`` in greys, its text at least :data:`MIN_CONTRAST` from what is behind it."""
    color, bgcolor = style.color, style.bgcolor
    if color is None or color.triplet is None:  # the terminal's default: left to it
        return monochrome_style(style)
    behind = bgcolor if bgcolor is not None and bgcolor.triplet is not None else background
    if style.dim:  # the terminal would dim it further: judge the colour it will be
        color = dim_color(behind, color)
        style += NO_DIM
    bg = _grey(behind)
    fg = _extreme(bg) if _is_chromatic(color) else _grey(color)
    if style.reverse:  # the text is drawn in the background colour, on the colour
        return style + Style.from_color(_rgb(fg), _rgb(readable_grey(bg, fg)))
    return style + Style.from_color(
        _rgb(readable_grey(fg, bg)), None if bgcolor is None else _rgb(bg)
    )


def _is_chromatic(colour: RichColor) -> bool:
    """A state colour (red, yellow, green, ...) rather than a grey of the theme."""
    r, g, b = colour.get_truecolor()
    return max(r, g, b) - min(r, g, b) >= 48 and (max(r, g, b) - min(r, g, b)) / max(r, g, b) >= 0.4


def _extreme(background: int) -> int:
    """White or black, whichever stands out more on ``background``."""
    return 255 if contrast(255, background) >= contrast(0, background) else 0


def _rgb(grey: int) -> RichColor:
    return RichColor.from_rgb(grey, grey, grey)


class ReadableMonochrome(Monochrome):
    """Textual's NO_COLOR greys, with text kept readable (see the module's docstring)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        """Every segment in greys; text under :data:`MIN_CONTRAST` lightened or darkened."""
        behind = background.rich_color
        return [
            Segment(
                text,
                None
                if style is None
                else monochrome_style(style)
                if _is_decoration(text)
                else readable_style(style, behind),
                control,
            )
            for text, style, control in segments
        ]


def readable_no_color(app: App[Any]) -> None:
    """Swap Textual's NO_COLOR filter for :class:`ReadableMonochrome` in ``app`` (if set).

    ``_filters`` is Textual's (private) list of line filters: should a later
    Textual drop it, NO_COLOR stays Textual's own, as before.
    """
    filters: Any = getattr(app, "_filters", None)
    if isinstance(filters, list):
        for index, line_filter in enumerate(filters):
            if type(line_filter) is Monochrome:
                filters[index] = ReadableMonochrome(enabled=line_filter.enabled)
