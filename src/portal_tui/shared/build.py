"""The shared tier a process uses, from the ``[shared]`` config and its records file."""

from __future__ import annotations

from pathlib import Path

from portal_tui.config import Config, Secrets
from portal_tui.shared.loads import SharedLoads, holder_id
from portal_tui.shared.sqlite_tier import SqliteTier
from portal_tui.store.redaction import Redactor
from portal_tui.vocabulary.clock import Clock


def build_shared(config: Config, path: Path, clock: Clock, secrets: Secrets) -> SharedLoads:
    """The records file at ``path`` as the tier (its master-token locks through a
    connection of their own), or Redis when ``redis_url`` is set (the file then
    holds the master-token locks while Redis is down)."""
    settings = config.shared
    redactor = Redactor(secrets.token_values(config))
    holder = holder_id()

    def records_file() -> SqliteTier:
        return SqliteTier(
            path,
            clock,
            holder=holder,
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.poll_interval,
            max_staleness=config.ttl.max_staleness,
            redactor=redactor,
        )

    if not settings.redis_url:
        return SharedLoads(
            records_file(),
            clock,
            instances={i.name: i for i in config.instances},
            lease_seconds=settings.lease_seconds,
            redactor=redactor,
            locks=None,
        )
    from portal_tui.shared.redis_tier import RedisTier

    password = secrets.get(settings.redis_password_env)
    tier = RedisTier(
        settings.redis_url,
        clock,
        holder=holder,
        password=password.get_secret_value() if password else None,
        timeout=settings.redis_timeout,
        lease_seconds=settings.lease_seconds,
        poll_interval=max(settings.poll_interval, 0.25),
        max_staleness=config.ttl.max_staleness,
    )
    return SharedLoads(
        tier,
        clock,
        instances={i.name: i for i in config.instances},
        lease_seconds=settings.lease_seconds,
        redactor=redactor,
        local=records_file(),
    )
