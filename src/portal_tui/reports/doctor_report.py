"""The doctor's verdicts: a level per check, the report, and how it is printed.

Exit codes follow ``check``: 0 all good (ok or info), 1 warnings, 2 critical
problems, 3 unusable config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TextIO

from portal_tui.vocabulary.errors import ExitCode

DOCTOR_SCHEMA_VERSION = 1


class Level(StrEnum):
    """How bad one check's result is; the worst decides the exit code."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    UNUSABLE = "unusable"

    @property
    def rank(self) -> int:
        """Order of badness."""
        return list(Level).index(self)

    @property
    def exit_code(self) -> ExitCode:
        """The ``check`` convention."""
        return {
            Level.OK: ExitCode.OK,
            Level.INFO: ExitCode.OK,
            Level.WARNING: ExitCode.WARNING,
            Level.CRITICAL: ExitCode.CRITICAL,
            Level.UNUSABLE: ExitCode.UNKNOWN,
        }[self]

    @property
    def tag(self) -> str:
        """A word with a symbol, never colour alone."""
        return {
            Level.OK: "✓ ok",
            Level.INFO: "· info",
            Level.WARNING: "! warning",
            Level.CRITICAL: "✗ critical",
            Level.UNUSABLE: "? unusable",
        }[self]


@dataclass(slots=True)
class Check:
    """One check's verdict, a one-line summary and its details."""

    name: str
    level: Level
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DoctorReport:
    """Every check, in order."""

    checks: list[Check]

    @property
    def worst(self) -> Level:
        """The worst level found."""
        return max((c.level for c in self.checks), key=lambda lv: lv.rank, default=Level.OK)

    @property
    def exit_code(self) -> ExitCode:
        """0, 1, 2 or 3 as ``check``."""
        return self.worst.exit_code

    def to_json(self) -> dict[str, Any]:
        """The ``doctor --json`` document (schema :data:`DOCTOR_SCHEMA_VERSION`)."""
        return {
            "schema": DOCTOR_SCHEMA_VERSION,
            "status": self.exit_code.name,
            "exit_code": int(self.exit_code),
            "checks": [
                {
                    "check": c.name,
                    "level": c.level.value,
                    "summary": c.summary,
                    "details": c.details,
                }
                for c in self.checks
            ],
        }


def print_doctor(report: DoctorReport, out: TextIO) -> None:
    """Human text: one line per check, its details indented below."""
    out.write(f"portal-tui doctor: {report.exit_code.name}\n")
    for check in report.checks:
        out.write(f"\n[{check.level.tag}] {check.name}: {check.summary}\n")
        for line in check.details:
            out.write(f"    {line}\n")


def print_doctor_json(report: DoctorReport, out: TextIO) -> None:
    """The ``--json`` document."""
    json.dump(report.to_json(), out, indent=2)
    out.write("\n")
