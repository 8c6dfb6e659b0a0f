"""What one benchmark row runs against: the simulated instance and the client's config.

Latencies are time-compressed so the whole suite runs in minutes: a median
of :data:`MEDIAN` seconds (the real API is nearer 0.2 s) with every timeout
and backoff scaled with it. Ratios (to the lower bound, between schedulers)
are what the rows compare; the client's CPU share is reported beside them
because compressed latencies make the client's own work look bigger, never
smaller, than it would in production.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from portal_tui.config import (
    BreakerConfig,
    ClientEntry,
    Config,
    InstanceConfig,
    RetryConfig,
    Secrets,
)
from portal_tui.simulator import Dataset, generate_dataset

INSTANCE = "bench"
MASTER_ENV = "BENCH_MASTER_TOKEN"
MEDIAN = 0.05
"""Median latency (s) of the lognormal rows."""
SIGMA = 1.0
CONCURRENCY = 5
"""The spec's default in-flight requests per instance (and the portal's batch size)."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One simulated instance: its size, page size, latency and faults."""

    workspaces: int
    mailboxes: int
    per_page: int = 100
    median: float = MEDIAN
    sigma: float = SIGMA
    hang_rate: float = 0.0
    seed: int = 1

    @property
    def cap(self) -> float:
        """Longest latency drawn: 20 medians (a lognormal's tail is long)."""
        return 20 * self.median

    @property
    def attempt_timeout(self) -> float:
        """Per-attempt timeout: 25 medians (at least 0.5 s), above the latency cap, so only
        hangs time out."""
        return max(25 * self.median, 0.5)

    @property
    def latency_spec(self) -> str:
        """For ``bench.simproc --latency``."""
        return f"lognormal:{self.median:g}:{self.sigma:g}:{self.cap:g}"

    @property
    def fault_spec(self) -> str:
        """For ``bench.simproc --faults``: hangs (forever, until the client gives up)."""
        return f"hang={self.hang_rate:g}" if self.hang_rate else ""

    def label(self) -> str:
        """``lognormal σ=1`` or ``lognormal σ=1 + 5 % hang``."""
        text = f"lognormal σ={self.sigma:g}"
        return text + (f" + {self.hang_rate:.0%} hang" if self.hang_rate else "")

    def dataset(self) -> Dataset:
        """The same dataset the simulator process builds (deterministic)."""
        return generate_dataset(self.workspaces, seed=self.seed, mailboxes_total=self.mailboxes)

    def with_hangs(self, rate: float) -> Upstream:
        """This upstream with ``rate`` of calls hanging until the attempt timeout."""
        return replace(self, hang_rate=rate)


def client_config(
    upstream: Upstream,
    base_url: str,
    *,
    concurrency: int = CONCURRENCY,
    api_user: bool = True,
    request_deadline: float | None = None,
) -> tuple[Config, Secrets]:
    """The client's config for ``upstream``: every workspace registered, tokens in a fake env.

    ``api_user``: every workspace has its own token (parallel); else all go
    through the master token (switch + fetch under the token's lock).
    Timeouts and backoffs are scaled with the latency median (module doc).
    """
    dataset = upstream.dataset()
    env = {MASTER_ENV: dataset.master_token}
    clients: list[ClientEntry] = []
    for ws in dataset.workspaces:
        name = f"BENCH_WS_{ws.id}_TOKEN"
        if api_user:
            env[name] = ws.token
        clients.append(
            ClientEntry(
                name=ws.name,
                id=ws.id,
                instance=INSTANCE,
                monthly_kpi=1000,
                monthly_sending_target=20_000,
                price_per_lead=50.0,
                monthly_costs=200.0,
                api_key_env=name if api_user else None,
            )
        )
    m = upstream.median
    timeout = upstream.attempt_timeout
    instance = InstanceConfig(
        name=INSTANCE,
        base_url=base_url,
        master_token_env=MASTER_ENV,
        concurrency=concurrency,
        attempt_timeout=timeout,
        request_deadline=request_deadline or 6 * timeout,
        sender_emails_per_page=upstream.per_page,
    )
    retry = RetryConfig(
        attempts=4, backoff_initial=5 * m, backoff_multiplier=2, backoff_max=50 * m, jitter=5 * m
    )
    # A hang is an upstream-health failure; 5 % of them must not open the breaker
    # and turn the benchmark into a breaker test.
    breaker = BreakerConfig(failure_threshold=1000)
    config = Config(instances=[instance], clients=clients, retry=retry, breaker=breaker)
    return config, Secrets(env)
