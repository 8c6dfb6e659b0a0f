"""Faults on the wire: a response spoilt after it is made (huge, malformed, cut, reset, slow)."""

from __future__ import annotations

from portal_tui.simulator.exchange import Delivery, SimResponse
from portal_tui.simulator.faults import (
    ConnectionReset,
    FaultSet,
    HugeBody,
    MalformedJson,
    SlowTrickle,
    TruncatedBody,
)
from portal_tui.upstream.endpoints import Endpoint

MALFORMED_PREFIX = (
    b'<br />\n<b>Warning</b>:  Undefined array key "team" in '
    b"<b>/var/www/app/Http/Controllers/Api/Controller.php</b> on line <b>88</b><br />\n"
)


def apply_wire_faults(
    faults: FaultSet,
    response: SimResponse,
    scope: int | None,
    endpoint: Endpoint | None,
    key: str,
) -> str | None:
    """Spoil ``response`` with the first wire fault that fires; returns its kind, if any.

    Huge body, malformed JSON, truncated body, connection reset, slow trickle,
    in that order; at most one per response.
    """
    huge = faults.fire(HugeBody, scope, endpoint, key)
    if huge is not None and response.status == 200 and response.body.endswith(b"}"):
        response.body = padded(response.body, huge.size)
        return huge.kind
    if faults.fire(MalformedJson, scope, endpoint, key) is not None:
        response.body = MALFORMED_PREFIX + response.body
        return MalformedJson.kind
    truncated = faults.fire(TruncatedBody, scope, endpoint, key)
    if truncated is not None:
        cut = min(int(len(response.body) * truncated.at), max(0, len(response.body) - 1))
        response.body = response.body[:cut]
        return truncated.kind
    reset = faults.fire(ConnectionReset, scope, endpoint, key)
    if reset is not None:
        response.delivery = Delivery.RESET
        response.reset_after = int(len(response.body) * reset.at) if reset.at > 0 else None
        return reset.kind
    trickle = faults.fire(SlowTrickle, scope, endpoint, key)
    if trickle is not None:
        response.trickle = trickle
        return trickle.kind
    return None


def padded(body: bytes, size: int) -> bytes:
    """A JSON object ``body`` grown to at least ``size`` bytes by a ``padding`` array of zeros."""
    missing = max(0, size - len(body) - len(b',"padding":[]'))
    zeros = b"0," * (missing // 2) + b"0"
    return body[:-1] + b',"padding":[' + zeros + b"]}"
