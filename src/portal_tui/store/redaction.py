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

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(authorization)([\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[\w\-.~+/|=]+"), rf"\1 {REDACTED}"),
    (re.compile(rf"(?i)\b({_SECRET_NAME})=[^&\s\"'#<>;,]+"), rf"\1={REDACTED}"),
    (
        re.compile(rf"(?i)([\"']{_SECRET_NAME}[\"']\s*:\s*[\"'])[^\"']*"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\1{REDACTED}@"),
)


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
        if any(pattern.search(text) for pattern, _ in _RULES):
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
        for pattern, replacement in _RULES:
            text = pattern.sub(replacement, text)
        if self._extra is not None:
            text = self._extra(text)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return text
