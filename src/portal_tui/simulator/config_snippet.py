"""The config ``simulate`` prints: a registry entry per workspace, then the instance.

With a registry, the first ``check`` against the simulator has targets and
billing for every workspace (no "no registry entry" warnings). Each entry is
one line (an inline table, matched by id), with the same seeded targets the
``--demo`` registry uses; every workspace is read through the master token,
the one token ``simulate`` asks the user to export.
"""

from __future__ import annotations

import json

from portal_tui.config import ClientEntry
from portal_tui.simulator.data import Dataset
from portal_tui.simulator.demo import _client_entry
from portal_tui.simulator.generate import GeneratedWorkspace

SNIPPET_INSTANCE = "simulator"


def registry_entries(dataset: Dataset) -> list[ClientEntry]:
    """A registry entry for every workspace of ``dataset``, matched by id, master token only
    (``instance`` is left out of the snippet: the only instance is the default)."""
    entries = []
    for position, workspace in enumerate(dataset.workspaces):
        if not isinstance(workspace, GeneratedWorkspace):
            continue
        entry = _client_entry(workspace, position, dataset.seed)
        entries.append(
            entry.model_copy(
                update={
                    "name": workspace.name,
                    "id": workspace.id,
                    "instance": SNIPPET_INSTANCE,
                    "api_key_env": None,
                }
            )
        )
    return entries


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def _inline(entry: ClientEntry) -> str:
    fields = ["name", "id", "monthly_kpi", "monthly_sending_target", "billing_type"]
    fields += ["retainer_amount"] if entry.billing_type == "retainer" else ["price_per_lead"]
    fields.append("monthly_costs")
    pairs = ", ".join(f"{name} = {_value(getattr(entry, name))}" for name in fields)
    return f"{{ {pairs} }},"


def config_snippet(dataset: Dataset, base_url: str, token_env: str) -> list[str]:
    """The TOML lines of a whole config pointing at the simulator (the registry first:
    top-level keys come before the ``[[instances]]`` table)."""
    lines = ["# the client registry: targets and billing per workspace", "clients = ["]
    lines += [f"  {_inline(entry)}" for entry in registry_entries(dataset)]
    lines += [
        "]",
        "",
        "[[instances]]",
        f'name = "{SNIPPET_INSTANCE}"',
        f'base_url = "{base_url}"',
        f'master_token_env = "{token_env}"',
    ]
    return lines
