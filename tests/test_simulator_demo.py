"""``--demo`` wiring: a valid config, fake tokens kept out of the environment, a live transport."""

from __future__ import annotations

import os

import httpx

from portal_tui.config import Config
from portal_tui.simulator import (
    DEMO_BASE_URL,
    DEMO_INSTANCE,
    DEMO_MASTER_TOKEN_ENV,
    FaultSet,
    GeneratedWorkspace,
    VolumeProfile,
    build_demo,
    demo_fault_spec,
)
from portal_tui.upstream.models import StatsResponse, WorkspacesResponse
from portal_tui.vocabulary.clock import FakeClock


def test_demo_config_registry_and_tokens() -> None:
    before = dict(os.environ)
    setup = build_demo(clock=FakeClock())
    assert dict(os.environ) == before  # nothing exported
    config = setup.config
    Config.model_validate(config.model_dump())
    (instance,) = config.instances
    assert (instance.name, instance.base_url) == (DEMO_INSTANCE, DEMO_BASE_URL)
    assert instance.master_token_env == DEMO_MASTER_TOKEN_ENV
    assert setup.tokens[DEMO_MASTER_TOKEN_ENV] == setup.dataset.master_token
    assert setup.env is setup.tokens and setup.secrets().missing(config) == []

    workspaces = setup.dataset.workspaces
    assert len(workspaces) == 27 and len(config.clients) == 24
    names = {c.name.lower() for c in config.clients}
    unlisted = [w for w in workspaces if w.name.lower() not in names]
    assert len(unlisted) == 3  # shown with "no registry entry"
    by_id = [c for c in config.clients if c.id is not None]
    assert len(by_id) == 1 and by_id[0].id == workspaces[4].id
    with_key = [c for c in config.clients if c.api_key_env]
    assert len(with_key) == 21 and len(setup.tokens) == 22  # 3 registered use the master token
    for client in with_key:
        assert client.api_key_env is not None
        owner = next(w for w in workspaces if w.name.lower() == client.name.lower())
        assert setup.tokens[client.api_key_env] == owner.token
    assert {c.billing_type for c in config.clients} == {"per_lead", "retainer"}
    assert all(c.monthly_kpi > 0 for c in config.clients if c.monthly_sending_target > 30_000)
    zero = [w for w in workspaces if isinstance(w, GeneratedWorkspace) and w.daily_volume == 0]
    assert zero and all(w.profile is VolumeProfile.ZERO for w in zero)
    targets = {c.name: c.monthly_sending_target for c in config.clients}
    assert any(targets.get(w.name, 0) > 0 for w in zero)  # "zero emails but has a target"


def test_demo_faults_default_none_or_custom() -> None:
    setup = build_demo(clock=FakeClock())
    spec = demo_fault_spec(setup.dataset)
    assert setup.simulator.faults.spec() == FaultSet.parse(spec).spec()
    assert "latency=lognormal" in spec and "revoked@" in spec
    assert not build_demo(clock=FakeClock(), faults="").simulator.faults
    custom = FaultSet.parse("5xx=0.5")
    assert build_demo(clock=FakeClock(), faults=custom).simulator.faults is custom


async def test_demo_transport_serves_the_configured_tokens() -> None:
    setup = build_demo(clock=FakeClock(), faults="")
    master = {"Authorization": f"Bearer {setup.tokens[DEMO_MASTER_TOKEN_ENV]}"}
    async with httpx.AsyncClient(transport=setup.transport(), base_url=DEMO_BASE_URL) as client:
        listed = await client.get("workspaces/v1.1", headers=master)
        assert len(WorkspacesResponse.model_validate(listed.json()).data) == 27
        for client_entry in setup.config.clients:
            if client_entry.api_key_env is None:
                continue
            token = setup.tokens[client_entry.api_key_env]
            reply = await client.get(
                "workspaces/v1.1/stats",
                params={"start_date": "2026-11-01", "end_date": "2026-11-21"},
                headers={"Authorization": f"Bearer {token}"},
            )
            StatsResponse.model_validate(reply.json())
