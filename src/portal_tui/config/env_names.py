"""Token names, never tokens: the checks on a config value naming an environment variable.

The file names the variables that hold the tokens; a value that reads as a
credential is refused, and :data:`SECRET_KEY_WORDS` marks keys that try to put
one in the file.
"""

from __future__ import annotations

import re

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def check_env_name(value: str | None) -> str | None:
    """An environment variable's name as given (blank is None); a token in its place refused."""
    if value is None or value == "":
        return None
    if not ENV_NAME.match(value) or looks_like_token(value):
        raise ValueError(_LITERAL_TOKEN_REFUSED)
    return value
