"""The fault grammar and the run-time FaultSet (no transport involved)."""

from __future__ import annotations

import pytest

from portal_tui.simulator import (
    ConnectionReset,
    DriftMode,
    DuplicateEmails,
    EarlyEnd,
    EmptyData,
    FaultSet,
    Hang,
    InstanceDown,
    Latency,
    LatencyModel,
    MalformedJson,
    PaginationLoop,
    RateLimited,
    RevokedToken,
    SchemaDrift,
    ServerError,
    SlowTrickle,
    TruncatedBody,
    parse_faults,
)
from portal_tui.upstream.endpoints import Endpoint


def test_the_briefs_example_parses() -> None:
    spec = (
        "5xx=0.2,429@3=1.0:retry_after=2,hang@5,revoked@7,drift@2=missing:interested,"
        "latency=lognormal:0.05:1.0"
    )
    server, limited, hang, revoked, drift, latency = parse_faults(spec)
    assert isinstance(server, ServerError) and server.rate == 0.2 and server.workspace_id is None
    assert server.codes == (500, 502, 503)
    assert isinstance(limited, RateLimited) and limited.workspace_id == 3
    assert limited.retry_after == 2 and not limited.http_date
    assert isinstance(hang, Hang) and hang.workspace_id == 5 and hang.seconds is None
    assert isinstance(revoked, RevokedToken) and revoked.workspace_id == 7
    assert isinstance(drift, SchemaDrift) and drift.mode is DriftMode.MISSING
    assert drift.field == "interested" and drift.workspace_id == 2
    assert isinstance(latency, Latency)
    assert latency.model == LatencyModel.lognormal(0.05, 1.0)


def test_every_kind_and_option_parses() -> None:
    spec = (
        "latency@sender-emails=uniform:0.1:0.3:cap=0.2, latency@4=0.5, latency@4/stats=fixed:2,"
        "5xx@9/sender-emails=0.5:codes=502/504:first=3, 429=retry_after_date=30,"
        "429=retry_after=none, hang=0.1:for=600, reset=at=0, malformed@schedules,"
        "truncate=at=0.25, trickle=bps=100:chunk=8, drift=strings,"
        "drift@stats=wrong_type:emails_sent, drift=extra:brand_new, dup@3=2:from=5,"
        "empty@8, loop@2, early_end@2=40, down=reset, fail_first@6=2:status=502"
    )
    faults = parse_faults(spec)
    kinds = [type(f) for f in faults]
    assert kinds == [
        Latency, Latency, Latency, ServerError, RateLimited, RateLimited, Hang, ConnectionReset,
        MalformedJson, TruncatedBody, SlowTrickle, SchemaDrift, SchemaDrift, SchemaDrift,
        DuplicateEmails, EmptyData, PaginationLoop, EarlyEnd, InstanceDown, ServerError,
    ]  # fmt: skip
    by_index = dict(enumerate(faults))
    assert by_index[0].endpoint is Endpoint.SENDER_EMAILS
    assert by_index[1].workspace_id == 4 and by_index[2].endpoint is Endpoint.STATS
    five = by_index[3]
    assert isinstance(five, ServerError) and five.codes == (502, 504) and five.first == 3
    assert isinstance(by_index[4], RateLimited) and by_index[4].http_date
    assert isinstance(by_index[5], RateLimited) and by_index[5].retry_after is None
    assert isinstance(by_index[8], MalformedJson) and by_index[8].endpoint is Endpoint.SCHEDULES
    dup = by_index[14]
    assert isinstance(dup, DuplicateEmails) and (dup.count, dup.from_workspace) == (2, 5)
    down = by_index[18]
    assert isinstance(down, InstanceDown) and down.mode == "reset"
    fail_first = by_index[19]
    assert isinstance(fail_first, ServerError) and fail_first.codes == (502,)
    assert fail_first.first == 2 and fail_first.workspace_id == 6


def test_spec_round_trips() -> None:
    spec = (
        "latency=lognormal:0.05:1:cap=2,5xx@3/stats=0.25:codes=503,429@4=retry_after_date=5,"
        "hang@5=for=60,reset=at=0,drift@2=missing:interested,dup@3=2:from=5,early_end@2=7,down"
    )
    once = FaultSet.parse(spec).spec()
    assert FaultSet.parse(once).spec() == once
    assert "429@4=retry_after_date=5" in once and "5xx@3/stats=codes=503:rate=0.25" in once


@pytest.mark.parametrize("spec", ["", "  ", "none"])
def test_empty_spec_means_no_faults(spec: str) -> None:
    assert parse_faults(spec) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus", "unknown fault kind 'bogus'"),
        ("5xx=2", "rate must be between 0 and 1"),
        ("5xx=0.1,", "item 2 is empty"),
        ("5xx@abc=0.1", "unknown endpoint 'abc'"),
        ("5xx@3/nowhere", "unknown endpoint 'nowhere'"),
        ("5xx@x3/stats", "workspace id must be a whole number"),
        ("5xx@=1", "empty scope"),
        ("5xx=", "nothing after '='"),
        ("5xx=0.1:colour=red", "does not take colour"),
        ("5xx=0.1:codes=404", "codes must be between 500 and 599"),
        ("5xx=0.1:0.2", "at most 1 positional"),
        ("latency", "needs a distribution"),
        ("latency=lognormal:1", "needs two numbers"),
        ("latency=uniform:2:1", "LO <= HI"),
        ("latency=fast", "must be a number"),
        ("drift", "needs a mode"),
        ("drift=missing", "needs a field"),
        ("drift=sideways:x", "unknown drift mode 'sideways'"),
        ("429=1:retry_after=soon", "retry_after must be a number"),
        ("429=retry_after=1:retry_after_date=1", "not both"),
        ("down@3", "takes no @scope"),
        ("down=sideways", "refuse or reset"),
        ("trickle=bps=0", "bps must be >= 1e-06"),
        ("fail_first", "needs a count"),
        ("dup=0", "count must be >= 1"),
        ("reset=at=2", "at must be between 0 and 1"),
        ("hang=first=-1", "first must be >= 0"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_faults(spec)
    text = str(caught.value)
    assert message in text
    assert "fault spec item" in text


def test_first_budget_then_recovery() -> None:
    faults = FaultSet([ServerError(workspace_id=3, first=2)])
    hits = [faults.fire(ServerError, 3, Endpoint.STATS, "k") is not None for _ in range(4)]
    assert hits == [True, True, False, False]
    assert faults.fire(ServerError, 4, Endpoint.STATS, "k") is None  # out of scope


def test_rates_are_seeded_and_roughly_right() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = FaultSet([ServerError(rate=0.3)], seed=seed)
        keys = [f"stats|{i}" for i in range(500)]
        return [faults.fire(ServerError, None, Endpoint.STATS, k) is not None for k in keys]

    first, again, other = pattern(1), pattern(1), pattern(2)
    assert first == again and first != other
    assert 0.22 < sum(first) / len(first) < 0.38


def test_retries_of_one_request_roll_afresh() -> None:
    faults = FaultSet([ServerError(rate=0.5)], seed=4)
    rolls = [faults.fire(ServerError, 1, Endpoint.STATS, "same") is not None for _ in range(40)]
    assert any(rolls) and not all(rolls)


def test_scope_endpoint_and_workspace() -> None:
    only = ServerError(workspace_id=3, endpoint=Endpoint.SENDER_EMAILS)
    assert only.matches(3, Endpoint.SENDER_EMAILS)
    assert not only.matches(3, Endpoint.STATS) and not only.matches(4, Endpoint.SENDER_EMAILS)
    assert ServerError().matches(None, None)


def test_latency_most_specific_wins_and_later_breaks_ties() -> None:
    faults = FaultSet(
        [
            Latency(model=LatencyModel.fixed(1)),
            Latency(model=LatencyModel.fixed(2), endpoint=Endpoint.STATS),
            Latency(model=LatencyModel.fixed(3), workspace_id=5),
        ]
    )
    assert faults.latency(1, Endpoint.SCHEDULES) == LatencyModel.fixed(1)
    assert faults.latency(1, Endpoint.STATS) == LatencyModel.fixed(2)
    assert faults.latency(5, Endpoint.STATS) == LatencyModel.fixed(3)
    faults.add(Latency(model=LatencyModel.fixed(4)))
    assert faults.latency(1, Endpoint.SCHEDULES) == LatencyModel.fixed(4)


def test_latency_models_sample_sensibly() -> None:
    assert LatencyModel.fixed(0.2).sample(0.9, 0.1) == 0.2
    assert LatencyModel.uniform(1, 3).sample(0.5, 0.0) == 2
    lognormal = LatencyModel.lognormal(0.1, 0.8, cap=1.0)
    draws = [lognormal.sample(i / 100, (i * 37 % 100) / 100) for i in range(100)]
    assert all(0 < d <= 1.0 for d in draws)
    assert sorted(draws)[50] == pytest.approx(0.1, rel=0.6)
    with pytest.raises(ValueError):
        LatencyModel.uniform(2, 1)


def test_add_remove_clear_and_listeners() -> None:
    changes: list[int] = []
    faults = FaultSet()
    faults.subscribe(lambda: changes.append(len(faults)))
    a, b = ServerError(workspace_id=1), EmptyData(workspace_id=2)
    faults.add(a, b)
    added = faults.add_spec("down")
    assert faults.down() is added[0]
    faults.remove(*added)
    assert faults.down() is None
    faults.clear(workspace_id=1)
    assert list(faults) == [b]
    faults.clear()
    assert not faults and changes == [2, 3, 2, 1, 0]


def test_fault_objects_validate_themselves() -> None:
    with pytest.raises(ValueError, match="no @scope"):
        InstanceDown(workspace_id=1)
    with pytest.raises(ValueError, match="needs a field"):
        SchemaDrift(mode=DriftMode.MISSING)
    assert SchemaDrift(mode=DriftMode.STRINGS, workspace_id=2).spec() == "drift@2=strings"


def test_echo_token_and_huge_parse_and_round_trip() -> None:
    from portal_tui.simulator.faults import EchoToken, HugeBody

    echo, every, huge, default_huge = parse_faults(
        "echo_token@2/stats=number:name, echo_token, huge@3=1000, huge"
    )
    assert isinstance(echo, EchoToken) and echo.places == ("number", "name")
    assert echo.workspace_id == 2 and echo.endpoint is Endpoint.STATS
    assert isinstance(every, EchoToken) and every.places == ("value", "name")
    assert isinstance(huge, HugeBody) and huge.size == 1000 and huge.workspace_id == 3
    assert isinstance(default_huge, HugeBody) and default_huge.size == 50_000_000
    once = FaultSet.parse("echo_token@2=error,huge=77,drift=implausible:interested").spec()
    assert once == "echo_token@2=error,huge=77,drift=implausible:interested"
    assert FaultSet.parse(once).spec() == once
    for spec, message in (
        ("echo_token=sideways", "echo_token places are value, name, number, error"),
        ("huge=0", "size must be >= 1"),
        ("huge=1:2", "at most 1 positional"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_faults(spec)
