"""Rule: an instance whose responses have been slow over the last hour."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import ClassVar

from portal_tui.consistency.model import CheckContext, Finding, RuleResult
from portal_tui.vocabulary.errors import ErrorType
from portal_tui.vocabulary.names import Severity

WINDOW = timedelta(hours=1)
"""The span the average is taken over."""

MIN_ATTEMPTS = 5
"""Fewer attempts than this in the hour say too little to call an instance slow."""


class SlowUpstream:
    """An instance's average response time over the last hour stays under the threshold.

    Source of truth: ``api_health_logs`` (every attempt of the last hour, from
    every process sharing the records, plus this cycle's own) and the
    ``[consistency] slow_response_ms`` threshold, default 2,000 ms: the
    portal's own "slow or rate-limited" mark. Attempts refused by an open
    breaker made no request and are left out; timed-out attempts count with
    the time they took. A warning per instance, judged when it has at least
    :data:`MIN_ATTEMPTS` attempts in the hour.
    """

    name: ClassVar[str] = "slow-upstream"
    severity: ClassVar[Severity] = Severity.WARNING
    source: ClassVar[str] = "api_health_logs over the last hour and [consistency] slow_response_ms"

    def run(self, ctx: CheckContext) -> RuleResult:
        """Average each instance's recorded and current attempts."""
        result = RuleResult()
        threshold = ctx.config.consistency.slow_response_ms
        cycle_ms: dict[str, list[float]] = defaultdict(list)
        since = ctx.now - WINDOW
        for call in ctx.outcome.api_calls:
            if call.error_type != ErrorType.BREAKER_OPEN.value and call.timestamp >= since:
                cycle_ms[call.instance].append(call.response_time_ms)
        for inst in ctx.config.instances:
            recorded = ctx.response_times.get(inst.name)
            mine = cycle_ms.get(inst.name, [])
            attempts = len(mine) + (recorded.attempts if recorded else 0)
            if attempts < MIN_ATTEMPTS:
                continue
            result.covered.add(inst.name)
            average = (sum(mine) + (recorded.total_ms if recorded else 0.0)) / attempts
            if average <= threshold:
                continue
            this_cycle = (
                f"; this cycle {sum(mine) / len(mine):,.0f} ms over {len(mine)}" if mine else ""
            )
            result.findings.append(
                Finding(
                    self.name,
                    self.severity,
                    inst.name,
                    inst.name,
                    f"{inst.name}: average response time {average:,.0f} ms over the last hour "
                    f"({attempts} attempts{this_cycle}) is above {threshold:,.0f} ms "
                    "(slow_response_ms): the upstream is slow or rate-limiting",
                )
            )
        return result
