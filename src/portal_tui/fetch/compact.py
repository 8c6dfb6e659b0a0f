"""Keep 50,000 validated mailboxes small while they sit in the cache.

A pydantic model instance carries its own ``__pydantic_fields_set__``: a set
of the field names the payload sent. For a sender email that is ~19 names in
a set of ~2.3 KB, more than half of the ~4.2 KB each validated mailbox costs;
every mailbox of a page sends the same fields, so the sets are identical.
Tags repeat too (a reseller tag is the same object on thousands of mailboxes),
so do whole tag lists (a handful of combinations), the empty dict of unknown
fields, and short strings such as ``Connected`` or ``imap_smtp``.

:func:`compact_mailboxes` shares them: one field-name set per distinct shape,
one :class:`SenderTag` per distinct tag, one tag list per distinct
combination, one empty extras dict, interned status and type.
The mailboxes stay the same validated, frozen :class:`SenderEmail` objects
(equal field values, equal ``model_fields_set``); only duplicates go. At
50,000 mailboxes this takes the cached collections from ~210 MB to ~55 MB,
and sharing the lists also leaves the garbage collector 50,000 fewer
containers to walk on every full collection.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from portal_tui.upstream.models import SenderEmail, SenderTag

_FIELDS_SET = "__pydantic_fields_set__"


class MailboxCompactor:
    """Shares field-name sets, tags and short strings across the mailboxes it sees."""

    def __init__(self) -> None:
        self._field_sets: dict[frozenset[str], set[str]] = {}
        self._tags: dict[tuple[object, ...], SenderTag] = {}
        self._tag_lists: dict[tuple[int, ...], list[SenderTag]] = {}
        self._no_extra: dict[str, object] = {}

    def _fields(self, model: SenderEmail | SenderTag) -> None:
        own = getattr(model, _FIELDS_SET)
        shared = self._field_sets.setdefault(frozenset(own), own)
        if own is not shared:
            # Frozen models refuse setattr; this swaps pydantic's bookkeeping set for an
            # equal shared one. Pydantic never changes it on a frozen model (a copy gets
            # its own), and pydantic-core insists on a set, so it cannot be a frozenset:
            # treat ``model_fields_set`` of a cached mailbox as read-only.
            object.__setattr__(model, _FIELDS_SET, shared)

    def _tag(self, tag: SenderTag) -> SenderTag | None:
        """The shared equal tag, or None for a tag kept as it came (an odd extra field)."""
        extra = tag.__pydantic_extra__ or {}
        if any(not isinstance(v, str | int | float | bool | None) for v in extra.values()):
            return None
        key = (tag.id, tag.name, tag.default, tuple(sorted(extra.items())))
        shared = self._tags.get(key)
        if shared is None:
            self._fields(tag)
            shared = self._tags[key] = tag
        return shared

    def _tag_list(self, tags: list[SenderTag]) -> list[SenderTag]:
        """One list per combination of shared tags (equal, in the same order)."""
        shared = [self._tag(tag) for tag in tags]
        if any(tag is None for tag in shared):
            # Keep this list (with what could be shared swapped in): a key holding a
            # one-off tag would keep it alive in the registry for ever.
            for index, tag in enumerate(shared):
                if tag is not None:
                    tags[index] = tag
            return tags
        known = [tag for tag in shared if tag is not None]
        key = tuple(id(tag) for tag in known)  # registry tags live as long as this object
        return self._tag_lists.setdefault(key, known)

    def compact(self, mailboxes: Iterable[SenderEmail]) -> None:
        """Share what repeats across ``mailboxes`` (in place)."""
        intern = sys.intern
        for mailbox in mailboxes:
            self._fields(mailbox)
            values = mailbox.__dict__
            # Shared lists and dicts, like the field-name sets: read-only on a cached mailbox.
            values["tags"] = self._tag_list(mailbox.tags)
            if mailbox.__pydantic_extra__ == {}:
                object.__setattr__(mailbox, "__pydantic_extra__", self._no_extra)
            for name in ("status", "type"):
                value = values.get(name)
                if isinstance(value, str) and len(value) <= 32:
                    values[name] = intern(value)


def compact_mailboxes(mailboxes: Iterable[SenderEmail]) -> None:
    """Share field-name sets, tags and short strings across ``mailboxes`` (in place)."""
    MailboxCompactor().compact(mailboxes)
