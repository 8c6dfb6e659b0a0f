"""Rule: every sender email address is well formed."""

from __future__ import annotations

import re
from typing import ClassVar

from portal_tui.consistency.model import (
    CheckContext,
    Finding,
    RuleResult,
    capped,
    mailbox_value,
    subject_of,
)
from portal_tui.dashboards.infrastructure import InfrastructureRow
from portal_tui.vocabulary.names import DashboardName, Severity

INFRA = DashboardName.INFRASTRUCTURE

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATOM = r"[!-\-/-?A-~]+"  # printable ASCII but space, "." and "@"
_PLAIN = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?=[A-Za-z0-9-]*[A-Za-z]){_LABEL}\Z"
)
"""An ordinary ASCII address, accepted without the character-by-character checks (the
50,000-mailbox case); anything it does not match gets the full :func:`address_problem`."""


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a usable mailbox address, or None when it is.

    Deliberately loose where real mail is loose (any non-space local part,
    internationalised domain labels) and strict on what no sending mailbox
    can have: no ``@`` or two, white space or control characters, an empty
    local part, a domain without a dot, an empty or over-long label, a label
    starting or ending with a hyphen, an all-digit top-level domain.
    """
    if _PLAIN.match(address):
        return None
    if address.count("@") != 1:
        return "no @" if "@" not in address else "more than one @"
    if any(c.isspace() or not c.isprintable() for c in address):
        return "white space or a control character"
    local, domain = address.split("@")
    if not local:
        return "nothing before the @"
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "a misplaced dot before the @"
    labels = domain.split(".")
    if len(labels) < 2:
        return "a domain without a dot"
    for label in labels:
        if not label:
            return "an empty domain label"
        if len(label) > 63:
            return "a domain label longer than 63 characters"
        if label.startswith("-") or label.endswith("-"):
            return "a domain label starting or ending with a hyphen"
        if any(not (c.isalnum() or c == "-") for c in label):
            return "a character a domain cannot hold"
    if labels[-1].isdigit():
        return "an all-digit top-level domain"
    return None


class SenderAddressFormat:
    """Every sender email address of the Infrastructure snapshot is well formed.

    Source of truth: the address syntax every mailbox needs to send (see
    :func:`address_problem`: loose where real addresses are loose). An
    address the upstream mangled (an import gone wrong, a field shifted)
    cannot send, and silently skews the per-domain prices. Judged on every
    mailbox shown after an Infrastructure refresh; an error per address.
    """

    name: ClassVar[str] = "sender-email-format"
    severity: ClassVar[Severity] = Severity.ERROR
    source: ClassVar[str] = "the address syntax a sending mailbox needs"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Check each mailbox's address on a refreshed Infrastructure snapshot."""
        result = RuleResult()
        snap = ctx.outcome.snapshots.get(INFRA)
        if snap is None:
            return result
        result.covered.add(INFRA.value)
        found: list[Finding] = []
        for row in snap.rows:
            if not isinstance(row, InfrastructureRow):
                continue
            for mailbox in row.mailboxes:
                address = str(mailbox_value(mailbox, "address") or "")
                problem = address_problem(address.strip())
                if problem is None:
                    continue
                who = subject_of(row.instance, row.workspace)
                found.append(
                    Finding(
                        self.name,
                        self.severity,
                        INFRA.value,
                        f"{who} {address!r}",
                        f"{row.workspace}: sender email {address!r} is malformed ({problem}); "
                        "it cannot send",
                    )
                )
        result.findings.extend(capped(found, rule=self.name, scope=INFRA.value))
        return result
