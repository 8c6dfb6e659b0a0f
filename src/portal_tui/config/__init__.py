"""The TOML config: instances, the client registry, TTLs, retries, storage.

Every field is documented in :mod:`portal_tui.config.model` (instances in
:mod:`portal_tui.config.instances`) and in
``config.example.toml``. Secrets never live in the file: it names environment
variables and the tokens are read from the environment when the config is
resolved (:class:`Secrets`). A bad file raises
:class:`~portal_tui.vocabulary.errors.ConfigError` naming the file, key and line
(:mod:`portal_tui.config.loading`).
"""

from portal_tui.config.instances import (
    DEFAULT_MAX_RESPONSE_BYTES,
    InstanceConfig,
    is_loopback_host,
)
from portal_tui.config.loading import (
    CONFIG_ENV_VAR,
    find_config_path,
    load_config,
    parse_config,
)
from portal_tui.config.model import (
    DEFAULT_PRICING,
    BreakerConfig,
    ClientEntry,
    Config,
    PricingRule,
    RetryConfig,
    StorageConfig,
    TtlConfig,
)
from portal_tui.config.tokens import Secrets

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_PRICING",
    "BreakerConfig",
    "ClientEntry",
    "Config",
    "InstanceConfig",
    "PricingRule",
    "RetryConfig",
    "Secrets",
    "StorageConfig",
    "TtlConfig",
    "find_config_path",
    "is_loopback_host",
    "load_config",
    "parse_config",
]
