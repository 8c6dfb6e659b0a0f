"""The rows of the suite, each a function returning a :class:`Section` of the report.

Sizes and latencies per profile live in :class:`Profile`: ``full`` (the
numbers in BENCHMARKS.md), ``quick`` (27 workspaces, one run of each) and
``smoke`` (seconds; what the test suite runs so this code cannot rot).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cache_hits, console_rows, loop_lag, memory, startup, store_rows
from bench.refresh import RefreshRow, compare_schedules, speedup
from bench.scenario import MEDIAN, Upstream
from bench.schedulers import Schedule
from bench.stats import Figure
from portal_tui.vocabulary.names import DashboardName

ALL_SCHEDULES = (Schedule.SLIDING, Schedule.BATCHES, Schedule.SEQUENTIAL)


@dataclass(frozen=True, slots=True)
class Size:
    """One full-refresh size: workspaces, mailboxes, latency median, schedules run."""

    workspaces: int
    mailboxes: int
    median: float
    schedules: tuple[Schedule, ...]
    hang_schedules: tuple[Schedule, ...] | None = None  # None: the same as ``schedules``


@dataclass(frozen=True, slots=True)
class Profile:
    """How big and how often."""

    name: str
    runs: int
    sizes: tuple[Size, ...]
    sender_rows: tuple[tuple[int, int, float], ...]  # (workspaces, mailboxes, median)
    big: tuple[int, int, float]  # the 1,000 / 50,000 of memory, lag and console rows
    store_workspaces: int = 1000
    store_mailboxes: int = 50_000
    days: int = 32
    day_workspaces: int = 27
    day_hours: int = 24
    cache_samples: int = 100_000
    repeats: int = 3  # of the quick measures (imports, cold starts, cache)


FULL = Profile(
    "full",
    runs=3,
    sizes=(
        Size(27, 4000, MEDIAN, ALL_SCHEDULES),
        # The portal's own size at the real API's latency (~200 ms median), uncompressed:
        # what the client's own per-request cost weighs in production. Sliding only,
        # with and without hangs (a hang holds a slot for 25 medians: 5 s here).
        Size(27, 4000, 0.2, (Schedule.SLIDING,)),
        # Batches with hangs at 200 take ~3 min a run; measured at 27 instead.
        Size(200, 10_000, MEDIAN, (Schedule.SLIDING, Schedule.BATCHES), (Schedule.SLIDING,)),
        Size(1000, 50_000, 0.02, (Schedule.SLIDING,)),
    ),
    sender_rows=((27, 4000, MEDIAN), (1000, 50_000, 0.02)),
    big=(1000, 50_000, 0.02),
)
QUICK = Profile(
    "quick",
    runs=1,
    sizes=(Size(27, 4000, MEDIAN, ALL_SCHEDULES),),
    sender_rows=((27, 4000, MEDIAN),),
    big=(200, 10_000, 0.02),
    store_workspaces=200,
    store_mailboxes=10_000,
    days=2,
    cache_samples=20_000,
)
SMOKE = Profile(
    "smoke",
    runs=1,
    sizes=(Size(4, 60, 0.002, ALL_SCHEDULES),),
    sender_rows=((4, 60, 0.002),),
    big=(4, 60, 0.002),
    store_workspaces=4,
    store_mailboxes=60,
    days=1,
    day_workspaces=3,
    day_hours=1,
    cache_samples=2_000,
    repeats=1,
)
PROFILES = {p.name: p for p in (FULL, QUICK, SMOKE)}


@dataclass(slots=True)
class Section:
    """A titled table (header + rows of text) and its raw figures for the JSON file."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def _refresh_cells(row: RefreshRow) -> list[str]:
    return [
        row.figure("wall").text(),
        row.figure("lower_bound").text(),
        row.figure("ratio").text() + "×",
        row.figure("cpu_share").text(),
        f"{row.figure('made').median:.0f} / {row.figure('needed').median:.0f}",
        row.figure("failed").text(),
    ]


async def full_refresh(profile: Profile) -> Section:
    """Full refresh wall time: sliding window vs fixed batches of 5 vs sequential."""
    section = Section(
        "Full refresh (all four dashboards, api-user tokens, concurrency 5, loopback HTTP)",
        ["workspaces", "latency", "schedule", "wall", "lower bound", "wall / LB",
         *RefreshRow.IDEAL_HEADER, "client CPU", "requests made / needed", "failed ws",
         "sliding is faster by"],
    )  # fmt: skip
    section.notes.append(RefreshRow.IDEAL_NOTE)
    for size in profile.sizes:
        for hang in (0.0, 0.05):
            upstream = Upstream(size.workspaces, size.mailboxes, median=size.median).with_hangs(
                hang
            )
            schedules = size.schedules
            if hang and size.hang_schedules is not None:
                schedules = size.hang_schedules
            if not schedules:
                continue
            label = upstream.label()
            rows = await compare_schedules(upstream, schedules, profile.runs, title=label)
            sliding = rows[0]
            for row in rows:
                versus = "" if row is sliding else speedup(sliding, row).text()
                section.rows.append(
                    [
                        f"{size.workspaces:,} ({size.mailboxes:,} mb)",
                        f"{upstream.label()}, median {size.median * 1000:g} ms",
                        row.schedule.value,
                        *(cells := _refresh_cells(row))[:3],
                        *row.ideal_cells(),
                        *cells[3:],
                        versus,
                    ]
                )
                key = f"{size.workspaces}/{hang:g}/{size.median * 1000:g}ms/{row.schedule.value}"
                section.data[key] = {n: row.figure(n).as_json() for n in RefreshRow.FIGURES}
            if len(schedules) < len(ALL_SCHEDULES):
                floor = Figure.of([r.served.latency_sum for r in sliding.runs], "s", 1)
                section.notes.append(
                    f"{size.workspaces:,} workspaces, {upstream.label()}, "
                    f"median {size.median * 1000:g} ms: "
                    + ", ".join(s.value for s in ALL_SCHEDULES if s not in schedules)
                    + f" not run (sequential alone would take at least ΣL = {floor.text()})."
                )
    return section


async def sender_emails(profile: Profile) -> Section:
    """Infrastructure alone: every sender-email page at 15 per page, vs the lower bound."""
    section = Section(
        "Sender emails at 15 per page (Infrastructure only, sliding window)",
        ["mailboxes", "workspaces", "pages", "latency median", "wall", "lower bound",
         "wall / LB", *RefreshRow.IDEAL_HEADER, "client CPU", "requests made / needed",
         "failed ws"],
    )  # fmt: skip
    section.notes.append(RefreshRow.IDEAL_NOTE)
    for workspaces, mailboxes, median in profile.sender_rows:
        upstream = Upstream(workspaces, mailboxes, per_page=15, median=median)
        (row,) = await compare_schedules(
            upstream,
            [Schedule.SLIDING],
            profile.runs,
            title="sender-emails",
            dashboards=[DashboardName.INFRASTRUCTURE],
        )
        pages = row.runs[0].served.by_endpoint.get("sender-emails", 0)
        section.rows.append(
            [
                f"{mailboxes:,}",
                f"{workspaces:,}",
                f"{pages:,}",
                f"{median * 1000:g} ms",
                *(cells := _refresh_cells(row))[:3],
                *row.ideal_cells(),
                *cells[3:],
            ]
        )
        section.data[str(mailboxes)] = {n: row.figure(n).as_json() for n in RefreshRow.FIGURES}
    return section


async def master_token(profile: Profile) -> Section:
    """27 workspaces through one master token: sessions, switches, the no-mixing bound."""
    size = profile.sizes[0]
    section = Section(
        "Master token only (every workspace through one token; sliding window)",
        ["workspaces", "wall", "lower bound (serial sessions)", "wall / LB", "client CPU",
         "requests made / needed", "switches", "failed ws"],
    )  # fmt: skip
    upstream = Upstream(size.workspaces, size.mailboxes, median=size.median)
    # The scaled deadline of the other rows: waiting for the token's turn does not
    # count against it.
    (row,) = await compare_schedules(
        upstream, [Schedule.SLIDING], profile.runs, title="master", api_user=False
    )
    switches = Figure.of([r.served.switches for r in row.runs], "", 0)
    cells = _refresh_cells(row)
    section.rows.append([f"{size.workspaces}", *cells[:5], switches.text(), cells[5]])
    section.notes.append(
        "Lower bound for one master token: workspaces take turns (the token's current "
        "workspace is shared state), so Σ over workspaces of (one switch + max(ΣL/5, max L)) "
        "of the latencies served. Deadline: the scaled 6 × attempt timeout of the other "
        "rows; a request's wait for its workspace's turn on the token does not count "
        "against it."
    )
    section.data["master"] = {n: row.figure(n).as_json() for n in ("wall", "ratio", "made")}
    return section


async def cache_and_startup(profile: Profile) -> Section:
    """Cache hit p99, import time of the check path, the console's cold start."""
    section = Section("Cache, start-up", ["measure", "value", "target"])
    p99 = [
        (await cache_hits.cache_hit_percentiles(profile.cache_samples))["p99"]
        for _ in range(profile.repeats)
    ]
    section.rows.append(["cache hit p99", Figure.of(p99, "µs", 1).text(), "< 50 µs"])
    imports = [startup.check_import_seconds() for _ in range(profile.repeats + 2)]
    textual = any(loaded for _, loaded in imports)
    section.rows.append(
        [
            "import time of the `check` path (cli, check, runtime, monitor)",
            Figure.of([s * 1000 for s, _ in imports], "ms", 0).text(),
            "Textual not imported: " + ("FAILED, it is" if textual else "yes"),
        ]
    )
    bare = [startup.process_seconds("pass") * 1000 for _ in range(profile.repeats + 2)]
    section.rows.append(
        ["empty interpreter start (reference)", Figure.of(bare, "ms", 0).text(), ""]
    )
    slow = ", ".join(f"{name} {ms:.0f} ms" for name, ms in startup.slowest_imports())
    section.notes.append(f"Slowest imports on the check path (cumulative, one run): {slow}.")
    if console_rows.console_available():
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "cold.sqlite3"
            await console_rows.prepare_snapshots(db, 27, 4000)
            # ``pip install .`` (the README's first command) compiles every module, so an
            # installed console starts from bytecode; this machine's environment sets
            # PYTHONDONTWRITEBYTECODE, under which an editable install recompiles
            # portal_tui at every start: measured too, as a reference.
            compiled, source = [], []
            for _ in range(profile.repeats):
                pyc = Path(tmp) / "pycache"
                compiled.append(await console_rows.cold_start_seconds(db, 27, 4000, pycache=pyc))
                source.append(await console_rows.cold_start_seconds(db, 27, 4000))
        section.rows.append(
            [
                "cold start to first frame showing snapshot data (27 ws, 4,000 mb, new process,"
                " bytecode compiled as `pip install .` leaves it)",
                Figure.of(compiled, "s", 2).text(),
                "< 1.0 s",
            ]
        )
        section.rows.append(
            [
                "… the same, compiling portal_tui at start (reference: editable install"
                " with PYTHONDONTWRITEBYTECODE)",
                Figure.of(source, "s", 2).text(),
                "",
            ]
        )
    else:
        section.rows.append(["cold start to first frame", "not measured: console not landed", ""])
    return section


async def sqlite_rows(profile: Profile) -> Section:
    """One cycle's writes at 1,000 workspaces; 30 days at 27; prune; bounded size."""
    section = Section("SQLite", ["measure", "value"])
    record = await store_rows.one_cycle_record(profile.store_workspaces, profile.store_mailboxes)
    writes = [await store_rows.write_cycle(record) for _ in range(profile.repeats)]
    first = writes[0]
    section.rows.append(
        [
            f"one full cycle's write, {profile.store_workspaces:,} ws / "
            f"{profile.store_mailboxes:,} mb: rows (api calls + cache metadata + snapshots)",
            f"{first['rows']:,.0f} rows, {first['bytes'] / 1e6:.1f} MB added "
            f"(snapshots {first['snapshot_bytes'] / 1e6:.1f} MB)",
        ]
    )
    section.rows.append(
        ["… time for that transaction", Figure.of([w["seconds"] for w in writes], "s").text()]
    )
    month = await store_rows.thirty_days(profile.days, profile.day_workspaces, profile.day_hours)
    sizes = month["sizes"]
    last = max(sizes)
    at30 = sizes.get(30, sizes[last])
    section.rows.append(
        [
            f"{profile.day_workspaces} ws, default refreshes "
            f"({month['cycles_per_hour']} cycles and "
            f"{month['api_calls_per_hour']:,} API calls an hour): size after "
            f"{min(30, last)} simulated days",
            f"{at30 / 1e6:.0f} MB",
        ]
    )
    if last > 30:
        section.rows.append(
            [
                f"… after day {last} (retention 30 days, pruned every 6 h by prune_if_due)",
                f"{sizes[last] / 1e6:.0f} MB",
            ]
        )
    prunes = month["prune_seconds"]
    if prunes:
        rows = statistics.median(month["pruned_rows"])
        section.rows.append(
            [
                f"retention prune as the product runs it (every 6 h; median {rows:,.0f} rows)",
                Figure.of(prunes, "s").text(),
            ]
        )
    section.rows.append(
        [
            "record_cycle per cycle in that month (median, p99 of all cycles)",
            f"{statistics.median(month['write_seconds']) * 1000:.0f} ms, "
            f"{sorted(month['write_seconds'])[int(len(month['write_seconds']) * 0.99)] * 1000:.0f}"
            " ms",
        ]
    )
    section.rows.append(
        [
            f"History pane query, last 24 h ({month['history_calls']:,} attempts)",
            Figure.of(month["history_seconds"], "s").text(),
        ]
    )
    section.data = {"sizes": sizes, "prune": prunes}
    return section


async def memory_and_lag(profile: Profile) -> Section:
    """Peak RSS, event-loop lag, keypress-to-screen at the big size."""
    workspaces, mailboxes, median = profile.big
    section = Section(
        f"{workspaces:,} workspaces, {mailboxes:,} mailboxes",
        ["measure", "value", "target"],
    )
    rss = [await memory.measure_peak_rss(workspaces, mailboxes, 100) for _ in range(profile.runs)]
    section.rows.append(
        [
            "peak RSS, one cold full refresh (own process; simulator elsewhere)",
            Figure.of([r["peak_after_first_mb"] for r in rss], "MB", 0).text(),
            "< 250 MB",
        ]
    )
    section.rows.append(
        [
            "peak RSS, two full refreshes (the second with the first's cache and snapshots)",
            Figure.of([r["peak_rss_mb"] for r in rss], "MB", 0).text(),
            "< 250 MB",
        ]
    )
    section.rows.append(
        [
            "paced full garbage collection after those refreshes (at most one every 10 min,"
            " after a refresh; never inside one)",
            Figure.of([r["sweep_ms"] for r in rss], "ms", 0).text()
            + f" over {statistics.median(r['tracked_objects'] for r in rss):,.0f} objects;"
            f" found {max(r['sweep_found'] for r in rss)} unreachable",
            "",
        ]
    )
    upstream = Upstream(workspaces, mailboxes, per_page=100, median=median)
    lags = await loop_lag.core_loop_lag(upstream, profile.runs)
    section.rows.append(
        [
            f"event-loop lag p99 during a full refresh, core alone (median {median * 1000:g} ms)",
            Figure.of([lag.p99 for lag in lags], "ms", 0).text()
            + f"; max {Figure.of([lag.max for lag in lags], 'ms', 0).text()}",
            "< 50 ms",
        ]
    )
    if console_rows.console_available():
        runs = await console_rows.console_while_refreshing(upstream, profile.runs)
        section.rows.append(
            [
                "event-loop lag p99 in the console during that refresh",
                Figure.of([r["lag_p99_ms"] for r in runs], "ms", 0).text(),
                "< 50 ms",
            ]
        )
        section.rows.append(
            [
                "keypress-to-screen p99 (pane keys every 250 ms during that refresh)",
                Figure.of([r["key_p99_ms"] for r in runs], "ms", 0).text()
                + f" over {sum(r['keys'] for r in runs)} keys",
                "< 100 ms",
            ]
        )
    else:
        section.rows.append(["keypress-to-screen p99", "not measured: console not landed", ""])
    section.data = {"rss": rss, "lag": [lag.p99 for lag in lags]}
    return section


async def consoles(profile: Profile) -> Section:
    """N consoles opened one after another, each its own process: with and without the
    shared tier (issue 18)."""
    from bench.consoles import GAP, HEADER, LATENCY, cells, run_consoles

    workspaces, mailboxes, latency = (
        (4, 60, "fixed:0.002") if profile.name == "smoke" else (27, 4000, LATENCY)
    )
    counts = (1, 2) if profile.name == "smoke" else (1, 3, 10)
    result = await run_consoles(counts, workspaces, mailboxes, latency)
    section = Section(
        f"N consoles, one fetch: the shared tier ({workspaces} workspaces, master token only)",
        HEADER,
    )
    section.rows = [cells(row) for row in result["rows"]]
    section.notes = [
        f"each console a separate process opened {GAP:g} s after the one before; one refresh "
        "of every dashboard as on opening (not forced); distinct requests = what one "
        f"console alone asks the upstream for ({result['distinct']})",
        "full data in: from the console's refresh starting to its end",
    ]
    if not result["redis"]:
        section.notes.append("Redis rows not measured: redis-server is not installed")
    section.data = result
    return section


GROUPS: dict[str, Callable[[Profile], Any]] = {
    "refresh": full_refresh,
    "sender": sender_emails,
    "master": master_token,
    "startup": cache_and_startup,
    "sqlite": sqlite_rows,
    "memory": memory_and_lag,
    "consoles": consoles,
}
