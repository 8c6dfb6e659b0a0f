"""The doctor's shared-tier check: which tier, and whether Redis answers.

Through the records file there is nothing to reach. With ``[shared]
redis_url``, one read with the configured timeout tells whether Redis
answers (and accepts the password); when it does not, that is a warning, not
a failure: every process then fetches for itself and says so.
"""

from __future__ import annotations

from pathlib import Path

from portal_tui.config import Config, Secrets
from portal_tui.reports.doctor_report import Check, Level
from portal_tui.shared.tier import TierUnavailable, redis_location
from portal_tui.vocabulary.clock import SystemClock


async def check_shared(config: Config, secrets: Secrets, db_path: Path, *, demo: bool) -> Check:
    """The shared tier this config gives the consoles, checks and ``watch`` processes."""
    settings = config.shared
    if demo:
        return Check("shared tier", Level.OK, "off in --demo (the upstream is in this process)")
    if not settings.enabled:
        return Check(
            "shared tier", Level.OK, "off ([shared] enabled = false): each process fetches alone"
        )
    if not settings.redis_url:
        return Check(
            "shared tier",
            Level.OK,
            f"through the records file {db_path}: processes on it fetch each request once "
            "and share the master-token lock",
            ["[shared] redis_url shares them across machines"],
        )
    from portal_tui.shared.redis_tier import RedisTier

    where = redis_location(settings.redis_url)
    details = [f"the records file {db_path} keeps the master-token lock if Redis goes"]
    password = secrets.get(settings.redis_password_env)
    if settings.redis_password_env and password is None:
        details.append(f"environment variable {settings.redis_password_env} is not set")
    tier = RedisTier(
        settings.redis_url,
        SystemClock(),
        holder="doctor",
        password=password.get_secret_value() if password else None,
        timeout=settings.redis_timeout,
    )
    try:
        await tier.read("doctor-probe")
    except TierUnavailable as exc:
        return Check(
            "shared tier",
            Level.WARNING,
            f"Redis at {where} does not answer: each process will fetch for itself ({exc})",
            details,
        )
    finally:
        await tier.aclose()
    return Check("shared tier", Level.OK, f"through Redis at {where} (answers)", details)
