"""One HTTP attempt against an Email Bison instance, classified.

:class:`EmailBisonClient` owns the instance's long-lived connection pool (an
``httpx`` transport) and turns every outcome into either a validated payload
model or an :class:`~portal_tui.vocabulary.errors.UpstreamError`. It never retries, waits
or counts: that is the fetcher's job. A non-2xx status is never parsed as data.

An attempt is three steps so the fetcher can hold its concurrency slot for the
exchange alone: :meth:`~EmailBisonClient.prepare` (build the request),
:meth:`~EmailBisonClient.send` (the exchange; the status is classified, the
body read but not parsed) and :meth:`~EmailBisonClient.parse` (validation).
:meth:`~EmailBisonClient.request` does all three.
"""

from __future__ import annotations

import email.utils
import functools
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from portal_tui.config import InstanceConfig
from portal_tui.upstream.scrub import SecretScanner
from portal_tui.vocabulary.errors import ErrorType, UpstreamError

M = TypeVar("M", bound=BaseModel)

_SECRET_QUERY = re.compile(r"(?i)((?:api_?)?(?:token|key|secret)=)[^&\s]+")
_BEARER = re.compile(r"(?i)bearer\s+[^\s,;]+")


def redact(text: str) -> str:
    """Strip bearer tokens and token-bearing query parameters from ``text``."""
    return _BEARER.sub("Bearer [redacted]", _SECRET_QUERY.sub(r"\1[redacted]", text))


class PayloadError(UpstreamError):
    """A 2xx response whose body is not the payload we expect.

    ``validation`` holds the pydantic error so each failing field can be
    recorded in ``data_validation_errors``.
    """

    def __init__(
        self, message: str, *, status_code: int, validation: ValidationError | None
    ) -> None:
        super().__init__(ErrorType.VALIDATION, message, status_code=status_code)
        self.validation = validation


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx response off the wire, its body not yet parsed (see :meth:`EmailBisonClient.parse`)."""

    status_code: int
    content: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful, validated response and what it cost."""

    payload: BaseModel
    status_code: int
    size_bytes: int
    unknown_fields: frozenset[str]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class EmailBisonClient:
    """Speaks the Email Bison endpoints for one instance, one attempt at a time."""

    def __init__(
        self,
        instance: InstanceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Any = None,
        scanner: SecretScanner | None = None,
    ) -> None:
        self.instance = instance
        # Every configured token: removed from whatever the upstream sends (values,
        # field names, reason phrases, error text) before anything reads it.
        self.scanner = scanner if scanner is not None else SecretScanner()
        self._origin = _origin(instance.base_url)
        self._base = instance.base_url + "/"
        self._now = now or (lambda: datetime.now(UTC))
        self._transport = transport
        # What httpx.AsyncClient would add to every request, computed once.
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
            "User-Agent": "portal-tui",
        }
        self._extensions = {"timeout": httpx.Timeout(instance.attempt_timeout).as_dict()}

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """The connection pool requests go through (built on first use)."""
        # Not at start-up: creating it loads the CA bundle (~0.1 s), which the
        # console would otherwise pay before its first frame.
        if self._transport is None:
            pool = max(self.instance.concurrency, 1)
            self._transport = httpx.AsyncHTTPTransport(
                verify=_tls_context(self.instance.verify_tls),
                limits=httpx.Limits(max_connections=pool * 2, max_keepalive_connections=pool * 2),
                trust_env=False,
            )
        return self._transport

    @transport.setter
    def transport(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def aclose(self) -> None:
        """Close the connection pool (if one was ever opened)."""
        if self._transport is not None:
            await self._transport.aclose()

    def same_origin(self, url: str) -> bool:
        """True when ``url`` points at this instance (tokens are only sent there)."""
        return _origin(url) == self._origin

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        token: SecretStr,
        model: type[M],
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Make one attempt; return the validated payload or raise :class:`UpstreamError`.

        ``path_or_url`` is a path under ``base_url`` or an absolute URL on the
        same origin (``links.next``); another origin is refused so a token is
        never sent elsewhere.
        """
        prepared = self.prepare(method, path_or_url, token=token, params=params, body=body)
        return self.parse(await self.send(prepared), model)

    def prepare(
        self,
        method: str,
        path_or_url: str,
        *,
        token: SecretStr,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        """The request :meth:`send` sends (see :meth:`request` for ``path_or_url``)."""
        if path_or_url.startswith(("http://", "https://")):
            if not self.same_origin(path_or_url):
                raise UpstreamError(
                    ErrorType.VALIDATION,
                    "pagination link points at another host; not followed",
                )
            url = httpx.URL(path_or_url)
            if params:
                url = url.copy_merge_params(dict(params))
        else:
            # One string, parsed once (the base URL has no query: config refuses one).
            text = self._base + path_or_url.lstrip("/")
            url = httpx.URL(text + "?" + urlencode(params, quote_via=quote) if params else text)
        headers = {**self._headers, "Authorization": f"Bearer {token.get_secret_value()}"}
        return httpx.Request(method, url, headers=headers, json=body, extensions=self._extensions)

    async def send(self, request: httpx.Request) -> Answer:
        """The exchange: send ``request``, read the body (at most ``max_response_bytes``),
        classify the status.

        Raises :class:`UpstreamError` for a non-2xx status, for network, timeout
        and decoding trouble, and (``validation``) for a 2xx body larger than the
        cap; the body of a 2xx is returned unparsed.
        """
        cap = self.instance.max_response_bytes
        try:
            # Straight to the pool: httpx.AsyncClient's URL merging, cookie jar and
            # redirect plumbing cost ~0.4 ms a request and none of it is wanted here
            # (redirects are never followed, tokens are never sent as cookies).
            response = await self.transport.handle_async_request(request)
            try:
                content = await _read_capped(response, cap)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise UpstreamError(ErrorType.TIMEOUT, self._describe(exc)) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise UpstreamError(ErrorType.NETWORK, self._describe(exc)) from None
        except httpx.TransportError as exc:
            raise UpstreamError(ErrorType.NETWORK, self._describe(exc)) from None
        except httpx.DecodingError as exc:
            # A body whose Content-Encoding does not decode (a proxy mangling gzip):
            # not a TransportError in httpx, but to us the same kind of trouble.
            raise UpstreamError(
                ErrorType.NETWORK, f"response body could not be decoded: {self._describe(exc)}"
            ) from None
        if content is None and 200 <= response.status_code < 300:
            # Never retried (a validation error): the same upstream would send it again.
            raise UpstreamError(
                ErrorType.VALIDATION,
                f"response larger than {cap} bytes (max_response_bytes); not read",
                status_code=response.status_code,
            )
        # An error status says more than its oversized body (which is never read).
        self._check_status(response)
        return Answer(response.status_code, content or b"")

    def _classify(self, response: httpx.Response, content: bytes, model: type[M]) -> Reply:
        """Status, then payload: :meth:`send`'s and :meth:`parse`'s halves in one."""
        self._check_status(response)
        return self.parse(Answer(response.status_code, content), model)

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"), self._now())
            hint = f", Retry-After {wait:g} s" if wait is not None else ""
            raise UpstreamError(
                ErrorType.RATE_LIMITED,
                f"HTTP 429 rate limited{hint}",
                status_code=429,
                retry_after=wait,
            )
        if status >= 500:
            raise UpstreamError(
                ErrorType.SERVER_5XX, f"HTTP {status} {self._reason(response)}", status_code=status
            )
        if status >= 400 or status < 200 or status >= 300:
            kind = ErrorType.CLIENT_4XX
            text = f"HTTP {status} {self._reason(response)}"
            if status == 401:
                text += " (token missing, wrong or revoked)"
            elif status == 403:
                text += " (token lacks access to this workspace)"
            raise UpstreamError(kind, text, status_code=status)

    def parse(self, answer: Answer, model: type[M]) -> Reply:
        """Validate a 2xx body as ``model``; raises :class:`PayloadError` if it is not one."""
        status, content = answer.status_code, answer.content
        if self.scanner.in_json(content):
            # The upstream echoed a token: decode, scrub every string and key, validate.
            return self._classify_slowly(status, content, model)
        try:
            # pydantic-core parses and validates in one pass, without the transient tree
            # of dicts json.loads builds (less CPU per request, less heap fragmentation).
            payload = model.model_validate_json(content)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors(include_url=False)):
                # Its parser refuses some documents json.loads reads (lone surrogates,
                # nesting past 200) and words its errors differently: let the
                # json.loads path accept or classify those, exactly as it always has.
                return self._classify_slowly(status, content, model)
            raise _schema_error(exc, status) from None
        return Reply(payload, status, len(content), _unknown_fields(payload))

    def _classify_slowly(self, status: int, content: bytes, model: type[M]) -> Reply:
        """Parse with :func:`json.loads`, then validate: the reference path."""
        try:
            raw = json.loads(content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PayloadError(
                f"malformed JSON at byte {getattr(exc, 'pos', '?')} ({len(content)} bytes)",
                status_code=status,
                validation=None,
            ) from None
        except (ValueError, RecursionError) as exc:
            # Valid JSON the parser still refuses: an integer of more than 4,300
            # digits (ValueError) or nesting deeper than the recursion limit.
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:80]
            raise PayloadError(
                f"unreadable JSON ({len(content)} bytes): {reason}",
                status_code=status,
                validation=None,
            ) from None
        if self.scanner:
            raw = self.scanner.scrub_tree(raw)
        try:
            payload = model.model_validate(raw)
        except ValidationError as exc:
            raise _schema_error(exc, status) from None
        return Reply(payload, status, len(content), _unknown_fields(payload))

    def _reason(self, response: httpx.Response) -> str:
        """The reason phrase: upstream text, so scrubbed like the body."""
        return self.scanner.scrub(response.reason_phrase or "")

    def _describe(self, exc: Exception) -> str:
        """An exception as one line, with bearer tokens and known tokens removed."""
        name = type(exc).__name__
        text = self.scanner.scrub(redact(str(exc))).strip()
        return f"{name}: {text}" if text else name


async def _read_capped(response: httpx.Response, cap: int) -> bytes | None:
    """The decoded body, or None as soon as it passes ``cap`` bytes (never buffered past it).

    A ``Content-Length`` above the cap is refused before a byte is read. The
    rest of an oversized body is left unread: closing the response drops the
    connection rather than draining it.
    """
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and setting: building one loads the CA bundle
    (35 ms or more), which every instance's pool (and every cold fetcher) would
    otherwise pay again. Contexts are safe to share between connections."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


def _schema_error(exc: ValidationError, status: int) -> PayloadError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return PayloadError(
        f"schema mismatch: {where}: {first['msg']}"
        + (f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""),
        status_code=status,
        validation=exc,
    )


def _unknown_fields(payload: BaseModel) -> frozenset[str]:
    """Top-level ``data`` fields the model does not know (schema drift, reported once).

    Read from the first ``data`` object's extras: the payload models keep
    unknown fields (``extra="allow"``), and nothing else lands there.
    """
    data = getattr(payload, "data", None) if "data" in type(payload).model_fields else None
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, BaseModel):
        return frozenset()
    return frozenset(item.model_extra or ())
