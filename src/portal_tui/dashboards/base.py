"""What every dashboard module shares: names, inputs, outcomes, validation issues.

A dashboard module (``kpi.py``, ``volume.py``, ...) holds its pydantic row
model, its computation, its warning rules and its declarations (title, tab
label, default TTL, columns, totals, dependencies) side by side, and exposes
one object satisfying :class:`Dashboard`. Adding a fifth dashboard is adding
one file and listing it in :mod:`portal_tui.dashboards.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portal_tui.config import Config
from portal_tui.dashboards.declaration import ColumnSpec, TotalsSpec
from portal_tui.dashboards.windows import ReportWindows
from portal_tui.upstream.endpoints import Endpoint
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

if TYPE_CHECKING:
    from portal_tui.dashboards.snapshot import DashboardSnapshot


@dataclass(frozen=True, slots=True)
class Need:
    """One request a dashboard needs per workspace.

    ``SENDER_EMAILS`` means the whole collection: the input is a
    :class:`MailboxCollection`, not a page.
    """

    endpoint: Endpoint
    params: tuple[tuple[str, str], ...] = ()


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
    """Revenue's reading of Infrastructure (filled by :meth:`Dashboard.prepare`)."""
    upstream: Mapping[DashboardName, DashboardSnapshot] = field(default_factory=dict)
    """The latest snapshot of each dashboard this one declares it depends on
    (this cycle's when it was computed in it, else the last one)."""


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
    """The contract of one dashboard module: what it declares, and what it computes."""

    name: DashboardName
    title: str
    """As shown on screen: ``Infrastructure``."""
    tab_label: str
    """The console's tab: ``Infra``."""
    default_ttl: float
    """Seconds its data counts as fresh unless ``[ttl]`` says otherwise."""
    columns: tuple[ColumnSpec, ...]
    """What the console's table shows, after the state and workspace columns."""
    totals: TotalsSpec
    """Its totals' kinds and the one line that describes them."""
    depends_on: tuple[DashboardName, ...]
    """Dashboards whose snapshot it reads: computed before it, handed over in
    :attr:`ComputeContext.upstream`."""
    row_model: type[R]

    def prepare(self, ctx: ComputeContext) -> ComputeContext:
        """The context its rows are computed in, made once per refresh (what it
        reads of :attr:`ComputeContext.upstream` goes here)."""
        ...

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
