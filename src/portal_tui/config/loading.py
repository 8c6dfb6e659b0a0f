"""Finding, reading and parsing the config file; every failure is a ConfigError.

A bad file raises :class:`~portal_tui.vocabulary.errors.ConfigError` naming the file,
key and line: a TOML syntax error, a wrong type or value, a file too large
or too deeply nested to parse, a token variable that is not set.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from portal_tui.config.env_names import SECRET_KEY_WORDS
from portal_tui.config.model import Config
from portal_tui.config.tokens import Secrets
from portal_tui.vocabulary import locations
from portal_tui.vocabulary.errors import ConfigError

CONFIG_ENV_VAR = "PORTAL_TUI_CONFIG"
MAX_CONFIG_BYTES = 1024 * 1024
"""A config larger than this is refused before it is parsed (a real one is a few KiB)."""


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


def load_config(
    path: Path,
    *,
    secrets: Secrets | None = None,
    check_env: bool = True,
    dashboard_ttls: Mapping[str, float] | None = None,
) -> Config:
    """Read, parse and validate ``path``.

    With ``check_env``, every token environment variable the config names
    must be set. Raises :class:`ConfigError` with file, key and line.
    """
    shown = str(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # A FIFO or device would block the read forever (a cron check that never ends).
        raise ConfigError("is not a regular file (a FIFO, socket or device?)", path=shown)
    try:
        with path.open("rb") as handle:  # never more than the limit, whatever stat says
            data = handle.read(MAX_CONFIG_BYTES + 1)
        text = data.decode("utf-8")
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
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"is larger than {MAX_CONFIG_BYTES // 1024} KiB, the most a config file may be "
            "(a real one is a few KiB); is this the right file?",
            path=shown,
        )
    config = parse_config(text, source=shown, dashboard_ttls=dashboard_ttls)
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


def parse_config(
    text: str, *, source: str = "<config>", dashboard_ttls: Mapping[str, float] | None = None
) -> Config:
    """Parse TOML text into a :class:`Config`, mapping errors to file, key and line."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"is larger than {MAX_CONFIG_BYTES // 1024} KiB, the most a config file may be",
            path=source,
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(f"TOML syntax error: {detail}", path=source, line=line) from None
    except RecursionError:
        raise ConfigError(
            "TOML nested too deeply to read (arrays or tables inside each other hundreds "
            "of levels deep); a config needs no more than a few levels",
            path=source,
            line=_deepest_line(text),
        ) from None
    except Exception as exc:  # any other parser failure is still the file's fault
        raise ConfigError(f"cannot parse the TOML ({type(exc).__name__})", path=source) from None
    try:
        context = {"dashboard_ttls": dashboard_ttls} if dashboard_ttls is not None else None
        return Config.model_validate(raw, context=context)
    except RecursionError:
        raise ConfigError("values nested too deeply to check", path=source) from None
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


def _deepest_line(text: str) -> int | None:
    """The line where bracket nesting is deepest (where a runaway nesting sits)."""
    depth = deepest = 0
    where = None
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += (char in "[{") - (char in "]}")
            if depth > deepest:
                deepest, where = depth, number
    return where


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
