"""What every dashboard module shares: names, inputs, outcomes, validation issues.

A dashboard module (``kpi.py``, ``volume.py``, ...) holds its pydantic row
model, its computation and its warning rules side by side, and exposes one
object satisfying :class:`Dashboard`. Adding a fifth dashboard is adding one
file and listing it in :mod:`portal_tui.dashboards.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portal_tui.config import ClientEntry, Config
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.fetch.requests import Endpoint
from portal_tui.upstream.models import PageMeta, SenderEmail


class DashboardName(StrEnum):
    """The four dashboards, in the console's pane order."""

    KPI = "kpi"
    VOLUME = "volume"
    REVENUE = "revenue"
    INFRASTRUCTURE = "infrastructure"

    @property
    def display_name(self) -> str:
        """Name as shown on screen."""
        return "KPI" if self is DashboardName.KPI else self.value.capitalize()


class Severity(StrEnum):
    """Severity of a validation issue or consistency finding."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class ValidationErrorType(StrEnum):
    """``error_type`` of ``data_validation_errors``."""

    MISSING_FIELD = "missing_field"
    INVALID_TYPE = "invalid_type"
    RANGE_ERROR = "range_error"
    SCHEMA_MISMATCH = "schema_mismatch"


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """A workspace as the cycle knows it: where it lives and its registry entry, if any."""

    instance: str
    id: int
    name: str
    registry: ClientEntry | None = None

    @property
    def key(self) -> tuple[str, int]:
        """Identity across instances: ``(instance, id)``."""
        return (self.instance, self.id)


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


@dataclass(frozen=True, slots=True)
class Need:
    """One request a dashboard needs per workspace.

    ``SENDER_EMAILS`` means the whole collection: the input is a
    :class:`MailboxCollection`, not a page.
    """

    endpoint: Endpoint
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxCollection:
    """Every sender email of one workspace, as gathered from all pages."""

    mailboxes: Sequence[SenderEmail]
    meta: PageMeta | None
    pages_fetched: int
    # Things the pages said that do not add up (a looping links.next, a page
    # that claims another number); the data may still be whole.
    anomalies: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every page arrived and the count matches ``meta.total``."""
        if self.meta is None:
            return True
        return self.pages_fetched >= self.meta.last_page and len(self.mailboxes) == self.meta.total


@dataclass(frozen=True, slots=True)
class MailboxCost:
    """Mailbox costs of one workspace from the latest Infrastructure data."""

    amount: float
    as_of: datetime | None
    needs_review: int = 0  # mailboxes whose price is unknown


@dataclass(frozen=True, slots=True)
class ComputeContext:
    """Everything a dashboard computation may read besides its own inputs."""

    windows: ReportWindows
    config: Config
    now: datetime
    mailbox_costs: Mapping[tuple[str, int], MailboxCost] = field(default_factory=dict)


class WorkspaceRow(BaseModel):
    """Base of every dashboard row: which workspace it describes."""

    # defer_build: each row model is built when first used, not at import.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)

    instance: str = Field(min_length=1, description="Instance name.")
    workspace_id: int = Field(ge=1, description="Workspace id on its instance.")
    workspace: str = Field(min_length=1, description="Workspace name.")

    @property
    def key(self) -> tuple[str, int]:
        """``(instance, workspace_id)``, as :attr:`WorkspaceRef.key`."""
        return (self.instance, self.workspace_id)


R = TypeVar("R", bound=WorkspaceRow)


@dataclass(slots=True)
class RowOutcome(Generic[R]):
    """One workspace's result: a row, or None when it was excluded, with reasons."""

    row: R | None
    warnings: list[str] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """Totals across rows, plus warnings that need every row (duplicates, ranking)."""

    totals: dict[str, Any] = field(default_factory=dict)
    # workspace name -> extra warnings found only by looking across workspaces
    warnings: dict[str, list[str]] = field(default_factory=dict)


class Dashboard(Protocol[R]):
    """The contract of one dashboard module."""

    name: DashboardName
    row_model: type[R]

    def needs(self, windows: ReportWindows) -> Mapping[str, Need]:
        """Requests needed per workspace, by input label (e.g. ``stats_mtd``)."""
        ...

    def compute(
        self, workspace: WorkspaceRef, inputs: Mapping[str, Any], ctx: ComputeContext
    ) -> RowOutcome[R]:
        """One workspace's row from its validated inputs (labels as in :meth:`needs`)."""
        ...

    def summarize(self, rows: Sequence[R], ctx: ComputeContext) -> Summary:
        """Totals and cross-workspace warnings."""
        ...

    def rank(self, rows: Sequence[R]) -> list[R]:
        """Rows in display order."""
        ...


def issues_from_validation_error(
    exc: ValidationError,
    *,
    dashboard: DashboardName,
    workspace: str,
    prefix: str = "",
    severity: Severity = Severity.ERROR,
) -> list[ValidationIssue]:
    """One :class:`ValidationIssue` per failing field of a pydantic error."""
    issues: list[ValidationIssue] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        field_name = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        kind = error["type"]
        if kind == "missing":
            error_type = ValidationErrorType.MISSING_FIELD
        elif kind in _RANGE_TYPES:
            error_type = ValidationErrorType.RANGE_ERROR
        elif kind.endswith("_type") or kind.endswith("_parsing") or kind in _TYPE_TYPES:
            error_type = ValidationErrorType.INVALID_TYPE
        else:
            error_type = ValidationErrorType.SCHEMA_MISMATCH
        ctx = error.get("ctx") or {}
        expected = _expected(kind, ctx)
        actual = "" if kind == "missing" else _short(error.get("input"))
        issues.append(
            ValidationIssue(
                dashboard=dashboard,
                workspace=workspace,
                error_type=error_type,
                field_name=field_name,
                expected=expected,
                actual=actual,
                message=f"{field_name}: {error['msg']}",
                severity=severity,
            )
        )
    return issues


_RANGE_TYPES = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "finite_number",
}
_TYPE_TYPES = {"model_type", "model_attributes_type", "dict_type", "list_type", "is_instance_of"}


def _expected(kind: str, ctx: Mapping[str, Any]) -> str:
    if kind == "missing":
        return "present"
    if kind == "finite_number":
        return "a finite number"
    for op, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if op in ctx:
            return f"{symbol} {ctx[op]}"
    if kind.startswith("int"):
        return "integer"
    if kind.startswith("float"):
        return "number"
    if kind.startswith("string"):
        return "string"
    if kind.startswith("bool"):
        return "boolean"
    if kind in ("list_type",):
        return "list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "object"
    return kind


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


M = TypeVar("M")


def read_input(
    inputs: Mapping[str, Any],
    label: str,
    model: type[M],
    *,
    dashboard: DashboardName,
    workspace: str,
) -> tuple[M | None, list[ValidationIssue]]:
    """Input ``label`` as a ``model``, or None with the issues that stop it.

    The cycle passes payloads already parsed; a raw mapping (a test, a
    snapshot) is parsed here and its field errors carry the label as prefix
    (``stats_mtd.data.interested``). A missing label is a missing field.
    """
    if label not in inputs:
        issue = ValidationIssue(
            dashboard=dashboard,
            workspace=workspace,
            error_type=ValidationErrorType.MISSING_FIELD,
            field_name=label,
            expected="present",
            actual="",
            message=f"{label}: input missing",
        )
        return None, [issue]
    value = inputs[label]
    if isinstance(value, model):
        return value, []
    if issubclass(model, BaseModel):
        try:
            return model.model_validate(value), []
        except ValidationError as exc:
            return None, issues_from_validation_error(
                exc, dashboard=dashboard, workspace=workspace, prefix=label
            )
    issue = ValidationIssue(
        dashboard=dashboard,
        workspace=workspace,
        error_type=ValidationErrorType.SCHEMA_MISMATCH,
        field_name=label,
        expected=model.__name__,
        actual=type(value).__name__,
        message=f"{label}: expected {model.__name__}, got {type(value).__name__}",
    )
    return None, [issue]
