"""``--demo``: a ready config, tokens and an in-process simulator, with no network.

The tokens are handed back as a mapping (environment variable name → fake
token) for :class:`portal_tui.config.Secrets`; nothing is written to
``os.environ``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from portal_tui.config import ClientEntry, Config, InstanceConfig, Secrets, StorageConfig
from portal_tui.simulator import seeded
from portal_tui.simulator.core import DEMO_ORIGIN, Simulator
from portal_tui.simulator.data import Dataset
from portal_tui.simulator.endpoints import API_PREFIX
from portal_tui.simulator.faults import FaultSet
from portal_tui.simulator.generate import (
    DEFAULT_SEED,
    DEFAULT_WORKSPACES,
    GeneratedWorkspace,
    generate_dataset,
)
from portal_tui.vocabulary.clock import Clock

DEMO_INSTANCE = "demo"
DEMO_BASE_URL = DEMO_ORIGIN + API_PREFIX
DEMO_MASTER_TOKEN_ENV = "PORTAL_TUI_DEMO_MASTER_TOKEN"

# Positions (in list order) of workspaces with a special role in the demo.
_NO_REGISTRY_ENTRY = frozenset({7, 16, 25})
# Workspaces read through the master token (switch + fetch under a lock, so
# serialised); every other registered workspace has its own api-user token,
# as SPEC section 1 recommends for parallelism.
_MASTER_TOKEN_ONLY = frozenset({0, 2, 5})
_MATCHED_BY_ID = 4
_LOWER_CASE_NAME = 2


@dataclass(frozen=True)
class DemoSetup:
    """Everything ``--demo`` needs: the config, the fake tokens and the simulator."""

    config: Config
    tokens: dict[str, str]
    """Environment variable name → fake token (never exported to the real environment)."""
    simulator: Simulator

    @property
    def env(self) -> dict[str, str]:
        """Same as :attr:`tokens`: an environment-like mapping for :class:`Secrets`."""
        return self.tokens

    @property
    def dataset(self) -> Dataset:
        """The simulated instance's data."""
        return self.simulator.dataset

    def secrets(self) -> Secrets:
        """A :class:`Secrets` that resolves the demo's token variables."""
        return Secrets(self.tokens)

    def transport(self) -> httpx.AsyncBaseTransport:
        """The in-process transport for the ``demo`` instance."""
        return self.simulator.transport()


def demo_fault_spec(dataset: Dataset) -> str:
    """The demo's default faults: realistic latency and a few troubled workspaces.

    One flaky workspace (5xx 30 %), one rate-limited, one failing its first
    two calls then recovering, one with a revoked api-user token, one whose
    mailboxes duplicate its neighbour's, one sending numbers as strings.
    """
    ids = [w.id for w in dataset.workspaces]
    items = ["latency=lognormal:0.08:0.5:cap=1.5"]
    wanted = [
        (5, "5xx@{}=0.3"),
        (6, "429@{}=0.25:retry_after=1"),
        (8, "fail_first@{}=2"),
        (3, "revoked@{}"),
        (10, "dup@{}=2"),
        (12, "drift@{}/stats=strings"),
    ]
    items += [template.format(ids[i]) for i, template in wanted if i < len(ids)]
    return ",".join(items)


def _client_entry(workspace: GeneratedWorkspace, position: int, seed: int) -> ClientEntry:
    u = seeded.units(seed, "demo-registry", workspace.id)
    volume = workspace.daily_volume
    if volume > 0:
        target = max(1000, round(volume * 22 * (0.75 + 0.6 * u[0]) / 1000) * 1000)
        kpi = max(5, round(volume * 0.097 * (0.7 + 0.7 * u[1])))
    else:  # the first paused client keeps a target, so "zero emails but has a target" shows
        target, kpi = (30_000, 10) if position % 18 == 4 else (0, 0)
    retainer = position % 3 == 0
    env = f"PORTAL_TUI_DEMO_WS_{workspace.id}_TOKEN" if position not in _MASTER_TOKEN_ONLY else None
    name = workspace.name.lower() if position == _LOWER_CASE_NAME else workspace.name
    return ClientEntry(
        name=name,
        id=workspace.id if position == _MATCHED_BY_ID else None,
        instance=DEMO_INSTANCE,
        monthly_kpi=kpi,
        monthly_sending_target=target,
        billing_type="retainer" if retainer else "per_lead",
        price_per_lead=0.0 if retainer else float(40 + 5 * int(u[2] * 23)),
        retainer_amount=float(2000 + 500 * int(u[3] * 9)) if retainer else 0.0,
        monthly_costs=float(150 + 50 * int(u[4] * 16)),
        api_key_env=env,
    )


def build_demo(
    *,
    clock: Clock | None = None,
    seed: int = DEFAULT_SEED,
    workspaces: int = DEFAULT_WORKSPACES,
    faults: str | FaultSet | Literal["default"] = "default",
    storage_path: Path | None = None,
    max_per_page: int = 100,
) -> DemoSetup:
    """A generated instance, its registry and tokens, ready for ``--demo``.

    ``faults``: ``"default"`` for :func:`demo_fault_spec`, ``""`` for none, or
    any spec / :class:`FaultSet`. Most workspaces get a registry entry with
    KPI, sending target and billing; three (positions 7, 16, 25) get none;
    three (positions 0, 2 and 5) are read through the master token, the rest
    with their own api-user token.
    """
    dataset = generate_dataset(workspaces, seed=seed)
    if isinstance(faults, FaultSet):
        fault_set = faults
    else:
        spec = demo_fault_spec(dataset) if faults == "default" else faults
        fault_set = FaultSet.parse(spec, seed=seed)
    simulator = Simulator(dataset, fault_set, clock, max_per_page=max_per_page)

    clients: list[ClientEntry] = []
    tokens = {DEMO_MASTER_TOKEN_ENV: dataset.master_token}
    for position, workspace in enumerate(dataset.workspaces):
        if position in _NO_REGISTRY_ENTRY or not isinstance(workspace, GeneratedWorkspace):
            continue
        entry = _client_entry(workspace, position, seed)
        clients.append(entry)
        if entry.api_key_env is not None:
            tokens[entry.api_key_env] = workspace.token
    instance = InstanceConfig(
        name=DEMO_INSTANCE,
        base_url=DEMO_BASE_URL,
        master_token_env=DEMO_MASTER_TOKEN_ENV,
        sender_emails_per_page=min(100, max_per_page),
    )
    storage = StorageConfig(path=storage_path) if storage_path is not None else StorageConfig()
    config = Config(instances=[instance], clients=clients, storage=storage)
    return DemoSetup(config=config, tokens=tokens, simulator=simulator)
