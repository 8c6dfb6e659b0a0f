"""Known tokens out of what an upstream sends, before anything reads it.

An upstream can echo the bearer token it was sent: in a field value, a field
name, an error page, a reason phrase. Whatever it echoes would then flow into
the models, the records, ``check``, exports and the screen. So the client
passes every response through a :class:`SecretScanner` built from every
configured token before the body is parsed, and only the body's *decoded*
JSON strings are rewritten (keys included), so a token written with JSON
escapes (``\\u0041``, ``\\/``) is caught as well as a literal one.

The scan costs next to nothing when no token is there (the usual case): a
few :func:`bytes.__contains__` calls when a handful of tokens are configured,
else one pass over the body's aligned 8-byte words against a set built from
every token (a thousand api-user tokens cost the same as sixteen). A body
that holds a token takes the slow path: :func:`json.loads`, scrub every
string, then validation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8
"""Shorter values are not real tokens; replacing them everywhere would garble text."""

_DIRECT_MAX = 16  # up to this many forms, plain substring tests beat the word scan
_WORD = 8  # bytes per word of the word scan (memoryview format "Q")

_HEX = frozenset(b"0123456789abcdefABCDEF")
_ASCII_HIGH = frozenset(b"234567")  # \u0020 .. \u007f: the printable ASCII escapes
_ASCII_ESCAPES = tuple(b"\\u00" + bytes((d,)) for d in sorted(_ASCII_HIGH))


def _unicode_escape(piece: bytes) -> bytes:
    """``piece`` (what followed a backslash: ``uXXXX...``) in canonical form.

    Only printable ASCII is undone: a token travels in an HTTP header, so it
    is ASCII, and the usual escapes of a body (accented names) stay as sent.
    """
    if piece[1:3] != b"00" or piece[3] not in _ASCII_HIGH or piece[4] not in _HEX:
        return b"\\" + piece
    code = int(piece[3:5], 16)
    if code == 0x22:
        return b'\\"' + piece[5:]
    if code == 0x5C:
        return b"\\\\" + piece[5:]
    return bytes((code,)) + piece[5:]


def canonical_json(content: bytes) -> bytes:
    """``content`` with every JSON escape that can spell a token's character undone.

    Only for searching: ``\\/`` becomes ``/`` and ``\\u0041`` ``A`` (printable
    ASCII; ``\\u0022`` and ``\\u005c`` become their short escapes), so a token
    appears in the result as :func:`json.dumps` writes it, however it was escaped.
    """
    escapes = content.count(b"\\")
    if not escapes:
        return content
    if escapes > 64 and (
        b"\\\\" not in content and not any(n in content for n in _ASCII_ESCAPES)
    ):
        # The usual escaped body (every "/" written "\/", accented names as \u00e9):
        # only the slashes can hide a token's character.
        return content.replace(b"\\/", b"/")
    # Split at every backslash (one C-speed pass): each piece after the first
    # starts with what its backslash escapes.
    pieces = content.split(b"\\")
    out = [pieces[0]]
    index, count = 1, len(pieces)
    while index < count:
        piece = pieces[index]
        index += 1
        if not piece:  # an escaped backslash: the piece after it is plain text
            out.append(b"\\\\" + pieces[index] if index < count else b"\\")
            index += 1
        elif piece[0] == 0x2F:  # "\/"
            out.append(piece)
        elif piece[0] == 0x75 and len(piece) >= 5:  # "\u"
            out.append(_unicode_escape(piece))
        else:
            out.append(b"\\" + piece)
    return b"".join(out)


class SecretScanner:
    """Finds and removes exact secret values (the configured tokens) in text and JSON.

    Each secret is searched for as written and as JSON writes it inside a
    string (a quote or backslash in a token is escaped there). Values shorter
    than :data:`MIN_SECRET_CHARS` are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: dict[bytes, str] = {}
        self._short: list[bytes] = []
        self._words: dict[int, list[bytes]] = {}
        self._stride = 0
        self.add(secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def secrets(self) -> frozenset[str]:
        """The values searched for."""
        return frozenset(self._secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also find these values from now on."""
        fresh = {s for s in secrets if len(s) >= MIN_SECRET_CHARS} - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        for secret in self._secrets:
            for form in (secret, json.dumps(secret, ensure_ascii=False)[1:-1]):
                self._forms[form.encode("utf-8")] = secret
        self._index()

    def _index(self) -> None:
        """Choose plain substring tests or the word scan, and build the word index."""
        forms = sorted(self._forms, key=len, reverse=True)
        self._words, self._stride = {}, 0
        if len(forms) <= _DIRECT_MAX:
            self._short = forms
            return
        # Every occurrence of a form at least STRIDE + 7 bytes long covers a whole
        # 8-byte word starting at a multiple of STRIDE: index each form's words at
        # offsets 0..STRIDE-1, then look only at the body's words at those multiples.
        stride = _WORD
        for candidate in (64, 32, 16):
            if sum(1 for f in forms if len(f) < candidate + _WORD - 1) <= _DIRECT_MAX:
                stride = candidate
                break
        long_forms = [f for f in forms if len(f) >= stride + _WORD - 1]
        self._short = [f for f in forms if len(f) < stride + _WORD - 1]
        for form in long_forms:
            for offset in range(stride):
                word = form[offset : offset + _WORD]
                if len(word) == _WORD:
                    key = int.from_bytes(word, sys.byteorder)
                    self._words.setdefault(key, []).append(form)
        self._stride = stride

    def found(self, data: bytes) -> list[str]:
        """The secrets present in ``data`` (exact bytes, as written or JSON-escaped)."""
        hits = {self._forms[f] for f in self._short if f in data}
        if self._words:
            usable = len(data) - len(data) % _WORD
            view = memoryview(data)[:usable].cast("Q")[:: self._stride // _WORD]
            words = self._words
            if not words.keys().isdisjoint(view):
                for key in set(view.tolist()) & words.keys():
                    hits.update(self._forms[f] for f in words[key] if f in data)
        return sorted(hits, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by :data:`REDACTED`."""
        if not self._secrets:
            return text
        found = self.found(text.encode("utf-8", "surrogatepass"))
        for secret in found:
            text = text.replace(secret, REDACTED)
            text = text.replace(json.dumps(secret, ensure_ascii=False)[1:-1], REDACTED)
        return text

    def in_json(self, content: bytes) -> bool:
        """Whether a secret is in the JSON document ``content``, however it is escaped."""
        return bool(self._secrets) and bool(self.found(canonical_json(content)))

    def scrub_tree(self, value: Any) -> Any:
        """A decoded JSON value with every secret removed from its strings and keys."""
        if isinstance(value, str):
            return self.scrub(value) if value else value
        if isinstance(value, list):
            return [self.scrub_tree(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_tree(v) for k, v in value.items()}
        return value
