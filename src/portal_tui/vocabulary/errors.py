"""The error vocabulary shared by the client, the fetcher, the store and the faces.

An upstream failure is always an :class:`UpstreamError` carrying an
:class:`ErrorType`; nothing downstream ever turns one into a zero.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """Process exit codes, after the monitoring-plugin convention.

    Data goes to stdout, diagnostics to stderr; the code alone tells cron
    and other monitors what happened.
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3  # config or usage error: the check could not be made


class ErrorType(StrEnum):
    """Why an upstream call failed (the ``error_type`` of ``api_health_logs``)."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    CLIENT_4XX = "4xx"
    SERVER_5XX = "5xx"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    BREAKER_OPEN = "breaker_open"

    @property
    def is_upstream_health(self) -> bool:
        """Whether this failure says the upstream itself is unwell (counts for the breaker)."""
        return self in (ErrorType.TIMEOUT, ErrorType.NETWORK, ErrorType.SERVER_5XX)

    @property
    def is_retryable(self) -> bool:
        """Whether another attempt may succeed (SPEC section 4)."""
        return self in (
            ErrorType.TIMEOUT,
            ErrorType.NETWORK,
            ErrorType.SERVER_5XX,
            ErrorType.RATE_LIMITED,
        )


class PortalError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(PortalError):
    """The config file is missing, unreadable or invalid.

    ``str()`` is the one message shown to the user: it names the file, and the
    key and line where they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = path
        self.key = key
        self.line = line
        self.detail = message
        where = path or ""
        if line:
            where = f"{where}, line {line}" if where else f"line {line}"
        key_part = f"key '{key}': " if key else ""
        text = f"{key_part}{message}"
        super().__init__(f"{where}: {text}" if where else text)


class StoreError(PortalError):
    """The local SQLite file cannot be used; the message says what to do."""


class UpstreamError(PortalError):
    """One failed upstream call, classified.

    ``message`` must never contain a token or a token-bearing URL.
    """

    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = 1  # set by the fetcher to the attempts made before giving up

    def __repr__(self) -> str:
        code = f" {self.status_code}" if self.status_code is not None else ""
        return f"UpstreamError({self.error_type.value}{code}: {self.message})"

    @property
    def label(self) -> str:
        """Short form for tables: ``5xx 503``, ``timeout``, ``4xx 401``."""
        if self.status_code is not None:
            return f"{self.error_type.value} {self.status_code}"
        return self.error_type.value
