"""A fetched response to bytes and back, through the same pydantic models.

The validated payload is dumped as JSON (only the fields the upstream sent,
so a decoded model is the one the fetcher built: same values, same fields
set, unknown fields kept) and compressed with zlib. Decoding validates it
again with the endpoint's own model; a blob that does not decode is treated
as absent, never as data. The JSON passes through the records' redaction
before it is stored: no token ever reaches a shared row.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from portal_tui.fetch.compact import MailboxCompactor
from portal_tui.fetch.fetcher import MODELS, Fetched
from portal_tui.store.redaction import Redactor
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import PageMeta, SenderEmail

FORMAT = 1


def encode(fetched: Fetched, redact: Redactor | None = None) -> bytes:
    """``fetched`` as compressed JSON (secrets scrubbed by ``redact``)."""
    payload = fetched.payload
    body: dict[str, Any]
    if isinstance(payload, MailboxCollection):
        body = {
            "mailboxes": [m.model_dump(mode="json", exclude_unset=True) for m in payload.mailboxes],
            "meta": payload.meta.model_dump(mode="json", exclude_unset=True)
            if payload.meta
            else None,
            "pages_fetched": payload.pages_fetched,
            "anomalies": list(payload.anomalies),
        }
    else:
        body = payload.model_dump(mode="json", exclude_unset=True)
    text = json.dumps(
        {
            "format": FORMAT,
            "payload": body,
            "size_bytes": fetched.size_bytes,
            "attempts": fetched.attempts,
            "unknown_fields": sorted(fetched.unknown_fields),
            "pages": fetched.pages,
        },
        separators=(",", ":"),
        allow_nan=False,
    )
    if redact is not None:
        text = _redact_json(text, redact)
    return zlib.compress(text.encode(), 1)


def decode(
    endpoint: Endpoint,
    blob: bytes,
    fetched_at: float,
    compactor: MailboxCompactor | None = None,
) -> Fetched | None:
    """The :class:`Fetched` a blob holds (``origin="shared"``), or None if it is not one."""
    try:
        doc = json.loads(zlib.decompress(blob))
        if doc.get("format") != FORMAT:
            return None
        body = doc["payload"]
        payload: BaseModel | MailboxCollection
        if endpoint is Endpoint.SENDER_EMAILS:
            mailboxes = [SenderEmail.model_validate(m) for m in body["mailboxes"]]
            (compactor or MailboxCompactor()).compact(mailboxes)
            meta = PageMeta.model_validate(body["meta"]) if body["meta"] is not None else None
            payload = MailboxCollection(
                mailboxes, meta, int(body["pages_fetched"]), tuple(body["anomalies"])
            )
        else:
            payload = MODELS[endpoint].model_validate(body)
        return Fetched(
            payload,
            int(doc["size_bytes"]),
            int(doc["attempts"]),
            frozenset(doc["unknown_fields"]),
            int(doc["pages"]),
            origin="shared",
            fetched_at=datetime.fromtimestamp(fetched_at, UTC),
        )
    except (zlib.error, ValueError, KeyError, TypeError, ValidationError):
        return None


def _redact_json(text: str, redact: Redactor) -> str:
    """``text`` as it is when nothing in it is secret (nearly always: one scan);
    otherwise with each string in it scrubbed, so the document stays valid JSON."""
    if not redact.touches(text):
        return text
    doc = json.loads(text)
    return json.dumps(_scrub(doc, redact), separators=(",", ":"), allow_nan=False)


def _scrub(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, redact) for k, v in value.items()}
    return value
