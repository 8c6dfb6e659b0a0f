"""Tokens resolved from the environment: the config names variables, never values."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from portal_tui.config.model import Config


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

    def alert_urls(self, config: Config) -> dict[str, str]:
        """The alert targets' URLs held by the env vars the config names (set ones only)."""
        names = [a.url_env for a in config.alerts if a.url_env]
        return {n: v for n in names if (v := self._env.get(n))}

    def token_values(self, config: Config) -> list[str]:
        """The values of every token variable ``config`` names (for redaction)."""
        names = [i.master_token_env for i in config.instances]
        names += [c.api_key_env for c in config.clients]
        names.append(config.shared.redis_password_env)
        names += [a.url_env for a in config.alerts]  # an alert URL may hold a webhook secret
        return sorted({v for n in names if n and (v := self._env.get(n))})
