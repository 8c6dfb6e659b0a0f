"""Rule: every sender email address is well formed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import ClassVar

from portal_tui.consistency.model import (
    CheckContext,
    Finding,
    RuleResult,
    capped,
    mailbox_value,
    subject_of,
)
from portal_tui.dashboards.mailboxes import InfrastructureRow
from portal_tui.vocabulary.names import DashboardName, Severity

INFRA = DashboardName.INFRASTRUCTURE
_ADDRESS = attrgetter("address")


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a usable mailbox address, or None when it is.

    Deliberately loose where real mail is loose (any non-space local part,
    internationalised domain labels) and strict on what no sending mailbox
    can have: no ``@`` or two, white space or control characters, an empty
    local part, a domain without a dot, an empty or over-long label, a label
    starting or ending with a hyphen, an all-digit top-level domain.
    """
    if address.count("@") != 1:
        return "no @" if "@" not in address else "more than one @"
    if any(c.isspace() or not c.isprintable() for c in address):
        return "white space or a control character"
    local, domain = address.split("@")
    return _local_problem(local) or _domain_problem(domain)


def _local_problem(local: str) -> str | None:
    if not local:
        return "nothing before the @"
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "a misplaced dot before the @"
    return None


def _domain_problem(domain: str) -> str | None:
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


_ATOM = r"[!-\-/-?A-~]"  # printable ASCII but space, "." and "@"
_LABEL = r"[A-Za-z0-9][A-Za-z0-9-]{0,62}+(?<!-)"
_ORDINARY = rf"(?=[^@\n]{{1,64}}+@){_ATOM}++(?:\.{_ATOM}++)*+@(?:{_LABEL}\.)++(?![0-9]*+$){_LABEL}"
_ODD_LINE = re.compile(rf"^(?!{_ORDINARY}$).*$", re.MULTILINE)
"""A line (of addresses joined by newlines) that is not an ordinary ASCII address: only
those get :func:`address_problem`. One C-level scan per workspace; a Python check per
address took five times as long at 50,000 mailboxes (16,000 distinct domains, so
memoising domains does not help). Possessive quantifiers: no backtracking."""


def _malformed(addresses: Sequence[str]) -> Iterator[tuple[str, str]]:
    """``(address, problem)`` for each malformed address."""
    text = "\n".join(addresses)
    if text.count("\n") + 1 != len(addresses) or "\r" in text:
        candidates: Iterable[str] = addresses  # an address holds a line break: one by one
    else:
        candidates = [m.group(0) for m in _ODD_LINE.finditer(text)] if addresses else []
    for address in candidates:
        problem = address_problem(address.strip())
        if problem is not None:
            yield address, problem


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
            who = subject_of(row.instance, row.workspace)
            try:  # MailboxRow, as computed or restored: one C-level pass
                addresses = list(map(_ADDRESS, row.mailboxes))
            except AttributeError:
                addresses = [str(mailbox_value(m, "address") or "") for m in row.mailboxes]
            for address, problem in _malformed(addresses):
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
