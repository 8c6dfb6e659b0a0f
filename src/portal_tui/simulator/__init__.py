"""A faithful stand-in for the Email Bison API (SPEC section 9).

Typical use::

    dataset = generate_dataset(27, seed=1)                 # or Dataset([SimWorkspace(...)])
    sim = Simulator(dataset, FaultSet.parse("5xx@3=0.5"), FakeClock())
    client = httpx.AsyncClient(transport=sim.transport(), base_url="http://simulator.local/api")

    async with serve_simulator(sim) as server:             # real loopback HTTP
        server.base_url                                    # http://127.0.0.1:PORT/api

Modules: :mod:`.data` (hand-built workspaces, the dataset), :mod:`.generate`
(seeded lazy data), :mod:`.faults` / :mod:`.fault_kinds` / :mod:`.fault_spec`
(what can go wrong and its grammar), :mod:`.endpoints` (payloads),
:mod:`.core` (the simulator), :mod:`.transport` (in-process httpx),
:mod:`.server` (HTTP and the ``simulate`` command), :mod:`.http_wire`, :mod:`.demo`.
"""

from __future__ import annotations

from portal_tui.simulator.core import DEFAULT_LATENCY, Simulator
from portal_tui.simulator.data import (
    Dataset,
    DayStats,
    SimMailbox,
    SimSchedule,
    SimTag,
    SimWorkspace,
    WorkspaceData,
    stats_between,
    tag,
)
from portal_tui.simulator.demo import (
    DEMO_BASE_URL,
    DEMO_INSTANCE,
    DEMO_MASTER_TOKEN_ENV,
    DemoSetup,
    build_demo,
    demo_fault_spec,
)
from portal_tui.simulator.exchange import (
    DEMO_ORIGIN,
    Delivery,
    RequestRecord,
    SimCounters,
    SimRequest,
    SimResponse,
)
from portal_tui.simulator.fault_spec import parse_faults
from portal_tui.simulator.faults import (
    ConnectionReset,
    DriftMode,
    DuplicateEmails,
    EarlyEnd,
    EchoToken,
    EmptyData,
    Fault,
    FaultSet,
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
from portal_tui.simulator.generate import (
    DEFAULT_SEED,
    DEFAULT_WORKSPACES,
    GeneratedWorkspace,
    VolumeProfile,
    generate_dataset,
)
from portal_tui.simulator.server import MASTER_TOKEN_ENV, SimulatorServer, run, serve_simulator
from portal_tui.simulator.transport import SimulatorTransport

__all__ = [
    "DEFAULT_LATENCY",
    "DEFAULT_SEED",
    "DEFAULT_WORKSPACES",
    "DEMO_BASE_URL",
    "DEMO_INSTANCE",
    "DEMO_MASTER_TOKEN_ENV",
    "DEMO_ORIGIN",
    "MASTER_TOKEN_ENV",
    "ConnectionReset",
    "Dataset",
    "DayStats",
    "Delivery",
    "DemoSetup",
    "DriftMode",
    "DuplicateEmails",
    "EarlyEnd",
    "EchoToken",
    "EmptyData",
    "Fault",
    "FaultSet",
    "GeneratedWorkspace",
    "Hang",
    "HugeBody",
    "InstanceDown",
    "Latency",
    "LatencyModel",
    "MalformedJson",
    "PaginationLoop",
    "RateLimited",
    "RequestRecord",
    "RevokedToken",
    "SchemaDrift",
    "ServerError",
    "SimCounters",
    "SimMailbox",
    "SimRequest",
    "SimResponse",
    "SimSchedule",
    "SimTag",
    "SimWorkspace",
    "Simulator",
    "SimulatorServer",
    "SimulatorTransport",
    "SlowTrickle",
    "TruncatedBody",
    "VolumeProfile",
    "WorkspaceData",
    "build_demo",
    "demo_fault_spec",
    "generate_dataset",
    "parse_faults",
    "run",
    "serve_simulator",
    "stats_between",
    "tag",
]
