"""``[[alerts]]`` targets (SPEC section 10): where alert events are sent, in Apprise URL syntax."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from portal_tui.config.section import Section

ALERT_EVENTS = ("FAILING", "RECOVERED", "OK", "WARNING", "CRITICAL", "FINDING", "DELIVERY_FAILING")
AlertEventName = Literal[
    "FAILING", "RECOVERED", "OK", "WARNING", "CRITICAL", "FINDING", "DELIVERY_FAILING"
]
_PLAIN_URL_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms")


class AlertTarget(Section):
    """Where alerts go (SPEC section 10): one Apprise URL, from an env var."""

    name: str | None = Field(default=None, description="Label in reports (default: url_env).")
    url_env: str | None = Field(
        default=None, description="Env var holding the Apprise URL (secrets stay out of the file)."
    )
    url: str | None = Field(
        default=None,
        description="A URL holding no secret only, e.g. json://127.0.0.1:8080/hook.",
    )
    events: list[AlertEventName] = Field(
        default_factory=list, description="Only these events (default: every event)."
    )
    min_severity: Literal["info", "warning", "critical"] = Field(
        default="info",
        description="info: every event; warning: not OK/RECOVERED; critical: FAILING, "
        "CRITICAL and DELIVERY_FAILING only.",
    )
    failure_threshold: int = Field(
        default=2, ge=1, le=100, description="Failed cycles in a row before FAILING."
    )
    success_threshold: int = Field(
        default=2, ge=1, le=100, description="Good cycles in a row before RECOVERED."
    )
    send_on_resolved: bool = Field(default=True, description="Also send RECOVERED and OK.")
    reminder_minutes: int | None = Field(
        default=None,
        ge=1,
        le=10080,
        description="While a workspace stays FAILING (or health CRITICAL), send one REMINDER "
        "this many minutes after the last message about it (default: no reminders).",
    )

    @model_validator(mode="after")
    def _one_url(self) -> AlertTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("an [[alerts]] entry needs exactly one of url_env or url")
        if self.url is not None:
            scheme, _, rest = self.url.partition("://")
            if scheme.lower() not in _PLAIN_URL_SCHEMES or "@" in rest or "?" in rest:
                raise ValueError(
                    "an [[alerts]] url may only be a plain json://, xml:// or form:// address "
                    "with no credentials or parameters; put any other URL in an env var and "
                    "name it with url_env"
                )
        return self

    @property
    def label(self) -> str:
        """The target's name in reports."""
        return self.name or self.url_env or str(self.url)
