"""No token, Authorization header or token-bearing URL reaches the SQLite file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import (
    CacheMetadataRecord,
    CycleRecord,
    Redactor,
    StateTransition,
    Store,
    dashboard_cache_key,
    redaction,
)
from portal_tui.store.redaction import MAX_TEXT_CHARS, REDACTED
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

TOKEN = "42|s3cr3tT0kenValueForTheMasterAccount"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("headers={'Authorization': 'Bearer 7|xyzSECRET', 'Accept': 'json'}", "7|xyzSECRET"),
        ("401 for Bearer 9|tokenvalue123", "9|tokenvalue123"),
        ("GET https://h/api/stats?api_key=K3Y-VALUE&page=2", "K3Y-VALUE"),
        ("redirect to /next?token=abc123&x=1", "abc123"),
        ("url=https://h/x?access_token=qq.ww.ee#frag", "qq.ww.ee"),
        ('{"api_token": "jsonsecret", "page": 1}', "jsonsecret"),
        ("proxy https://user:p4ssw0rd@proxy.local:8080 refused", "p4ssw0rd"),
    ],
)
def test_token_like_patterns_are_redacted(text: str, leak: str) -> None:
    cleaned = Redactor()(text)
    assert leak not in cleaned
    assert REDACTED in cleaned


def test_harmless_text_is_left_alone() -> None:
    text = "5xx 503: Service Unavailable for workspace Acme (cache_key=kpi, page=2)"
    assert Redactor()(text) == text
    assert Redactor()(None) is None


def test_exact_secrets_are_removed_and_short_values_ignored() -> None:
    redact = Redactor([TOKEN, "1", ""], extra=lambda t: t.replace("internal-host", "[HOST]"))
    cleaned = redact(f"echo {TOKEN} on internal-host took 1 s")
    assert cleaned == f"echo {REDACTED} on [HOST] took 1 s"
    redact.add_secrets(["later-added-secret"])
    assert redact("x later-added-secret y") == f"x {REDACTED} y"


def test_long_text_is_clipped() -> None:
    assert len(Redactor()("x" * 50_000)) == MAX_TEXT_CHARS


def test_every_code_point_a_rule_takes_for_a_letter_of_its_words_folds_to_it() -> None:
    """The words that let a rule be skipped must be in the folded text wherever the
    rule's case-insensitive pattern could match: every code point a pattern takes
    for a letter of a word, put in that word, still folds to the word."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    words = {word for _, _, words in redaction._RULES for word in words}
    for letter in sorted({ch for word in words for ch in word if ch.isalpha()}):
        alike = {m.group() for m in re.finditer(f"(?i){letter}", every)}
        assert len(alike) >= 2, letter  # itself and its upper case at least
        for word in words:
            for at in (i for i, ch in enumerate(word) if ch == letter):
                for ch in alike:
                    spelled = word[:at] + ch + word[at + 1 :]
                    assert word in redaction._folded(spelled), (word, spelled)


FRAGMENTS = st.sampled_from(
    ["token", "TOKEN", "to", "ken", "api", "_", "-", "key", "Key", "secret", "passwd",
     "password", "Authorization", "authorization", "Bearer", "bearer", "://", "https",
     "user", ":", "@", "=", '"', "'", " ", "\n", "x.y", "42|abc", "&", "İ", "ı", "ſ",
     "\u212a", "ﬆ", "é", "0"]
)  # fmt: skip


@given(st.lists(FRAGMENTS, max_size=14).map("".join))
def test_skipping_rules_by_their_words_changes_nothing(text: str) -> None:
    """Every rule whose pattern matches is among the rules run; the scrub is the same as
    running every rule (as before the words were there)."""
    kept = redaction._rules_for(text)
    for pattern, replacement, _ in redaction._RULES:
        if pattern.search(text):
            assert (pattern, replacement) in kept, (pattern.pattern, text)
    everything = text
    for pattern, replacement, _ in redaction._RULES:
        everything = pattern.sub(replacement, everything)
    redact = Redactor()
    assert redact.clipped(text, 10**6) == everything
    assert redact.touches(text) is any(p.search(text) for p, _, _ in redaction._RULES)


async def test_nothing_secret_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    async with await Store.open(path, clock=FakeClock(START), redact_values=[TOKEN]) as store:
        leak = f"httpx error: Authorization: Bearer {TOKEN}"
        await store.record_cycle(
            CycleRecord(
                "manual",
                START,
                START,
                api_calls=[
                    ApiCallRecord(
                        "send",
                        f"/sender-emails?page=2&api_key={TOKEN}",
                        "GET",
                        "Acme",
                        401,
                        12.0,
                        False,
                        ErrorType.CLIENT_4XX,
                        leak,
                        1,
                        "manual",
                        START,
                    )
                ],
                validation_issues=[
                    ValidationIssue(
                        DashboardName.KPI,
                        "Acme",
                        ValidationErrorType.INVALID_TYPE,
                        "data.note",
                        "string",
                        repr(TOKEN),
                        f"token {TOKEN} leaked",
                    )
                ],
                cache_metadata=[
                    CacheMetadataRecord(
                        dashboard_cache_key("kpi"), "kpi", None, 1.0, 0, 0, "error", leak, 120.0
                    )
                ],
                transitions=[StateTransition("send", "Acme", "kpi", "ok", "failing", leak, START)],
            )
        )
        (logged,) = await store.recent_api_calls()
        assert logged.error_message is not None and REDACTED in logged.error_message
    raw = path.read_bytes() + (
        Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b""
    )
    assert b"s3cr3tT0ken" not in raw
    assert b"Authorization" in raw  # the header name stays, so the message still makes sense


async def test_the_store_scrubs_snapshots_and_upstream_names(tmp_path: Path) -> None:
    """Defence in depth: a token that got past the client's scrub (a snapshot's JSON, a
    workspace or field name, a finding) is still not written; the snapshot stays loadable."""
    from portal_tui.store import ConsistencyRecord, FieldRecord, FindingRecord, SnapshotRecord

    path = tmp_path / "records.sqlite3"
    payload = json.dumps({"rows": [{"workspace": f"Acme {TOKEN}", "note": f"x{TOKEN}y"}]})
    async with await Store.open(path, clock=FakeClock(START), redact_values=[TOKEN]) as store:
        await store.record_cycle(
            CycleRecord(
                "manual",
                START,
                START,
                validation_issues=[
                    ValidationIssue(
                        DashboardName.KPI,
                        f"Acme {TOKEN}",
                        ValidationErrorType.INVALID_TYPE,
                        f"stats.data.k_{TOKEN}",
                        "integer",
                        "'1'",
                        "bad",
                    )
                ],
                snapshots=[SnapshotRecord.build(
                        "kpi", payload, fetched_at=START, refreshed_at=START, row_count=1
                    )],
                consistency=ConsistencyRecord(
                    findings=[
                        FindingRecord("schema-drift", "warning", f"stats {TOKEN}", TOKEN, TOKEN)
                    ],
                    covered=frozenset({("schema-drift", f"stats {TOKEN}")}),
                    fields=[FieldRecord("stats", f"echo_{TOKEN}", START, START)],
                ),
            )
        )
        loaded = (await store.load_snapshots())["kpi"]
        assert loaded.intact and json.loads(loaded.payload)["rows"][0]["note"] == f"x{REDACTED}y"
        (issue,) = await store.open_validation_errors()
        assert issue.workspace == f"Acme {REDACTED}"
        assert issue.field_name == f"stats.data.k_{REDACTED}"
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if ".sqlite3" in p.name)
    assert b"s3cr3tT0ken" not in raw and b"echo_[REDACTED]" in raw
