"""Rule: the stats response's ``*_percentage`` fields agree with its own counts."""

from __future__ import annotations

from typing import ClassVar

from portal_tui.consistency.model import CheckContext, Finding, RuleResult, capped, subject_of
from portal_tui.consistency.numbers import WINDOW_TEXT
from portal_tui.upstream.models import WorkspaceStats
from portal_tui.vocabulary.names import Severity

PERCENT_OF = (
    "opened",
    "unique_opens_per_contact",
    "unique_replies_per_contact",
    "bounced",
    "unsubscribed",
    "interested",
)
"""Counts the stats response also sends as ``<count>_percentage``."""

_PAIRS = tuple((name, f"{name}_percentage") for name in PERCENT_OF)

TOLERANCE = 1.0
"""Percentage points a percentage may be off: any rounding, or truncation to whole
percents, stays inside it."""


def disagreements(stats: WorkspaceStats) -> list[str]:
    """``interested_percentage = 12.5, but interested = 10 is 2.5% of ...`` for each
    percentage that is not a percent of its count over any base, beyond rounding.

    Conservative on purpose, as the real API's base is undocumented: the
    simulator takes events (opened, bounced) over ``emails_sent`` and contacts
    over ``total_leads_contacted``, and the portal once read ``opened`` over
    contacts; a percentage matching either base (``emails_sent`` or
    ``total_leads_contacted``), within a whole point, passes.
    A count of 0, or a base of 0, means 0%.
    """
    sent, contacts = stats.emails_sent, stats.total_leads_contacted
    found: list[str] = []
    for name, percent_name in _PAIRS:  # ~1,300 responses a cycle at 334 workspaces: plain math
        count = getattr(stats, name)
        shown = getattr(stats, percent_name)
        of_sent = count * 100.0 / sent if sent else 0.0  # a base of 0 gives 0%
        of_contacts = count * 100.0 / contacts if contacts else 0.0
        if abs(shown - of_sent) <= TOLERANCE or abs(shown - of_contacts) <= TOLERANCE:
            continue
        bases = (("emails_sent", sent), ("total_leads_contacted", contacts))
        of = "; ".join(f"{count * 100.0 / n:.2f}% of {b} ({n})" for b, n in bases if n)
        found.append(f"{percent_name} = {shown:g} but {name} = {count} is {of or '0%'}")
    return found


class StatsPercentages:
    """Each ``*_percentage`` of a stats response is its count over a base, within rounding.

    Source of truth: the counts in the same stats response (``opened``,
    ``bounced``, ``interested``, ... over ``emails_sent`` or
    ``total_leads_contacted``). portal-tui computes its own rates and never
    shows these fields, but the portal and other readers of the API do; a
    disagreement means the upstream's figures are not from one computation. A
    warning, judged per workspace and window on good responses only. See
    :func:`disagreements` for the tolerance.
    """

    name: ClassVar[str] = "stats-percentages"
    severity: ClassVar[Severity] = Severity.WARNING
    source: ClassVar[str] = "the counts of the same stats response"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Check every window's stats response of every workspace this cycle read well."""
        result = RuleResult()
        for key, ws_name in sorted(ctx.outcome.workspace_names.items()):
            scope = subject_of(key[0], ws_name)
            found: list[Finding] = []
            judged = False
            for label, window in WINDOW_TEXT.items():
                stats = ctx.stats(key, label)
                if stats is None:
                    continue
                judged = True
                wrong = disagreements(stats)
                if wrong:
                    found.append(
                        Finding(
                            self.name,
                            self.severity,
                            scope,
                            f"{scope} {window} percentages",
                            f"{ws_name}: the {window} stats response's percentages disagree "
                            f"with its counts: {'; '.join(wrong)}",
                        )
                    )
            if judged:
                result.covered.add(scope)
                result.findings.extend(capped(found, rule=self.name, scope=scope))
        return result
