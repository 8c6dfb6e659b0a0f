"""The fault grammar of ``portal-tui simulate --faults SPEC``.

::

    SPEC   := ITEM ("," ITEM)*            whitespace is ignored; "" or "none" = no faults
    ITEM   := KIND ["@" SCOPE] ["=" ARGS]
    SCOPE  := WORKSPACE_ID | ENDPOINT | WORKSPACE_ID "/" ENDPOINT
    ARGS   := ARG (":" ARG)*              positional args first, then NAME=VALUE args
    ENDPOINT := workspaces | switch-workspace | stats | sending-schedules | sender-emails

Every kind also takes ``rate=P`` (probability per matching request, default 1)
and ``first=K`` (only the first K matching requests are affected).

==============  ===================================  =======================================
kind            positional args                      named args
==============  ===================================  =======================================
latency         fixed:S | uniform:LO:HI |            cap=S
                lognormal:MEDIAN:SIGMA | S
5xx             [RATE]                               codes=500/502/503
429             [RATE]                               retry_after=S | retry_after_date=S |
                                                     retry_after=none
hang            [RATE]                               for=S (default: forever)
reset           [RATE]                               at=FRACTION of body sent (0 = none)
malformed       [RATE]
truncate        [RATE]                               at=FRACTION kept
trickle         [RATE]                               bps=BYTES_PER_S, chunk=BYTES
drift           MODE[:FIELD]                         MODE: missing|wrong_type|extra|strings|
                                                     implausible
revoked         [RATE]
dup             [COUNT]                              from=WORKSPACE_ID
empty           [RATE]
loop            [RATE]                               (sender-emails)
early_end       [EXTRA_ROWS]                         (sender-emails)
down            [refuse|reset]                       (whole instance; no scope)
echo_token      [PLACE[:PLACE...]]                   PLACE: value|name|number|error
                                                     (default value:name)
huge            [BYTES]                              (default 50000000)
fail_first      K                                    status=CODE (default 503): = 5xx first=K
==============  ===================================  =======================================

Also ``decrease`` (stats counts lowered), ``percent`` (a ``*_percentage`` off its count),
``bad_email`` (addresses without @), ``vanish`` (workspaces missing from the list): see
:mod:`portal_tui.simulator.data_faults`.

Examples: ``5xx=0.2,429@3=1.0:retry_after=2,hang@5,revoked@7,drift@2=missing:interested,
latency=lognormal:0.05:1.0,fail_first@9/sender-emails=2,down``.
"""

from __future__ import annotations

from portal_tui.simulator.data_faults import BUILDERS as DATA_FAULT_BUILDERS
from portal_tui.simulator.fault_args import Builder, FaultArgs, FaultScope
from portal_tui.simulator.fault_kinds import (
    ConnectionReset,
    DriftMode,
    DuplicateEmails,
    EarlyEnd,
    EchoToken,
    EmptyData,
    Fault,
    Hang,
    HugeBody,
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
)
from portal_tui.upstream.endpoints import Endpoint

_ENDPOINT_NAMES: dict[str, Endpoint] = {e.value: e for e in Endpoint}
_ENDPOINT_NAMES.update(
    {
        "schedules": Endpoint.SCHEDULES,
        "mailboxes": Endpoint.SENDER_EMAILS,
        "switch": Endpoint.SWITCH_WORKSPACE,
    }
)


def _rate_only(cls: type[Fault]) -> Builder:
    def build(args: FaultArgs) -> Fault:
        common = args.common(True)
        args.finish()
        return cls(**common)

    return build


def _latency(args: FaultArgs) -> Fault:
    common = args.common(False)
    cap_text = args.pop("cap")
    cap = None if cap_text is None else args.number("cap", cap_text)
    pos = args.positional
    if not pos:
        raise ValueError(
            "latency needs a distribution: fixed:S, uniform:LO:HI or lognormal:MEDIAN:SIGMA"
        )
    shape = pos[0]
    if shape not in ("fixed", "uniform", "lognormal"):
        model = LatencyModel("fixed", args.number("latency", shape), cap=cap)
        args.take_positional(1)
    elif shape == "fixed":
        args.take_positional(2)
        if len(pos) < 2:
            raise ValueError("fixed latency needs seconds: fixed:S")
        model = LatencyModel("fixed", args.number("seconds", pos[1]), cap=cap)
    else:
        args.take_positional(3)
        if len(pos) < 3:
            names = "LO:HI" if shape == "uniform" else "MEDIAN:SIGMA"
            raise ValueError(f"{shape} latency needs two numbers: {shape}:{names}")
        first, second = args.number(shape, pos[1]), args.number(shape, pos[2])
        if shape == "uniform":
            if second < first:
                raise ValueError("uniform latency needs LO <= HI")
            model = LatencyModel("uniform", first, second, cap)
        else:
            model = LatencyModel("lognormal", first, second, cap)
    args.finish()
    return Latency(model=model, **common)


def _server_error(args: FaultArgs) -> Fault:
    common = args.common(True)
    codes_text = args.pop("codes")
    args.finish()
    if codes_text is None:
        return ServerError(**common)
    codes = tuple(args.integer("codes", c) for c in codes_text.split("/"))
    return ServerError(codes=codes, **common)


def _fail_first(args: FaultArgs) -> Fault:
    given = args.take_positional(1)
    if not given:
        raise ValueError("fail_first needs a count: fail_first=K")
    count = args.integer("count", given[0])
    status = args.integer("status", args.pop("status") or "503", low=500)
    args.finish()
    return ServerError(
        codes=(status,),
        first=count,
        workspace_id=args.scope.get("workspace_id"),
        endpoint=args.scope.get("endpoint"),
    )


def _rate_limited(args: FaultArgs) -> Fault:
    common = args.common(True)
    delta, date = args.pop("retry_after"), args.pop("retry_after_date")
    args.finish()
    if delta is not None and date is not None:
        raise ValueError("give retry_after or retry_after_date, not both")
    if date is not None:
        seconds = args.number("retry_after_date", date)
        return RateLimited(retry_after=seconds, http_date=True, **common)
    if delta is not None and delta.lower() == "none":
        return RateLimited(retry_after=None, **common)
    seconds = 1.0 if delta is None else args.number("retry_after", delta)
    return RateLimited(retry_after=seconds, **common)


def _hang(args: FaultArgs) -> Fault:
    common = args.common(True)
    duration = args.pop("for")
    args.finish()
    seconds = None if duration is None else args.number("for", duration)
    return Hang(seconds=seconds, **common)


def _fraction_kind(cls: type[ConnectionReset] | type[TruncatedBody]) -> Builder:
    def build(args: FaultArgs) -> Fault:
        common = args.common(True)
        at = args.pop("at")
        args.finish()
        fraction = 0.5 if at is None else args.number("at", at, high=1.0)
        return cls(at=fraction, **common)

    return build


def _trickle(args: FaultArgs) -> Fault:
    common = args.common(True)
    bps, chunk = args.pop("bps"), args.pop("chunk")
    args.finish()
    return SlowTrickle(
        bytes_per_second=256.0 if bps is None else args.number("bps", bps, low=1e-6),
        chunk=64 if chunk is None else args.integer("chunk", chunk, low=1),
        **common,
    )


def _drift(args: FaultArgs) -> Fault:
    common = args.common(False)
    pos = args.take_positional(2)
    args.finish()
    modes = ", ".join(m.value for m in DriftMode)
    if not pos:
        raise ValueError(f"drift needs a mode ({modes}), e.g. drift=missing:interested")
    try:
        mode = DriftMode(pos[0])
    except ValueError:
        raise ValueError(f"unknown drift mode {pos[0]!r} (use one of: {modes})") from None
    field = pos[1] if len(pos) > 1 else ("*" if mode is DriftMode.STRINGS else "")
    if not field:
        raise ValueError(f"drift {mode.value} needs a field: drift={mode.value}:FIELD")
    return SchemaDrift(mode=mode, field=field, **common)


def _duplicates(args: FaultArgs) -> Fault:
    common = args.common(False)
    pos = args.take_positional(1)
    source = args.pop("from")
    args.finish()
    count = 3 if not pos else args.integer("count", pos[0], low=1)
    origin = None if source is None else args.integer("from", source)
    return DuplicateEmails(count=count, from_workspace=origin, **common)


def _early_end(args: FaultArgs) -> Fault:
    common = args.common(False)
    pos = args.take_positional(1)
    args.finish()
    extra = None if not pos else args.integer("extra rows", pos[0], low=1)
    return EarlyEnd(extra=extra, **common)


def _down(args: FaultArgs) -> Fault:
    common = args.common(False)
    pos = args.take_positional(1)
    args.finish()
    mode = pos[0] if pos else "refuse"
    if mode not in ("refuse", "reset"):
        raise ValueError(f"down mode must be refuse or reset, got {mode!r}")
    return InstanceDown(mode="refuse" if mode == "refuse" else "reset", **common)


def _echo_token(args: FaultArgs) -> Fault:
    common = args.common(False)
    places = args.positional
    args.finish()
    if not places:
        return EchoToken(**common)
    return EchoToken(places=tuple(places), **common)


def _huge(args: FaultArgs) -> Fault:
    common = args.common(False)
    pos = args.take_positional(1)
    args.finish()
    if not pos:
        return HugeBody(**common)
    return HugeBody(size=args.integer("size", pos[0], low=1), **common)


_BUILDERS: dict[str, Builder] = {
    "latency": _latency,
    "5xx": _server_error,
    "fail_first": _fail_first,
    "429": _rate_limited,
    "hang": _hang,
    "reset": _fraction_kind(ConnectionReset),
    "malformed": _rate_only(MalformedJson),
    "truncate": _fraction_kind(TruncatedBody),
    "trickle": _trickle,
    "drift": _drift,
    "revoked": _rate_only(RevokedToken),
    "dup": _duplicates,
    "duplicates": _duplicates,
    "empty": _rate_only(EmptyData),
    "loop": _rate_only(PaginationLoop),
    "early_end": _early_end,
    "down": _down,
    "echo_token": _echo_token,
    "huge": _huge,
    **DATA_FAULT_BUILDERS,
}
KINDS: tuple[str, ...] = tuple(_BUILDERS)
"""Every kind name the grammar accepts."""


def _scope(text: str | None) -> FaultScope:
    if text is None:
        return FaultScope()
    if not text:
        raise ValueError("empty scope after '@'")
    workspace_text, _, endpoint_text = text.partition("/")
    if not endpoint_text and not workspace_text.lstrip("-").isdigit():
        workspace_text, endpoint_text = "", workspace_text
    scope = FaultScope()
    if workspace_text:
        if not workspace_text.isdigit():
            raise ValueError(f"workspace id must be a whole number, got {workspace_text!r}")
        scope["workspace_id"] = int(workspace_text)
    if endpoint_text:
        endpoint = _ENDPOINT_NAMES.get(endpoint_text)
        if endpoint is None:
            names = ", ".join(e.value for e in Endpoint)
            raise ValueError(f"unknown endpoint {endpoint_text!r} (use one of: {names})")
        scope["endpoint"] = endpoint
    return scope


def parse_fault(item: str) -> Fault:
    """One ``ITEM`` of the grammar as a :class:`Fault`; :class:`ValueError` if bad."""
    head, has_args, raw_args = item.partition("=")
    kind, has_scope, scope_text = head.partition("@")
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")
    if has_args and not raw_args:
        raise ValueError("nothing after '='")
    scope = _scope(scope_text if has_scope else None)
    return builder(FaultArgs(kind, raw_args, scope))


def parse_faults(spec: str) -> list[Fault]:
    """Every fault in ``spec``; a bad item raises :class:`ValueError` naming it."""
    text = "".join(spec.split())
    if text in ("", "none"):
        return []
    faults: list[Fault] = []
    for number, item in enumerate(text.split(","), start=1):
        if not item:
            raise ValueError(f"fault spec item {number} is empty (stray comma?)")
        try:
            faults.append(parse_fault(item))
        except ValueError as exc:
            raise ValueError(f"bad fault spec item {number} {item!r}: {exc}") from None
    return faults
