"""One Email Bison instance in the config: its URL, token name, limits and timeouts."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from portal_tui.config.env_names import check_env_name
from portal_tui.config.section import Section


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (traffic that never leaves the machine)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""16 MiB: a 1,000-mailbox page is ~0.6 MB; nothing the portal reads comes near it."""


class InstanceConfig(Section):
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
    max_response_bytes: int = Field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        ge=1024,
        description="Largest response body read (decoded); a larger one fails the call.",
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

    @property
    def plaintext_token(self) -> bool:
        """True when the bearer token would cross the network unencrypted:
        plain ``http://`` to a host that is not loopback."""
        parts = urlsplit(self.base_url)
        return parts.scheme.lower() == "http" and not is_loopback_host(parts.hostname)

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
        return check_env_name(value)
