"""The doctor's upstream check: one short GET of the workspace list per instance.

Any HTTP answer proves the instance reachable; only connection errors and
timeouts mean unreachable. With the master token, 401 means the token is
rejected (critical), told apart from a 401 without a token (expected).
TLS verification off, or plain http to a non-loopback host, is a warning.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import SecretStr

from portal_tui.config import InstanceConfig, Secrets
from portal_tui.reports.doctor_report import Check, Level
from portal_tui.upstream.client import EmailBisonClient, PayloadError
from portal_tui.upstream.models import WorkspacesResponse
from portal_tui.upstream.scrub import SecretScanner
from portal_tui.vocabulary.errors import ErrorType, UpstreamError


async def check_upstream(
    inst: InstanceConfig,
    secrets: Secrets,
    transport: httpx.AsyncBaseTransport | None,
    probe_seconds: float,
    scanner: SecretScanner | None = None,
) -> Check:
    """One GET of the workspace list: any HTTP answer means reachable; 401 with the
    master token means the token is rejected."""
    name = f"upstream {inst.name}"
    details = [f"base_url: {inst.base_url}"]
    cautions = []
    if not inst.verify_tls:
        cautions.append("TLS certificate verification is OFF (verify_tls = false)")
    if inst.plaintext_token and transport is None:
        cautions.append("plain http to a non-loopback host: tokens cross the network unencrypted")
    token = secrets.get(inst.master_token_env)
    if scanner is None:
        scanner = SecretScanner([token.get_secret_value()] if token else [])
    level, summary = await _probe(inst, token, transport, probe_seconds, details, scanner)
    if cautions:
        details.extend(f"warning: {c}" for c in cautions)
        if level.rank < Level.WARNING.rank:
            level = Level.WARNING
        summary += "; " + "; ".join(cautions)
    return Check(name, level, summary, details)


async def _probe(
    inst: InstanceConfig,
    token: SecretStr | None,
    transport: httpx.AsyncBaseTransport | None,
    probe_seconds: float,
    details: list[str],
    scanner: SecretScanner,
) -> tuple[Level, str]:
    quick = inst.model_copy(update={"attempt_timeout": probe_seconds})
    client = EmailBisonClient(quick, transport=transport, scanner=scanner)
    start = time.monotonic()
    held = f"the master token in ${inst.master_token_env}"
    try:
        async with asyncio.timeout(probe_seconds):
            reply = await client.request(
                "GET", "/workspaces/v1.1", token=token or SecretStr("-"), model=WorkspacesResponse
            )
    except TimeoutError:
        return Level.CRITICAL, f"unreachable: no answer within {probe_seconds:g} s"
    except PayloadError as exc:
        return Level.WARNING, f"reachable, but the answer is not Email Bison's: {exc.message}"
    except UpstreamError as exc:
        took = (time.monotonic() - start) * 1000
        answered = exc.error_type not in (ErrorType.NETWORK, ErrorType.TIMEOUT)
        details.append(
            f"answer: {exc.label} in {took:.0f} ms"
            if answered
            else f"no answer ({exc.label}) after {took:.0f} ms"
        )
        return _judge(exc, token is not None, held)
    finally:
        await client.aclose()
    elapsed = (time.monotonic() - start) * 1000
    assert isinstance(reply.payload, WorkspacesResponse)
    details.append(f"answer: HTTP {reply.status_code} in {elapsed:.0f} ms")
    if token is None:
        return Level.OK, "reachable (no master token configured to verify)"
    return Level.OK, f"reachable; {held} works: {len(reply.payload.data)} workspaces listed"


def _judge(exc: UpstreamError, with_token: bool, held: str) -> tuple[Level, str]:
    code = exc.status_code
    if exc.error_type in (ErrorType.NETWORK, ErrorType.TIMEOUT):
        return Level.CRITICAL, f"unreachable: {exc.message}"
    if code == 401:
        if with_token:
            return Level.CRITICAL, f"reachable, but TOKEN REJECTED: {held} got HTTP 401"
        return Level.OK, "reachable (HTTP 401 without a token, as expected)"
    if code == 403:
        return Level.WARNING, f"reachable, but {held} lacks access (HTTP 403)"
    if exc.error_type is ErrorType.RATE_LIMITED:
        return Level.WARNING, "reachable, but rate limiting us (HTTP 429)"
    if exc.error_type is ErrorType.SERVER_5XX:
        return Level.WARNING, f"reachable, but failing: {exc.message}"
    return Level.WARNING, f"reachable, but answered {exc.label}: is base_url right (…/api)?"
