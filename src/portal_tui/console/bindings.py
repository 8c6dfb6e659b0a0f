"""The console's keys, in one table: the footer, the help screen and the palette read it.

SPEC section 7 fixes the keys; keeping them here means the footer, ``?``
and the command palette cannot disagree with what the keys do. The panes
between Overview and Failures are the dashboard registry's, with the tab
labels their modules declare.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from portal_tui.dashboards.registry import dashboards

FIRST_PANES: tuple[tuple[str, str], ...] = (("overview", "Overview"),)
LAST_PANES: tuple[tuple[str, str], ...] = (
    ("failures", "Failures"),
    ("consistency", "Consistency"),
    ("history", "History"),
)
PANE_KEYS = 9
"""Panes reachable by a digit key (``1`` ... ``9``); any further pane by tab or palette."""


def panes() -> tuple[tuple[str, str], ...]:
    """Pane ids and tab labels, in key order (``1`` is Overview ... ``8`` is History).

    Read from the registry when called, so a registered dashboard gets its pane.
    """
    boards = tuple((str(board.name), board.tab_label) for board in dashboards())
    return (*FIRST_PANES, *boards, *LAST_PANES)


def pane_key_display() -> str:
    """``1-8``: the digit keys the panes have."""
    return f"1-{min(len(panes()), PANE_KEYS)}"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key: what it does, its footer word, its help text and its palette entry."""

    key: str
    action: str
    footer: str
    help: str
    show: bool = True
    key_display: str | None = None
    palette: str | None = None
    """Command palette title; None keeps it out of the palette."""
    wide: str | None = None
    """The footer word when the terminal is wide (``clear cache``); None: ``footer``."""
    rank: int = 1
    """Who gives way in a narrow footer: 0 always shows its word (``? help``, ``q quit``),
    1 keeps its word longer, 2 loses its word first, then its key."""


def pane_keys() -> tuple[KeySpec, ...]:
    """One digit key per pane (up to nine), from :func:`panes`."""
    return tuple(
        KeySpec(
            str(number),
            f"show_pane('{pane}')",
            "pane",
            f"show the {label} pane",
            show=number == 1,
            key_display=pane_key_display() if number == 1 else None,
            rank=0,
            palette=f"Show pane {number}: {label}",
        )
        for number, (pane, label) in enumerate(panes()[:PANE_KEYS], start=1)
    )


OTHER_KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "r",
        "refresh_pane",
        "refresh",
        "refresh this pane now (a dashboard pane bypasses its TTL; History re-reads SQLite)",
        palette="Refresh this pane now",
    ),
    KeySpec(
        "R",
        "refresh_all",
        "all",
        "force-refresh every dashboard, bypassing every TTL",
        key_display="R",
        palette="Force-refresh every dashboard",
        wide="refresh all",
        rank=2,
    ),
    KeySpec(
        "c",
        "clear_pane",
        "clear",
        "clear this dashboard's cached responses (the data stays on screen)",
        palette="Clear this pane's cache",
        wide="clear cache",
        rank=2,
    ),
    KeySpec(
        "C",
        "clear_all",
        "all",
        "clear every cached response (asks to confirm)",
        key_display="C",
        palette="Clear all caches…",
        wide="clear all",
        rank=2,
    ),
    KeySpec(
        "p",
        "toggle_pause",
        "pause",
        "pause or resume auto-refresh",
        palette="Pause / resume auto-refresh",
    ),
    KeySpec(
        "slash",
        "filter",
        "filter",
        "filter the rows of this table (esc clears)",
        key_display="/",
        palette="Filter rows",
    ),
    KeySpec(
        "s",
        "sort",
        "sort",
        "cycle the sort column of this table (numbers largest first)",
        palette="Cycle sort",
    ),
    KeySpec(
        "S",
        "sort_reverse",
        "reverse",
        "reverse the sort of this table (or its default order)",
        key_display="S",
        palette="Reverse sort",
        rank=2,
    ),
    KeySpec(
        "enter",
        "detail",
        "detail",
        "open the selected workspace's detail",
        key_display="⏎",
        palette="Workspace detail",
    ),
    KeySpec(
        "y",
        "copy",
        "copy",
        "copy the selected row, or on Overview the incident summary (OSC 52, works over SSH)",
        palette="Copy row / incident summary",
    ),
    KeySpec(
        "w",
        "refresh_workspace",
        "workspace",
        "refresh the selected workspace only, past the cache (Failures, dashboards, detail)",
        show=False,
        palette="Refresh the selected workspace past the cache",
    ),
    KeySpec(
        "f",
        "retry_failed",
        "retry failed",
        "retry only what failed in the last cycle; everything else stays as it is",
        show=False,
        palette="Retry only what failed",
    ),
    KeySpec(
        "question_mark", "help", "help", "show this help", key_display="?", palette="Help", rank=0
    ),
    KeySpec("q", "quit", "quit", "quit", palette="Quit", rank=0),
)


DETAIL_KEYS: tuple[KeySpec, ...] = (
    KeySpec("w", "refresh_workspace", "refresh", "refresh this workspace only, past the cache"),
    KeySpec("f", "retry_failed", "retry failed", "retry only what failed in the last cycle"),
    KeySpec("v", "verify", "verify", "re-fetch this workspace past the cache and diff it"),
    KeySpec("y", "copy", "copy", "copy the detail (OSC 52)"),
    KeySpec("escape", "dismiss", "close", "close", key_display="esc"),
    KeySpec("q", "dismiss", "close", "close", show=False),
)
"""The workspace detail screen's keys (``enter`` on a workspace row)."""

FINDING_KEYS: tuple[KeySpec, ...] = (
    KeySpec("a", "acknowledge", "acknowledge", "acknowledge this finding with a note"),
    KeySpec("y", "copy", "copy", "copy the finding and its evidence (OSC 52)"),
    KeySpec("escape", "dismiss", "close", "close", key_display="esc"),
    KeySpec("q", "dismiss", "close", "close", show=False),
)
"""The finding view's keys (``enter`` on a finding in the Consistency pane)."""


def keys() -> tuple[KeySpec, ...]:
    """Every key: the pane keys, then the others."""
    return (*pane_keys(), *OTHER_KEYS)


def key_line(specs: tuple[KeySpec, ...]) -> str:
    """A dialog's shown keys on one line: ``w refresh · v verify · esc close``."""
    return " · ".join(f"{k.key_display or k.key} {k.footer}" for k in specs if k.show)


def screen_bindings(specs: tuple[KeySpec, ...]) -> list[Binding]:
    """A dialog's bindings (:data:`DETAIL_KEYS`, :data:`FINDING_KEYS`)."""
    return [binding(k) for k in specs]


def binding(spec: KeySpec) -> Binding:
    """The Textual binding of one key."""
    return Binding(spec.key, spec.action, spec.footer, show=spec.show, key_display=spec.key_display)


def fixed_bindings() -> list[Binding]:
    """The bindings of every key but the pane keys (those follow the registry: the app
    binds them per instance, see :func:`pane_keys`)."""
    return [binding(k) for k in OTHER_KEYS]


def help_rows() -> list[tuple[str, str]]:
    """(key, what it does) for the help screen, with the pane keys folded into one."""
    rows: list[tuple[str, str]] = [
        (
            pane_key_display(),
            "switch pane: "
            + ", ".join(f"{n} {label}" for n, (_, label) in enumerate(panes(), start=1)),
        ),
    ]
    for spec in keys():
        if spec.key.isdigit():
            continue
        rows.append((spec.key_display or spec.key, spec.help))
    for title, specs in (("workspace detail", DETAIL_KEYS), ("finding view", FINDING_KEYS)):
        shown = [k for k in specs if k.action not in ("dismiss", "copy")]
        rows.append(
            (
                " ".join(k.key_display or k.key for k in shown),
                f"in the {title}: " + "; ".join(f"{k.key} {k.help}" for k in shown),
            )
        )
    rows += [
        ("tab", "move focus between the tab bar and the tables; ←/→ on the tab bar switch panes"),
        ("↑↓ PgUp PgDn", "move in a table; Home/End jump to the first/last row"),
        ("←→", "scroll a wide table sideways; its name column stays at the left"),
        ("esc", "close a dialog or this help; in the filter box, clear the filter"),
        ("ctrl+p", "command palette: every action above by name"),
    ]
    return rows
