"""Read a console screenshot (Textual's SVG export) back as text on backgrounds.

Snapshot tests compare SVGs byte for byte; this reads one to ask what a
person would see: for every run of text, its foreground and the background
cell behind it, and the WCAG contrast ratio between the two. A test can
then assert that no text on screen is nearly invisible (NO_COLOR used to
draw the CRITICAL line grey 237 on grey 233).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Rich names classes terminal-<id>-r1 (snapshot plugins drop the id: terminal-r1).
_CLASS = re.compile(r"\.(terminal-(?:\d+-)?r\d+) \{ fill: (#[0-9a-fA-F]{6})")
_RECT = re.compile(
    r'<rect fill="(#[0-9a-fA-F]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
    r'height="[\d.]+" shape-rendering="crispEdges"/>'
)
_TEXT = re.compile(
    r'<text class="(terminal-(?:\d+-)?r\d+)" x="([\d.]+)" y="([\d.]+)" textLength="[\d.]+" '
    r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>'
)
LINE_HEIGHT = 24.4
TOP = 1.5


@dataclass(frozen=True, slots=True)
class TextRun:
    """A run of text as drawn: its line, its text, its colours and their contrast."""

    line: int
    text: str
    foreground: str
    background: str

    @property
    def contrast(self) -> float:
        """WCAG 2 contrast ratio, 1 (invisible) to 21 (black on white)."""
        light, dark = sorted((luminance(self.foreground), luminance(self.background)), reverse=True)
        return (light + 0.05) / (dark + 0.05)


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def text_runs(svg: str) -> list[TextRun]:
    """Every visible (non-blank) run of text in ``svg``, with the background under it."""
    fills = dict(_CLASS.findall(svg))
    backgrounds: dict[int, list[tuple[float, float, str]]] = {}
    for fill, x, y, width in _RECT.findall(svg):
        line = round((float(y) - TOP) / LINE_HEIGHT)
        backgrounds.setdefault(line, []).append((float(x), float(x) + float(width), fill))
    runs = []
    for cls, x, _y, line_text, raw in _TEXT.findall(svg):
        text = html.unescape(raw).replace("\xa0", " ")
        if not text.strip() or cls not in fills:
            continue
        line = int(line_text)
        # The background of the first visible character of the run.
        start = float(x) + (len(text) - len(text.lstrip())) * 12.2 + 1
        background = next(
            (fill for left, right, fill in backgrounds.get(line, []) if left <= start < right),
            None,
        )
        if background is not None:
            runs.append(TextRun(line, text.strip(), fills[cls], background))
    return runs
