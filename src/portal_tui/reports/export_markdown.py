"""The incident report as Markdown that pastes well into Slack, Teams or an issue.

Chat clients disagree on Markdown, so this uses the subset they all read:
``*emphasis*`` section titles (bold in Slack, italic elsewhere, never a ``#``
shown raw), ``-`` bullet lists, code spans for ids, names and addresses, and
one fenced block for the dashboard table (monospace everywhere, so its
columns line up). Lines stay short; long lists are cut with a count and a
pointer to ``--format json``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from portal_tui.dashboards.registry import title_of
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.timespan import describe_span

MAX_TEXT = 160
LIMITS = {"failing": 25, "findings": 30, "validation": 20, "timeline": 40}


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(text: object) -> str:
    """A code span that survives backticks inside the text."""
    inner = str(text).replace("`", "'")
    return f"`{inner}`"


def _when(value: str | None, now: datetime) -> str:
    """``12:03:07Z`` today, ``11-20 23:59Z`` another day, ``—`` when unknown."""
    if not value:
        return "—"
    at = datetime.fromisoformat(value).astimezone(now.tzinfo)
    if at.date() == now.date():
        return f"{at:%H:%M:%S}Z"
    return f"{at:%m-%d %H:%M}Z"


def _more(shown: int, total: int) -> list[str]:
    if total <= shown:
        return []
    return [f"- … and {total - shown} more (see `--format json`)"]


def render_markdown(report: dict[str, Any]) -> str:
    """The report as chat-friendly Markdown text."""
    now = datetime.fromisoformat(report["generated_at"])
    window = describe_span_seconds(report["window_seconds"])
    health = report["health"]
    demo = " [DEMO]" if report["demo"] else ""
    lines = [
        f"*portal-tui incident report*{demo}: {now:%Y-%m-%d %H:%M}Z, window last {window}",
        f"*Health {health['score']}/100 ({health['status']})*",
        *(f"- {_short(reason)}" for reason in health["reasons"]),
        "",
        "*Dashboards*",
        "```",
        f"{'DASHBOARD':<15} {'STATE':<24} {'AGE':>7} {'ROWS':>5}  STATUS",
    ]
    for name, board in report["dashboards"].items():
        lines.append(
            f"{title_of(name):<15} {board['label']:<24} "
            f"{format_age(board['age_seconds']):>7} {board['rows']:>5}  {board['status']}"
        )
    lines.append("```")
    errors = [
        f"- {title_of(n)} in error: {_short(b['error'])}"
        for n, b in report["dashboards"].items()
        if b["error"] and b["status"] == "error"
    ]
    lines += errors
    lines += ["", *_failing(report, now), "", *_findings(report, now), ""]
    lines += [*_validation(report), "", *_api(report, window), "", *_timeline(report, now, window)]
    lines += _alerts(report, now)
    database = report["database"]
    lines += [
        "",
        f"_from {_code(database['path'])} (records schema {database['schema_version']}), "
        f"report schema {report['schema']}_",
    ]
    return "\n".join(lines).rstrip() + "\n"


def describe_span_seconds(seconds: float) -> str:
    """``1h`` for 3600 seconds."""
    return describe_span(timedelta(seconds=seconds))


def _failing(report: dict[str, Any], now: datetime) -> list[str]:
    failing = report["failing_workspaces"]
    if not failing:
        return ["*Failing workspaces*: none in the latest snapshots"]
    lines = [f"*Failing workspaces ({len(failing)})*"]
    for f in failing[: LIMITS["failing"]]:
        who = (
            _code(f"{f['instance']}/{f['workspace']}")
            if f["workspace"]
            else (f"instance {_code(f['instance'])}")
        )
        label = f"{f['error_type']} {f['status_code']}" if f["status_code"] else f["error_type"]
        extra = [f"since {_when(f['since'], now)}" if f["since"] else "from the API log"]
        if f["failed_calls"]:
            extra.append(f"{f['failed_calls']} failed calls")
        if f["state"]:
            extra.append(f["state"])
        lines.append(
            f"- {who} ({', '.join(f['dashboards']) or 'no snapshot'}): {label}: "
            f"{_short(f['message'], 100)} "
            f"({', '.join(extra)})"
        )
    return lines + _more(LIMITS["failing"], len(failing))


def _alerts(report: dict[str, Any], now: datetime) -> list[str]:
    """Alert events of the window whose delivery failed or is pending (none: no section)."""
    events = report.get("alerts") or []
    troubled = [e for e in events if e["delivered_at"] is None or e["last_error"]]
    if not events:
        return []
    lines = ["", f"*Alerts ({len(events)} raised, {len(troubled)} with delivery trouble)*"]
    for e in troubled[: LIMITS["findings"]]:
        state = "delivered" if e["delivered_at"] else "NOT delivered"
        error = f"; last error: {_short(e['last_error'], 110)}" if e["last_error"] else ""
        lines.append(
            f"- {_short(e['title'], 110)} ({_when(e['at'], now)}): {state} after "
            f"{e['attempts']} attempt(s){error}"
        )
    return lines + _more(LIMITS["findings"], len(troubled))


def _findings(report: dict[str, Any], now: datetime) -> list[str]:
    findings = report["consistency_findings"]
    if not findings:
        return ["*Consistency findings*: none open"]
    lines = [f"*Consistency findings ({len(findings)} open)*"]
    for f in findings[: LIMITS["findings"]]:
        ack = f.get("acknowledged")
        acked = f" — acknowledged by {ack['by']}: {_short(ack['note'], 80)}" if ack else ""
        lines.append(
            f"- [{f['severity']}] {_code(f['rule'])} {_code(f['subject'])}: "
            f"{_short(f['message'], 110)} (since {_when(f['first_seen'], now)}, "
            f"×{f['occurrences']}){acked}"
        )
    return lines + _more(LIMITS["findings"], len(findings))


def _validation(report: dict[str, Any]) -> list[str]:
    errors = report["validation_errors"]
    if not errors:
        return ["*Validation errors*: none open"]
    lines = [f"*Validation errors ({len(errors)} open)*"]
    for v in errors[: LIMITS["validation"]]:
        lines.append(
            f"- [{v['severity']}] {v['dashboard']} {_code(v['workspace'])} {_code(v['field'])}: "
            f"{_short(v['message'], 100)} (×{v['occurrences']})"
        )
    return lines + _more(LIMITS["validation"], len(errors))


def _api(report: dict[str, Any], window: str) -> list[str]:
    api = report["api"]
    lines = [f"*API calls, last {window}*: {api['calls']} attempts, {api['failed']} failed"]
    for inst in api["by_instance"]:
        kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(inst["errors"].items()))
        lines.append(
            f"- {_code(inst['instance'])}: {inst['calls']} attempts, {inst['failed']} failed"
            + (f": {kinds}" if kinds else "")
        )
    return lines


def _timeline(report: dict[str, Any], now: datetime, window: str) -> list[str]:
    events = report["timeline"]
    if not events:
        return [f"*Timeline, last {window}*: nothing recorded"]
    shown = events[-LIMITS["timeline"] :]
    lines = [f"*Timeline, last {window}* ({len(events)} events, oldest first)"]
    if len(events) > len(shown):
        lines.append(f"- … {len(events) - len(shown)} earlier events (see `--format json`)")
    for e in shown:
        lines.append(f"- {_when(e['at'], now)} {e['kind']}: {_short(e['text'], 120)}")
    return lines
