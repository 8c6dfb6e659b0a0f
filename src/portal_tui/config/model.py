"""The config's shape: pydantic sections for the registry, TTLs, retries, storage, and
the whole :class:`Config` (instances are :mod:`portal_tui.config.instances`).

Every field is documented here and in ``config.example.toml``. Types are
strict (:class:`~portal_tui.config.section.Section`): a number is a TOML number
(``true`` is not 1, ``"5"`` is not 5) and a switch is a TOML boolean (``0`` is
not false).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from portal_tui.config.env_names import check_env_name
from portal_tui.config.instances import InstanceConfig
from portal_tui.config.section import Section
from portal_tui.vocabulary import locations


class ClientEntry(Section):
    """One client of the agency: targets and billing for a workspace (SPEC section 2)."""

    name: str = Field(min_length=1, description="Workspace name (matched case-insensitively).")
    id: int | None = Field(default=None, description="Workspace id; matched before the name.")
    instance: str | None = Field(default=None, description="Instance name; default the first.")
    monthly_kpi: int = Field(default=0, ge=0, description="Interested leads per month.")
    monthly_sending_target: int = Field(default=0, ge=0, description="Emails per month.")
    billing_type: Literal["per_lead", "retainer"] = "per_lead"
    price_per_lead: float = Field(default=0.0, ge=0)
    retainer_amount: float = Field(default=0.0, ge=0)
    monthly_costs: float = Field(default=0.0, ge=0, description="Fixed monthly costs.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding this workspace's api-user token."
    )
    enabled: bool = True

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return check_env_name(value)


class TtlConfig(Section):
    """Cache lifetimes per dashboard, in seconds: ``name = seconds``, plus ``max_staleness``.

    The config sits below the dashboards, so it does not know their names or
    default TTLs: whoever knows the registry passes them as ``dashboard_ttls``
    to :func:`load_config` / :func:`parse_config` (validation context
    ``{"dashboard_ttls": {name: default}}``). Then an unknown name is refused
    with its key and line, and every TTL, set or default, is checked against
    ``max_staleness``. Without it only the values given are checked.
    """

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    __pydantic_extra__: dict[str, Annotated[float, Field(gt=0)]] = Field(init=False)

    max_staleness: float = Field(default=3600.0, gt=0, description="Oldest data served on failure.")

    def seconds(self, name: str, default: float) -> float:
        """The TTL set for dashboard ``name``, else ``default`` (its declared one)."""
        return float((self.__pydantic_extra__ or {}).get(name, default))

    @model_validator(mode="before")
    @classmethod
    def _numbers_only(cls, data: Any) -> Any:
        # The strict-scalars rule of every section, for the dashboards' own keys too.
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, (bool, str)):
                    shown = str(value).lower() if isinstance(value, bool) else repr(value)
                    raise ValidationError.from_exception_data(
                        "TtlConfig",
                        [
                            InitErrorDetails(
                                type=PydanticCustomError(
                                    "value_error", "must be a number, not {shown}", {"shown": shown}
                                ),
                                loc=(name,),
                                input=value,
                            )
                        ],
                    )
        return data

    @model_validator(mode="after")
    def _known_and_within_staleness(self, info: ValidationInfo) -> TtlConfig:
        given = dict(self.__pydantic_extra__ or {})
        context = info.context if isinstance(info.context, Mapping) else {}
        defaults: Mapping[str, float] | None = context.get("dashboard_ttls")
        if defaults is not None:
            unknown = [name for name in given if name not in defaults]
            if unknown:
                raise ValidationError.from_exception_data(
                    "TtlConfig",
                    [
                        InitErrorDetails(
                            type=PydanticCustomError("extra_forbidden", "unknown dashboard"),
                            loc=(unknown[0],),
                            input=given[unknown[0]],
                        )
                    ],
                )
            given = {name: given.get(name, default) for name, default in defaults.items()}
        for name, seconds in given.items():
            if seconds > self.max_staleness:
                raise ValueError(
                    f"{name} TTL ({seconds:g} s) is longer than max_staleness "
                    f"({self.max_staleness:g} s): data would count as fresh after it may no "
                    "longer be served"
                )
        return self


class RetryConfig(Section):
    """Retry policy (SPEC section 4)."""

    attempts: int = Field(default=4, ge=1, le=20, description="Attempts in all (1 + retries).")
    backoff_initial: float = Field(default=1.0, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    backoff_max: float = Field(default=10.0, ge=0)
    jitter: float = Field(default=1.0, ge=0, description="Up to this many seconds added at random.")
    retry_after_cap: float = Field(default=60.0, ge=0, description="Longest Retry-After honoured.")


class BreakerConfig(Section):
    """Circuit breaker per instance."""

    failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive health failures to open."
    )
    reset_timeout: float = Field(default=30.0, gt=0, description="Seconds open before one probe.")


class StorageConfig(Section):
    """The local SQLite file."""

    path: Path | None = Field(default=None, description="Default: the user data dir.")
    retention_days: float = Field(default=30.0, gt=0)
    resolved_retention_days: float = Field(default=90.0, gt=0)
    raw_attempts_hours: float = Field(
        default=48.0,
        gt=0,
        description="Hours each API attempt is kept as a row before it is rolled up per hour.",
    )


class ConsistencyConfig(Section):
    """Thresholds of the consistency rules that compare one cycle with the earlier ones."""

    mailbox_drop_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of a workspace's mailboxes that may vanish between cycles "
        "before it is a finding (0.5: losing more than half).",
    )
    workspace_drop_ratio: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Share of an instance's listed workspaces that may vanish between "
        "cycles before it is a finding.",
    )
    slow_response_ms: float = Field(
        default=2000.0,
        gt=0,
        description="Average response time over the last hour above which an instance "
        "is reported slow (the portal's own 'slow or rate-limited' mark).",
    )


class SharedConfig(Section):
    """The shared tier: N consoles and checks, each distinct request fetched once.

    Processes on one records file always share through it (SQLite leases).
    ``redis_url`` extends that to processes on many machines; Redis is an
    accelerator: when it is down or slow each process fetches for itself.
    """

    enabled: bool = Field(
        default=True, description="Share responses and the master-token lock at all."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis:// or rediss:// URL (no password in it: see redis_password_env).",
    )
    redis_password_env: str | None = Field(
        default=None, description="Environment variable holding the Redis password."
    )
    redis_timeout: float = Field(
        default=0.5, gt=0, le=10, description="Seconds a Redis call may take before fallback."
    )
    lease_seconds: float = Field(
        default=15.0, ge=1, le=600, description="A lease's life; its holder renews it."
    )
    poll_interval: float = Field(
        default=0.05, gt=0, le=5, description="Seconds between looks at a lease waited on."
    )

    @field_validator("redis_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        if parts.password:
            raise ValueError(
                "must not hold a password: name an environment variable holding it with "
                "redis_password_env instead"
            )
        return value

    @field_validator("redis_password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return check_env_name(value)


class PricingRule(Section):
    """Price of a mailbox by reseller tag."""

    tag: str = Field(min_length=1, description="Reseller tag name (case-insensitive).")
    price: float = Field(ge=0, description="Monthly price.")
    per: Literal["mailbox", "domain"] = Field(
        default="mailbox", description="'domain': the price is shared by the domain's mailboxes."
    )
    with_any_tag: list[str] = Field(
        default_factory=list, description="Also requires one of these tags (e.g. healthy, warming)."
    )


from portal_tui.config.alerts import AlertTarget  # noqa: E402 - needs _Section above

DEFAULT_PRICING: tuple[PricingRule, ...] = (
    PricingRule(tag="CheapInboxes", price=3.0),
    PricingRule(tag="Zapmail", price=3.0),
    PricingRule(tag="Mailr", price=0.91),
    PricingRule(tag="ScaledMail", price=50.0, per="domain"),
    PricingRule(tag="Google", price=3.0, with_any_tag=["healthy", "warming"]),
)


class Config(Section):
    """The whole config file."""

    reporting_timezone: str = Field(default="UTC", description="IANA zone for date windows.")
    auto_refresh: bool = Field(default=True, description="Console revalidates on TTL lapse.")
    instances: list[InstanceConfig] = Field(default_factory=list)
    clients: list[ClientEntry] = Field(default_factory=list)
    ttl: TtlConfig = TtlConfig()
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()
    storage: StorageConfig = StorageConfig()
    consistency: ConsistencyConfig = ConsistencyConfig()
    shared: SharedConfig = SharedConfig()
    pricing: list[PricingRule] = Field(default_factory=lambda: list(DEFAULT_PRICING))
    alerts: list[AlertTarget] = Field(default_factory=list)

    @field_validator("reporting_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/London)"
            ) from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        names = [i.name for i in self.instances]
        if len(set(names)) != len(names):
            raise ValueError("instance names must be unique")
        for client in self.clients:
            if client.instance is not None and client.instance not in names:
                raise ValueError(
                    f"client {client.name!r} names instance {client.instance!r}, "
                    "which is not configured"
                )
        labels = [a.label for a in self.alerts]
        if len(set(labels)) != len(labels):
            raise ValueError("[[alerts]] entries need distinct names (set name = ...)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The reporting time zone."""
        return ZoneInfo(self.reporting_timezone)

    def storage_path(self) -> Path:
        """Where the SQLite file lives."""
        return self.storage.path or locations.default_database_path()

    def clients_for(self, instance: str) -> list[ClientEntry]:
        """Registry entries of one instance (entries without ``instance`` go to the first)."""
        first = self.instances[0].name if self.instances else None
        return [c for c in self.clients if (c.instance or first) == instance]
