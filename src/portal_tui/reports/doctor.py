"""``portal-tui doctor``: is this machine set up to watch the portal?

Checks, in order: the config (where it was looked for, where it was found,
whether it is valid), the token variables it names (set or missing, never
their values), the records file's directory and file system (SQLite locking
is unsafe on network file systems), the records file itself (integrity,
size, schema version; a damaged file is moved aside, and said; none is created),
the shared tier (the records file, or whether Redis answers), and each
instance's reachability with one short GET.

Exit codes follow ``check``: 0 all good, 1 warnings, 2 critical problems (an
instance unreachable, a token rejected, a records file that cannot be
opened), 3 the config is unusable (missing, invalid, or naming unset token
variables) or the records file was damaged (moved aside: nothing to check).
Data on stdout, nothing else; the report itself says what is wrong.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from portal_tui.config import CONFIG_ENV_VAR, Config, Secrets, find_config_path
from portal_tui.config import load_config as read_config
from portal_tui.dashboards.registry import default_ttls
from portal_tui.engine.verdict import verdict_from_records
from portal_tui.reports.doctor_report import (
    Check,
    DoctorReport,
    Level,
    print_doctor,
    print_doctor_json,
)
from portal_tui.reports.doctor_shared import check_shared
from portal_tui.reports.doctor_upstream import check_upstream
from portal_tui.reports.records_file import DEMO_DATABASE
from portal_tui.store.connection import DamagedRecords
from portal_tui.store.database import Store
from portal_tui.store.filesystems import Mount, existing_ancestor, mount_of, read_mounts
from portal_tui.upstream.scrub import SecretScanner
from portal_tui.vocabulary.clock import SystemClock
from portal_tui.vocabulary.errors import ConfigError, StoreError
from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.locations import data_dir, default_config_path, default_database_path

__all__ = ["Check", "DoctorReport", "Level", "print_doctor", "print_doctor_json", "run_doctor"]


@dataclass(slots=True)
class _Setup:
    config: Config | None
    secrets: Secrets
    transports: dict[str, httpx.AsyncBaseTransport]
    db_path: Path
    db_source: str


async def run_doctor(
    *,
    config_arg: str | None,
    demo: bool,
    db_arg: str | None,
    probe_seconds: float = 5.0,
    env: Mapping[str, str] | None = None,
    mounts: Sequence[Mount] | None = None,
) -> DoctorReport:
    """Run every check. ``env`` defaults to the process environment, ``mounts`` to
    ``/proc/mounts`` (both injectable for tests)."""
    environ = os.environ if env is None else env
    checks: list[Check] = []
    setup, config_check = _configure(config_arg, demo, db_arg, environ)
    checks.append(config_check)
    if setup.config is not None:
        checks.append(check_tokens(setup.config, setup.secrets, demo=demo))
    if mounts is None:
        mounts = read_mounts()
    checks.append(check_storage(setup.db_path, setup.db_source, mounts))
    checks.append(await check_database(setup.db_path))
    health = await check_recorded_health(setup.db_path)
    if health is not None:
        checks.append(health)
    if setup.config is not None and setup.config.alerts:  # issue 17
        checks.append(await check_alerts(setup.db_path, setup.config, setup.secrets))
    if setup.config is not None:
        checks.append(await check_shared(setup.config, setup.secrets, setup.db_path, demo=demo))
    if setup.config is not None:
        checks.extend(
            await asyncio.gather(
                *(
                    check_upstream(
                        inst,
                        setup.secrets,
                        setup.transports.get(inst.name),
                        probe_seconds,
                        SecretScanner(setup.secrets.token_values(setup.config)),
                    )
                    for inst in setup.config.instances
                )
            )
        )
    return DoctorReport(checks)


def _configure(
    config_arg: str | None, demo: bool, db_arg: str | None, env: Mapping[str, str]
) -> tuple[_Setup, Check]:
    if demo:
        from portal_tui.simulator.demo import build_demo

        built = build_demo(seed=7, workspaces=27)  # the same demo as open_runtime's
        db = Path(db_arg) if db_arg else data_dir() / DEMO_DATABASE
        setup = _Setup(
            built.config,
            built.secrets(),
            {built.config.instances[0].name: built.transport()},
            db,
            "--db" if db_arg else "--demo",
        )
        summary = "built-in demo config (--demo): no file read, fake tokens, in-process simulator"
        return setup, Check("config", Level.OK, summary)
    config, check = check_config(config_arg, env)
    if db_arg:
        db, source = Path(db_arg), "--db"
    elif config is not None:
        db, source = config.storage_path(), "config [storage] path"
    else:
        db, source = default_database_path(), "default"
    return _Setup(config, Secrets(env), {}, db.expanduser(), source), check


def check_config(config_arg: str | None, env: Mapping[str, str]) -> tuple[Config | None, Check]:
    """Where the config was looked for and found, and whether it loads (tokens aside)."""
    default = default_config_path()
    from_env = env.get(CONFIG_ENV_VAR)
    order = [
        f"1. --config: {config_arg or 'not given'}",
        f"2. ${CONFIG_ENV_VAR}: {from_env or 'unset'}",
        f"3. {default}: {'exists' if default.exists() else 'not found'}",
    ]
    path = find_config_path(config_arg, env)
    if path is None:
        return None, Check(
            "config",
            Level.UNUSABLE,
            f"no config found: run `portal-tui init` to write a commented starter config at "
            f"{default}, or pass --config PATH, or set $PORTAL_TUI_CONFIG; or try --demo",
            ["lookup order:", *order],
        )
    via = "--config" if config_arg else f"${CONFIG_ENV_VAR}" if from_env else "the default location"
    details = [f"found via {via}", "lookup order:", *order]
    try:
        config = read_config(path, check_env=False, dashboard_ttls=default_ttls())
    except ConfigError as exc:
        return None, Check("config", Level.UNUSABLE, f"{path} is not usable: {exc}", details)
    summary = (
        f"{path}: valid; {len(config.instances)} instance(s), "
        f"{len(config.clients)} registry entr{'y' if len(config.clients) == 1 else 'ies'}"
    )
    if not config.instances:
        return config, Check("config", Level.WARNING, summary + "; no [[instances]]", details)
    return config, Check("config", Level.OK, summary, details)


def check_tokens(config: Config, secrets: Secrets, *, demo: bool = False) -> Check:
    """Each token variable the config names: set or missing. Values are never shown."""
    details: list[str] = []
    names: set[str] = set()
    for inst in config.instances:
        if inst.master_token_env:
            names.add(inst.master_token_env)
            state = "set" if secrets.get(inst.master_token_env) else "MISSING"
            details.append(f"instance {inst.name}: master token ${inst.master_token_env}: {state}")
        else:
            details.append(
                f"instance {inst.name}: no master_token_env: workspaces come from the registry "
                "alone, each read with its own token"
            )
    for client in config.clients:
        if not client.api_key_env:
            continue
        names.add(client.api_key_env)
        state = "set" if secrets.get(client.api_key_env) else "MISSING"
        note = "" if client.enabled else " (entry disabled: not needed)"
        details.append(f"workspace {client.name}: ${client.api_key_env}: {state}{note}")
    details.sort(key=lambda line: "MISSING" not in line)  # the problems first
    missing = secrets.missing(config)
    where = " (demo tokens, not the environment)" if demo else ""
    summary = f"{len(names)} token variable(s){where}: {len(names) - len(missing)} set"
    if missing:
        summary += (
            f", {len(missing)} missing ({', '.join(missing)}); check and the console refuse "
            "to start until they are set"
        )
        return Check("tokens", Level.UNUSABLE, summary, details)
    return Check("tokens", Level.OK, summary, details)


def check_storage(path: Path, source: str, mounts: Sequence[Mount] | None) -> Check:
    """The records file's directory: writable, and on a file system SQLite can lock."""
    anchor = existing_ancestor(path.parent)
    details = [f"records file: {path} (from {source})", f"directory: {path.parent}"]
    if anchor != path.parent.absolute():
        details.append(f"directory does not exist yet; the first refresh creates it in {anchor}")
    level, problems = Level.OK, []
    if not os.access(anchor, os.W_OK | os.X_OK):
        level = Level.CRITICAL
        problems.append(f"{anchor} is not writable by this user")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        level = Level.CRITICAL
        problems.append(f"{path} is not readable and writable by this user")
    mount = mount_of(path, list(mounts)) if mounts is not None else None
    if mount is None:
        details.append("file system: unknown (no mount table)")
    else:
        details.append(f"file system: {mount.fs_type} at {mount.mount_point} ({mount.device})")
        if mount.network:
            if level is Level.OK:
                level = Level.WARNING
            problems.append(
                f"{mount.fs_type} is a network file system: SQLite's locking is unsafe there and "
                "two consoles can corrupt the file; set [storage] path to a local disk"
            )
    summary = "; ".join(problems) if problems else f"writable, {mount.fs_type if mount else '?'}"
    return Check("storage", level, summary, details)


async def check_database(path: Path) -> Check:
    """Open the records file without creating one, check it, measure it.

    A damaged file is moved aside (no fresh file is started: doctor only
    reads) and the check is unusable (exit 3); a read-only file is read.
    """
    if not path.exists():
        return Check(
            "database", Level.INFO, f"no records file yet at {path}; the first refresh creates it"
        )
    try:
        store = await Store.open(path, clock=SystemClock(), create=False)
    except DamagedRecords as exc:  # moved aside; no fresh file: nothing left to check
        return Check("database", Level.UNUSABLE, str(exc), [f"file: {path}"])
    except StoreError as exc:
        return Check("database", Level.CRITICAL, str(exc), [f"file: {path}"])
    try:
        notices = list(store.notices)
        problems = await store.integrity_check()
        size = await store.size_bytes()
        version = await store.schema_version()
    finally:
        await store.close()
    details = [
        f"file: {path}",
        f"size: {size / 1_048_576:.1f} MiB ({size} bytes, with its write-ahead log)",
        f"schema version: {version} (opening migrates an older file forward)",
        f"integrity_check: {'ok' if not problems else '; '.join(problems[:5])}",
        *(f"notice: {n}" for n in notices),
    ]
    if problems:
        return Check("database", Level.CRITICAL, f"integrity check failed: {problems[0]}", details)
    if notices:
        return Check("database", Level.WARNING, notices[0], details)
    return Check(
        "database", Level.OK, f"intact, {size / 1_048_576:.1f} MiB, schema {version}", details
    )


_HEALTH_LEVELS = {
    "OK": Level.OK,
    "WARNING": Level.WARNING,
    "CRITICAL": Level.CRITICAL,
    "UNKNOWN": Level.INFO,
}


async def check_alerts(path: Path, config: Config, secrets: Secrets) -> Check:
    """The alert targets (is each one's env var set?) and the events not delivered."""
    urls = secrets.alert_urls(config)
    details = []
    unset = []
    for target in config.alerts:
        if target.url_env is not None and target.url_env not in urls:
            unset.append(target.label)
            details.append(f"{target.label}: env var {target.url_env} is not set")
        else:
            source = f"env var {target.url_env}" if target.url_env else "url in the config"
            details.append(f"{target.label}: {source}")
    undelivered = []
    if path.exists():
        clock = SystemClock()
        try:
            store = await Store.open(path, clock=clock, redact_values=secrets.token_values(config))
        except StoreError:
            store = None
        if store is not None:
            try:
                undelivered = await store.alert_events(undelivered_only=True, limit=50)
            except StoreError as exc:
                details.append(f"could not read the alert events: {exc}")
            finally:
                await store.close()
    for event in undelivered[:5]:
        error = f": {event.last_error}" if event.last_error else ""
        details.append(f"undelivered after {event.attempts} attempt(s): {event.title}{error}")
    failing = [e for e in undelivered if e.attempts > 0]
    summary = f"{len(config.alerts)} target(s)"
    if unset:
        summary += f", {len(unset)} without its URL"
    if undelivered:
        summary += f"; {len(undelivered)} event(s) undelivered"
    level = Level.WARNING if unset or failing else Level.OK
    return Check("alerts", level, summary, details)


async def check_recorded_health(path: Path) -> Check | None:
    """The verdict the records give now: the same one the console, ``check`` and ``export``
    show (None when there is no records file, or it cannot be opened: the database check
    above says why)."""
    if not path.exists():
        return None
    clock = SystemClock()
    try:
        store = await Store.open(path, clock=clock)
    except StoreError:
        return None
    try:
        verdict = await verdict_from_records(store, clock.now())
    except StoreError as exc:
        return Check("recorded health", Level.WARNING, f"could not read the records: {exc}")
    finally:
        await store.close()
    details = [f"reason: {r}" for r in verdict.reasons]
    if verdict.last_cycle_at is not None:
        age = format_age((clock.now() - verdict.last_cycle_at).total_seconds())
        details.append(f"last recorded cycle: {age} ago")
    else:
        details.append("no refresh recorded in the last hour")
    return Check(
        "recorded health",
        _HEALTH_LEVELS[verdict.level],
        f"{verdict.level} (health {verdict.score}/100) from the records",
        details,
    )
