"""The TOML config: instances, the client registry, TTLs, retries, storage.

Every field is documented here and in ``config.example.toml``. Secrets never
live in the file: it names environment variables and the tokens are read from
the environment when the config is resolved. A bad file raises
:class:`~portal_tui.vocabulary.errors.ConfigError` naming the file, key and line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from portal_tui.vocabulary import locations
from portal_tui.vocabulary.errors import ConfigError

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONFIG_ENV_VAR = "PORTAL_TUI_CONFIG"


class _Section(BaseModel):
    # defer_build: a section's schema is built once, inside Config's, not again at import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


_LITERAL_TOKEN_REFUSED = (
    "must be the NAME of an environment variable holding the token, not the token "
    "itself (literal tokens are refused: put it in the environment and name it here)"
)
SECRET_KEY_WORDS = ("token", "api_key", "apikey", "secret", "password", "bearer", "auth")
"""Words that mark a config key as an attempt to put a secret in the file."""


def looks_like_token(value: str) -> bool:
    """Whether ``value`` reads as a credential rather than an environment variable's name.

    Env var names are words (``EMAILBISON_MASTER_TOKEN``); tokens are long runs
    of mixed letters and digits (``sk_live_4eC39HqLy...``, hex, base62) or JWTs.
    """
    if value.startswith("eyJ"):
        return True
    for part in re.split(r"[_\-.]", value):
        if len(part) >= 16 and re.search(r"\d", part) and re.search(r"[A-Za-z]", part):
            return True
    mixed = re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"\d", value)
    return len(value) >= 24 and bool(mixed)


def _check_env_name(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not ENV_NAME.match(value) or looks_like_token(value):
        raise ValueError(_LITERAL_TOKEN_REFUSED)
    return value


class InstanceConfig(_Section):
    """One Email Bison instance (a base URL and its master token)."""

    name: str = Field(min_length=1, description="Short name used in the registry and on screen.")
    base_url: str = Field(description="API root, e.g. https://send.example.com/api")
    master_token_env: str | None = Field(
        default=None, description="Environment variable holding the super-admin token."
    )
    concurrency: int = Field(default=5, ge=1, le=256, description="In-flight requests at most.")
    attempt_timeout: float = Field(default=45.0, gt=0, description="Seconds per attempt.")
    request_deadline: float = Field(
        default=120.0, gt=0, description="Seconds per request, all attempts."
    )
    requests_per_second: float = Field(default=0.0, ge=0, description="Request rate cap; 0 = none.")
    sender_emails_per_page: int = Field(
        default=15, ge=1, le=1000, description="per_page for sender-emails."
    )
    verify_tls: bool = Field(
        default=True, description="Verify TLS certificates. Off is shown on screen."
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(
                "must be an http:// or https:// URL such as https://send.example.com/api"
            )
        if "@" in value.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("must not carry credentials; name a token env var instead")
        if "?" in value or "#" in value:
            # A token in a query string would travel in every URL, log line and error.
            raise ValueError(
                "must not carry a query string or fragment (tokens never go in the URL; "
                "name a token env var with master_token_env instead)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _timeouts(self) -> InstanceConfig:
        if self.attempt_timeout > self.request_deadline:
            raise ValueError(
                f"attempt_timeout ({self.attempt_timeout:g} s) is longer than request_deadline "
                f"({self.request_deadline:g} s): no attempt could ever time out on its own, "
                "so retries and the circuit breaker would never see a timeout"
            )
        return self

    @field_validator("master_token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return _check_env_name(value)


class ClientEntry(_Section):
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
        return _check_env_name(value)


class TtlConfig(_Section):
    """Cache lifetimes per dashboard, in seconds."""

    kpi: float = Field(default=120.0, gt=0)
    volume: float = Field(default=120.0, gt=0)
    revenue: float = Field(default=300.0, gt=0)
    infrastructure: float = Field(default=600.0, gt=0)
    max_staleness: float = Field(default=3600.0, gt=0, description="Oldest data served on failure.")

    @model_validator(mode="after")
    def _within_staleness(self) -> TtlConfig:
        for name in ("kpi", "volume", "revenue", "infrastructure"):
            if getattr(self, name) > self.max_staleness:
                raise ValueError(
                    f"{name} TTL ({getattr(self, name):g} s) is longer than max_staleness "
                    f"({self.max_staleness:g} s): data would count as fresh after it may no "
                    "longer be served"
                )
        return self


class RetryConfig(_Section):
    """Retry policy (SPEC section 4)."""

    attempts: int = Field(default=4, ge=1, le=20, description="Attempts in all (1 + retries).")
    backoff_initial: float = Field(default=1.0, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    backoff_max: float = Field(default=10.0, ge=0)
    jitter: float = Field(default=1.0, ge=0, description="Up to this many seconds added at random.")
    retry_after_cap: float = Field(default=60.0, ge=0, description="Longest Retry-After honoured.")


class BreakerConfig(_Section):
    """Circuit breaker per instance."""

    failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive health failures to open."
    )
    reset_timeout: float = Field(default=30.0, gt=0, description="Seconds open before one probe.")


class StorageConfig(_Section):
    """The local SQLite file."""

    path: Path | None = Field(default=None, description="Default: the user data dir.")
    retention_days: float = Field(default=30.0, gt=0)
    resolved_retention_days: float = Field(default=90.0, gt=0)


class SharedConfig(_Section):
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
        return _check_env_name(value)


class PricingRule(_Section):
    """Price of a mailbox by reseller tag."""

    tag: str = Field(min_length=1, description="Reseller tag name (case-insensitive).")
    price: float = Field(ge=0, description="Monthly price.")
    per: Literal["mailbox", "domain"] = Field(
        default="mailbox", description="'domain': the price is shared by the domain's mailboxes."
    )
    with_any_tag: list[str] = Field(
        default_factory=list, description="Also requires one of these tags (e.g. healthy, warming)."
    )


DEFAULT_PRICING: tuple[PricingRule, ...] = (
    PricingRule(tag="CheapInboxes", price=3.0),
    PricingRule(tag="Zapmail", price=3.0),
    PricingRule(tag="Mailr", price=0.91),
    PricingRule(tag="ScaledMail", price=50.0, per="domain"),
    PricingRule(tag="Google", price=3.0, with_any_tag=["healthy", "warming"]),
)


class Config(_Section):
    """The whole config file."""

    reporting_timezone: str = Field(default="UTC", description="IANA zone for date windows.")
    auto_refresh: bool = Field(default=True, description="Console revalidates on TTL lapse.")
    instances: list[InstanceConfig] = Field(default_factory=list)
    clients: list[ClientEntry] = Field(default_factory=list)
    ttl: TtlConfig = TtlConfig()
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()
    storage: StorageConfig = StorageConfig()
    shared: SharedConfig = SharedConfig()
    pricing: list[PricingRule] = Field(default_factory=lambda: list(DEFAULT_PRICING))

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


class Secrets:
    """Tokens resolved from the environment, kept out of reprs and logs."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env

    def get(self, name: str | None) -> SecretStr | None:
        """The token held by environment variable ``name``, or None."""
        if not name:
            return None
        value = self._env.get(name)
        return SecretStr(value) if value else None

    def missing(self, config: Config) -> list[str]:
        """Environment variables the config names that are unset or empty."""
        wanted = [i.master_token_env for i in config.instances]
        wanted += [c.api_key_env for c in config.clients if c.enabled]
        return sorted({n for n in wanted if n and not self._env.get(n)})

    def token_values(self, config: Config) -> list[str]:
        """The values of every token variable ``config`` names (for redaction)."""
        names = [i.master_token_env for i in config.instances]
        names += [c.api_key_env for c in config.clients]
        names.append(config.shared.redis_password_env)
        return sorted({v for n in names if n and (v := self._env.get(n))})


def find_config_path(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path | None:
    """Where the config is: ``--config``, else ``$PORTAL_TUI_CONFIG``, else the user config dir."""
    environ = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV_VAR):
        return Path(environ[CONFIG_ENV_VAR])
    default = locations.default_config_path()
    return default if default.exists() else None


def load_config(path: Path, *, secrets: Secrets | None = None, check_env: bool = True) -> Config:
    """Read, parse and validate ``path``.

    With ``check_env``, every token environment variable the config names
    must be set. Raises :class:`ConfigError` with file, key and line.
    """
    shown = str(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # A FIFO or device would block the read forever (a cron check that never ends).
        raise ConfigError("is not a regular file (a FIFO, socket or device?)", path=shown)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=shown) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", path=shown) from None
    except PermissionError:
        raise ConfigError("permission denied reading the config file", path=shown) from None
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", path=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=shown) from None
    config = parse_config(text, source=shown)
    if check_env:
        missing = (secrets or Secrets()).missing(config)
        if missing:
            key, line = _locate_env_reference(text, missing[0])
            raise ConfigError(
                f"environment variable {missing[0]} is not set (it should hold a token)",
                path=shown,
                key=key,
                line=line,
            )
    return config


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Parse TOML text into a :class:`Config`, mapping errors to file, key and line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(f"TOML syntax error: {detail}", path=source, line=line) from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        key = ".".join(str(p) for p in loc) or None
        line = _locate(text, loc)
        message = first["msg"]
        if first["type"] == "extra_forbidden" and _names_a_secret(str(loc[-1]) if loc else ""):
            message = (
                "unknown key: tokens never live in the config file (it gets copied, shared "
                "and left world-readable). Put the token in an environment variable and name "
                "that variable with master_token_env or api_key_env"
            )
        elif first["type"] == "extra_forbidden":
            message = "unknown key (see config.example.toml for every key)"
        elif first["type"] == "missing":
            message = "required key is missing"
        elif "input" in first and first["type"] not in ("value_error", "assertion_error"):
            message = f"{message} (got {_short(first['input'])})"
        message = message.removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ConfigError(message, path=source, key=key, line=line) from None


def _names_a_secret(key: str) -> bool:
    """Whether an unknown key looks like an attempt to put a token in the file."""
    folded = key.casefold()
    return not folded.endswith("_env") and any(word in folded for word in SECRET_KEY_WORDS)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _locate(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of the key at pydantic location ``loc`` in TOML ``text``."""
    lines = text.splitlines()
    table: list[str] = []
    counters: dict[str, int] = {}
    table_index: list[int | None] = []
    # Record, for each line, the table path and array index it belongs to.
    owners: list[tuple[tuple[str, ...], int | None]] = []
    for raw in lines:
        header = _HEADER.match(raw)
        if header:
            name = header.group(1).replace('"', "").replace("'", "")
            table = [p.strip() for p in name.split(".")]
            if raw.strip().startswith("[["):
                counters[name] = counters.get(name, -1) + 1
                table_index = [counters[name]]
            else:
                table_index = [None]
        owners.append((tuple(table), table_index[0] if table_index else None))

    path = [p for p in loc if isinstance(p, str)]
    index = next((p for p in loc if isinstance(p, int)), None)
    # Try the longest table prefix first, then the key inside it.
    for split in range(len(path), -1, -1):
        want_table, rest = tuple(path[:split]), path[split:]
        key = rest[0] if rest else None
        for number, (owner, owner_index) in enumerate(owners):
            if owner != want_table:
                continue
            if index is not None and owner_index is not None and owner_index != index:
                continue
            stripped = lines[number].strip()
            if key is None and _HEADER.match(lines[number]):
                return number + 1
            if key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
                return number + 1
    return None


def _locate_env_reference(text: str, env_name: str) -> tuple[str | None, int | None]:
    for number, raw in enumerate(text.splitlines(), start=1):
        match = re.match(r"^\s*([A-Za-z_]+)\s*=\s*[\"']" + re.escape(env_name) + r"[\"']", raw)
        if match:
            return match.group(1), number
    return None, None
