"""Defence in depth: scrub anything token-like from text before it reaches the file.

The upstream client is meant never to put a token in an error message, but
an exception from a library can quote a request header or a URL. So every
free-text column (``error_message``, ``message``, ``actual``, ``expected``,
``reason``, ``endpoint``) passes through a :class:`Redactor` first. It
removes, in this order:

1. every exact secret value it was given (e.g. the configured tokens);
2. ``Authorization: ...`` / ``'Authorization': '...'`` header values;
3. ``Bearer <token>``;
4. ``token=``, ``api_key=``, ``access_token=``, ``secret=``, ``password=``
   style query or form parameters, and ``"token": "..."`` style JSON fields;
5. ``user:password@`` in URLs.

Then the text is clipped to :data:`MAX_TEXT_CHARS`, because an upstream
HTML error page is not worth keeping in full.

:meth:`Redactor.exact` removes only step 1, and neither rewrites nor clips
anything else: it is for text that must stay whole (a snapshot's JSON, a
field or workspace name). The upstream client already scrubs every token
from what it receives (:mod:`portal_tui.upstream.scrub`); this is the second
line, for whatever reaches the store by another road.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import overload

from portal_tui.upstream.scrub import MIN_SECRET_CHARS, REDACTED, SecretScanner

__all__ = ["MAX_TEXT_CHARS", "MIN_SECRET_CHARS", "REDACTED", "Redactor"]

MAX_TEXT_CHARS = 2000

_SECRET_NAME = r"[\w.-]*(?:token|api[_-]?key|apikey|secret|password|passwd)"
_NAME_WORDS = ("token", "api_key", "api-key", "apikey", "secret", "passw")

_RULES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (
        re.compile(r"(?i)\b(authorization)([\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+"),
        rf"\1\2{REDACTED}",
        ("authorization",),
    ),
    (re.compile(r"(?i)\b(bearer)\s+[\w\-.~+/|=]+"), rf"\1 {REDACTED}", ("bearer",)),
    (re.compile(rf"(?i)\b({_SECRET_NAME})=[^&\s\"'#<>;,]+"), rf"\1={REDACTED}", _NAME_WORDS),
    (
        re.compile(rf"(?i)([\"']{_SECRET_NAME}[\"']\s*:\s*[\"'])[^\"']*"),
        rf"\1{REDACTED}",
        _NAME_WORDS,
    ),
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"),
        rf"\1{REDACTED}@",
        ("://",),
    ),
)
"""Each rule with words one of which any text it matches holds (lower-cased as
:func:`_folded` does): a rule whose words are all absent is not run. The
rules' searches scan the whole text in C with the GIL held (17 ms for a 50 KB
mailbox page, BENCHMARKS.md item 34); the words are a few ``in`` tests."""

_ASCII_FOLD = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}
"""The characters that a case-insensitive pattern takes for an ASCII letter
but ``str.lower`` does not lower to it (``tests/test_store_redaction.py``
checks every code point)."""


def _folded(text: str) -> str:
    """``text`` lower-cased so each rule's words are in it wherever its pattern matches."""
    if text.isascii():
        return text.lower()
    return text.translate(_ASCII_FOLD).lower()


def _rules_for(text: str) -> list[tuple[re.Pattern[str], str]]:
    """The rules that may match ``text``: those one of whose words it holds."""
    folded = _folded(text)
    return [
        (pattern, replacement)
        for pattern, replacement, words in _RULES
        if any(word in folded for word in words)
    ]


class Redactor:
    """Scrubs secrets and token-like patterns from text.

    ``secrets`` are exact values to remove wherever they appear (values
    shorter than :data:`MIN_SECRET_CHARS` are ignored); ``extra`` is an
    optional further scrubber applied last (e.g. a site-specific pattern).
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        extra: Callable[[str], str] | None = None,
    ) -> None:
        # Values shorter than MIN_SECRET_CHARS are not real tokens, and replacing
        # them (a "1", a "/root") everywhere would garble messages.
        self._scanner = SecretScanner(secrets)
        self._extra = extra

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also remove these exact values from now on."""
        self._scanner.add(secrets)

    def exact(self, text: str) -> str:
        """``text`` with only the exact secrets removed (as written or JSON-escaped)."""
        return self._scanner.scrub(text)

    def touches(self, text: str) -> bool:
        """Whether anything in ``text`` (however long) would be scrubbed."""
        if self._scanner.found(text.encode()):
            return True
        if any(pattern.search(text) for pattern, _ in _rules_for(text)):
            return True
        return self._extra is not None and self._extra(text) != text

    @overload
    def __call__(self, text: str) -> str: ...

    @overload
    def __call__(self, text: None) -> None: ...

    def __call__(self, text: str | None) -> str | None:
        """``text`` with secrets removed and clipped; None stays None."""
        if text is None:
            return None
        return self.clipped(text, MAX_TEXT_CHARS)

    def clipped(self, text: str, limit: int) -> str:
        """``text`` with secrets removed, clipped to ``limit`` characters (a finding's
        evidence is kept longer than a message)."""
        text = self._scanner.scrub(text)
        for pattern, replacement in _rules_for(text):
            text = pattern.sub(replacement, text)
        if self._extra is not None:
            text = self._extra(text)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return text
