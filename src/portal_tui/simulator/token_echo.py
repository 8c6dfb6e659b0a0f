"""The echo-token fault: a reply carrying the caller's bearer token back (see
:class:`~portal_tui.simulator.faults.EchoToken`), to prove tokens never reach an output."""

from __future__ import annotations

from portal_tui.simulator.endpoints import Reply

_ECHO_COUNTS = ("interested", "emails_being_sent", "emails_sent_count", "emails_sent")


def echoed(reply: Reply, token: str, places: tuple[str, ...]) -> Reply:
    """``reply`` with the caller's token echoed back in ``places`` (see ``EchoToken``)."""
    if "error" in places:
        return Reply(
            422,
            {
                "message": f"The token {token} is not allowed here.",
                "errors": {f"token_{token}": [f"Bearer {token} was rejected."]},
            },
        )
    if reply.status != 200 or reply.html or not isinstance(reply.payload, dict):
        return reply
    data = reply.payload.get("data")
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "value" in places:
            for field in ("name", "email"):
                if isinstance(item.get(field), str):
                    item[field] = f"{item[field]} {token}"
        if "name" in places:
            item[f"echo_{token}"] = token
        if "number" in places:
            count = next((f for f in _ECHO_COUNTS if f in item), None)
            if count is not None:
                item[count] = token
    return reply
