"""A field that failed validation, as every layer reports and records it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portal_tui.vocabulary.names import DashboardName, Severity


class ValidationErrorType(StrEnum):
    """``error_type`` of ``data_validation_errors``."""

    MISSING_FIELD = "missing_field"
    INVALID_TYPE = "invalid_type"
    RANGE_ERROR = "range_error"
    SCHEMA_MISMATCH = "schema_mismatch"


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One field that failed validation, for ``data_validation_errors``."""

    dashboard: DashboardName
    workspace: str
    error_type: ValidationErrorType
    field_name: str
    expected: str
    actual: str
    message: str
    severity: Severity = Severity.ERROR
