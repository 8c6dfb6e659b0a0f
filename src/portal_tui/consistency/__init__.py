"""Consistency checks: small named rules run after every refresh cycle.

Each rule states the source of truth it checks against (its ``source`` and
docstring) and reports :class:`Finding` s with a severity; the
:class:`ConsistencyChecker` keeps the open ones (:class:`OpenFinding`, with
first seen, last seen and occurrences) and hands the monitor a record that
is written in the cycle's own SQLite transaction. The Consistency pane reads
``PortalMonitor.findings``. Never imports Textual.
"""

from portal_tui.consistency.engine import ENGINE_RULE, ConsistencyChecker, Verdict, default_rules
from portal_tui.consistency.model import CheckContext, Finding, OpenFinding, Rule, RuleResult

__all__ = [
    "ENGINE_RULE",
    "CheckContext",
    "ConsistencyChecker",
    "Finding",
    "OpenFinding",
    "Rule",
    "RuleResult",
    "Verdict",
    "default_rules",
]
