"""Memory at scale (issue 5): what the core keeps alive, what it shares, how it parses.

The last cycle's outcome is kept without its per-request results (they hold
every payload); cached mailboxes share tag lists and empty extras; responses
are parsed by pydantic-core in one pass, with json.loads still deciding every
document pydantic-core's parser refuses, so classification is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from portal_tui.config import InstanceConfig
from portal_tui.fetch.compact import compact_mailboxes
from portal_tui.simulator import generate_dataset
from portal_tui.upstream.client import EmailBisonClient, PayloadError, Reply
from portal_tui.upstream.models import SenderEmailPage, StatsResponse
from portal_tui.vocabulary.errors import ErrorType
from support import STATS_PAYLOAD, rig


async def test_the_monitor_keeps_the_last_outcome_without_its_payloads(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        outcome = await r.monitor.refresh()
        assert outcome is not None and outcome.results  # the caller gets all of it
        kept = r.monitor.last_outcome
        assert kept is not None and kept is not outcome
        assert kept.results == {} and kept.api_calls == [] and outcome.api_calls
        assert (kept.finished_at, kept.requests_made) == (
            outcome.finished_at,
            outcome.requests_made,
        )
        assert kept.workspace_names == outcome.workspace_names


def _page() -> SenderEmailPage:
    dataset = generate_dataset(3, seed=5, mailboxes_total=300)
    rows = [m.payload() for w in dataset.workspaces for m in w.mailboxes(0, w.mailbox_count)]
    rows[0]["tags"] = [{"id": 1, "name": "odd", "nested": {"x": 1}}]  # not shareable
    rows[1]["surprise"] = "kept"  # an unknown field: its own extras
    meta = {"current_page": 1, "last_page": 1, "per_page": 300, "total": 300}
    return SenderEmailPage.model_validate({"data": rows, "meta": meta})


def test_compaction_shares_tag_lists_and_empty_extras_and_changes_no_value() -> None:
    page = _page()
    before = [m.model_dump() for m in page.data]
    odd_list = page.data[0].tags
    compact_mailboxes(page.data)
    assert [m.model_dump() for m in page.data] == before
    plain = page.data[2:]
    combos = {tuple((t.id, t.name) for t in m.tags) for m in plain}
    assert len({id(m.tags) for m in plain}) == len(combos) < len(plain)
    assert len({id(m.__pydantic_extra__) for m in plain}) == 1
    assert page.data[0].tags is odd_list  # a one-off tag is not registered for ever
    assert page.data[1].model_extra == {"surprise": "kept"}
    copy = plain[0].model_copy(update={"surprise": 1})  # a copy gets its own extras
    assert copy.model_extra == {"surprise": 1} and plain[1].model_extra == {}


def _classify(body: bytes) -> Reply | PayloadError:
    client = EmailBisonClient(InstanceConfig(name="t", base_url="https://bison.test/api"))
    try:
        return client._classify(httpx.Response(200, content=body), body, StatsResponse)
    except PayloadError as exc:
        return exc


def test_unknown_fields_are_read_from_the_parsed_payload() -> None:
    got = _classify(json.dumps({"data": {**STATS_PAYLOAD, "new_metric": 1}, "extra": 2}).encode())
    assert isinstance(got, Reply)
    assert got.unknown_fields == frozenset({"new_metric"})  # top level of data only


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # pydantic-core refuses these; json.loads reads them, as the client always has.
        (json.dumps({"data": {**STATS_PAYLOAD, "note": "\ud800"}}).encode(), None),
        (
            json.dumps(
                {"data": {**STATS_PAYLOAD, "deep": json.loads("[" * 300 + "]" * 300)}}
            ).encode(),
            None,
        ),
        # ... and these both refuse: json.loads words the error, as before.
        (b'{"data": {"emails_sent": ' + b"9" * 5_000 + b"}}", "unreadable JSON ("),
        (b'{"data": ', "malformed JSON at byte 9 (9 bytes)"),
        (b"\xff\xfe{", "malformed JSON at byte"),
        # valid JSON, wrong shape: pydantic's first error, with the count of the rest
        (b'{"data": {"emails_sent": "x"}}', "schema mismatch: data.emails_sent: "),
    ],
    ids=["lone surrogate", "nesting 300", "5000 digits", "truncated", "not utf-8", "schema"],
)
def test_classification_is_unchanged_by_the_one_pass_parser(
    body: bytes, expected: str | None
) -> None:
    got = _classify(body)
    if expected is None:
        assert isinstance(got, Reply) and isinstance(got.payload, StatsResponse)
        return
    assert isinstance(got, PayloadError) and got.error_type is ErrorType.VALIDATION
    assert got.message.startswith(expected), got.message
    assert (got.validation is not None) == expected.startswith("schema")
