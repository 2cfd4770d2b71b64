"""Monitor benchmarks (DESIGN §10).

1. Items page with a status filter + search on a state of 5,000,000 sync items: p95 from
   keypress to table updated ≤ 50 ms. Measured in two parts, each over many keypresses:
   - the data query: the real ``items`` operation through ``LocalBackend`` (which opens the
     DuckDB file for the call, as the monitor does without a daemon);
   - the render: the execution screen's items table repopulated with a 50-row page in a
     headless app (Textual Pilot), from the worker's result to the refreshed screen.
   Two layouts of the same 5M items: 100 executions of 50k (the query touches one), and the
   worst case of a single execution holding all 5M.
2. Monitor start to first dashboard paint with 1,000 integrations ≤ 1.5 s.

Run: ``python -m benchmarks.bench_monitor`` (or ``make bench``). Set BENCH_MONITOR_ITEMS to change
the item count (default 5,000,000).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ITEMS = int(os.environ.get("BENCH_MONITOR_ITEMS", "5000000"))
QUERIES = 40  # keypresses per case
SEARCHES = ["UNMAPPED-00", "order/12", "sku 'unmapped", "4242", "no mapping"]


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def build_state(root: Path, executions: int) -> None:
    """A workspace whose state holds ITEMS items spread over ``executions`` executions."""
    from tether.state.db import open_for_write

    (root / "tether.toml").write_text('[project]\nname = "bench"\n')
    state = root / "state" / "tether.duckdb"
    state.parent.mkdir(parents=True, exist_ok=True)
    per = ITEMS // executions
    with open_for_write(state, "bench") as con:
        con.execute(
            "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
            "capabilities, settings, applied_serial) VALUES ('shop', 'Shop', 'shopify', true, "
            "false, '0 0 * * * *', 'UTC', ['sales_orders'], '{}', 1)"
        )
        con.execute(
            "INSERT INTO runs (id, integration_id, trigger) "
            "SELECT range + 1, 'shop', 'scheduled' FROM range(?)",
            [executions],
        )
        con.execute(
            "INSERT INTO executions (id, run_id, integration_id, domain_type, trigger, status, "
            "started_at, records_fetched, success, failed) "
            "SELECT range + 1, range + 1, 'shop', 'sales_orders', 'scheduled', 'partial', "
            "now() - to_hours(range::BIGINT), ?, ?, ? FROM range(?)",
            [per, per - per // 20, per // 20, executions],
        )
        # Every 20th item failed on one of 50 unmapped SKUs; the rest succeeded. Items are
        # appended execution by execution, as the engine writes them (clustered by execution).
        con.execute(
            """
            INSERT INTO sync_items (id, execution_id, integration_id, domain_type, external_id,
                                    status, error_code, error_message, fetched_at, records)
            SELECT range + 1,
                   range // ? + 1,
                   'shop', 'sales_orders',
                   'gid://shopify/Order/' || (5000000 + range)::VARCHAR,
                   CASE WHEN range % 20 = 7 THEN 'failed' ELSE 'success' END,
                   CASE WHEN range % 20 = 7 THEN 'UNMAPPED_SKU' END,
                   CASE WHEN range % 20 = 7 THEN
                       'Unmapped SKU ''UNMAPPED-' || lpad((range % 50)::VARCHAR, 3, '0') ||
                       ''': no mapping for this external id; add it to mappings/skus.csv'
                   END,
                   TIMESTAMPTZ '2025-03-14 00:00:00+00' + to_milliseconds(range),
                   1
            FROM range(?)
            """,
            [per, per * executions],
        )
        con.execute("CHECKPOINT")


class _DaemonStyle:
    """The items operation as the daemon runs it: one open connection, a cursor per call."""

    via_daemon = True

    def __init__(self, root: Path) -> None:
        import duckdb

        from tether import ops
        from tether.config.project import load_project

        self.workspace = load_project(root)
        self.con = duckdb.connect(str(self.workspace.state_path), read_only=True)
        self.state = ops.SharedStateAccess(self.con)

    def call(self, name: str, **params: Any) -> Any:
        from tether import ops

        ctx = ops.Context(self.workspace, self.state, actor="bench", role="viewer")
        return ops.run(ctx, name, params)


def time_queries(root: Path, execution_id: int, *, daemon: bool) -> dict[str, float]:
    from tether.config.project import load_project
    from tether.daemon.client import LocalBackend

    backend: Any = _DaemonStyle(root) if daemon else LocalBackend(load_project(root))
    samples: list[float] = []
    pages: list[float] = []
    counts: list[float] = []
    backend.call("items", execution_id=execution_id, status="failed", search="warm")
    for n in range(QUERIES):
        search = SEARCHES[n % len(SEARCHES)]
        # As the monitor asks: the page first (count=False), the match count after the table.
        t0 = time.perf_counter()
        page = backend.call(
            "items", execution_id=execution_id, status="failed", search=search, count=False
        )
        samples.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backend.call("items_count", execution_id=execution_id, status="failed", search=search)
        counts.append(time.perf_counter() - t0)
        if page["next_after_id"] is not None:  # keyset next page of the same filter
            t0 = time.perf_counter()
            backend.call(
                "items",
                execution_id=execution_id,
                status="failed",
                search=search,
                after_id=page["next_after_id"],
                count=False,
            )
            pages.append(time.perf_counter() - t0)
    return {
        "p50_ms": 1000 * statistics.median(samples),
        "p95_ms": 1000 * p95(samples),
        "next_page_p95_ms": 1000 * p95(pages) if pages else float("nan"),
        "count_p95_ms": 1000 * p95(counts),
    }


def time_render(size: tuple[int, int]) -> dict[str, float]:
    """From a loaded page to the table on screen, for a 50-row page (fake source, no I/O)."""
    from textual.geometry import Region

    from tests.monitor_fake import DEMO_NOW, demo_source
    from tether.tui.app import MonitorApp
    from tether.tui.screens.execution import ExecutionScreen

    samples: list[float] = []

    async def run() -> None:
        app = MonitorApp(demo_source(), clock=lambda: DEMO_NOW, refresh_s=0)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ExecutionScreen)
            source = app.source
            pages = [
                source.items(screen.execution_id, status=s, search=q)
                for s, q in (("failed", "unmapped"), ("success", None), (None, "5270"))
            ]
            table = screen.query_one("#items")
            for n in range(QUERIES):
                page: Any = pages[n % len(pages)]
                await pilot.pause()
                # The work between the worker's result and the updated table: repopulate the
                # table, then render every visible line of it (what the compositor paints).
                t0 = time.perf_counter()
                screen.items = page["items"]
                screen.next_after_id = page["next_after_id"]
                screen.total = page["total"]
                screen.show_items()
                table.render_lines(Region(0, 0, table.size.width, table.size.height))
                samples.append(time.perf_counter() - t0)

    asyncio.run(run())
    return {"p50_ms": 1000 * statistics.median(samples), "p95_ms": 1000 * p95(samples)}


def time_first_paint(integrations: int = 1000) -> float:
    """Seconds from creating the app to the dashboard painted with every integration."""
    from tests.monitor_fake import DEMO_NOW, large_source
    from tether.tui.app import MonitorApp

    source = large_source(integrations)

    async def run() -> float:
        t0 = time.perf_counter()
        app = MonitorApp(source, clock=lambda: DEMO_NOW, refresh_s=0)
        async with app.run_test(size=(160, 48)) as pilot:
            while app.first_paint_at is None:
                await pilot.pause(0.005)
            await pilot.pause()
            assert app.first_paint_at is not None
            return app.first_paint_at - t0

    return asyncio.run(run())


def time_first_paint_real(integrations: int = 1000) -> float:
    """The same on a real state file through LocalBackend (status + executions ops)."""
    from tether.config.project import load_project
    from tether.daemon.client import LocalBackend
    from tether.state.db import open_for_write
    from tether.tui.app import MonitorApp
    from tether.tui.datasource import BackendSource

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tether.toml").write_text('[project]\nname = "bench"\n')
        state = root / "state" / "tether.duckdb"
        state.parent.mkdir()
        with open_for_write(state, "bench") as con:
            con.execute(
                "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
                "capabilities, settings, applied_serial) SELECT 'int_' || lpad(range::VARCHAR, "
                "4, '0'), 'Integration ' || range, 'shopify', true, false, '0 0 */6 * * *', "
                "'America/New_York', ['sales_orders', 'products'], '{}', 1 FROM range(?)",
                [integrations],
            )
            con.execute(
                "INSERT INTO runs (id, integration_id, trigger) SELECT range + 1, "
                "'int_' || lpad((range % ?)::VARCHAR, 4, '0'), 'scheduled' FROM range(?)",
                [integrations, integrations * 5],
            )
            con.execute(
                "INSERT INTO executions (id, run_id, integration_id, domain_type, trigger, "
                "status, started_at, finished_at, duration_s, records_fetched, success) "
                "SELECT range + 1, range + 1, 'int_' || lpad((range % ?)::VARCHAR, 4, '0'), "
                "'sales_orders', 'scheduled', 'success', now() - to_minutes(range::BIGINT), "
                "now(), 30, 100, 100 FROM range(?)",
                [integrations, integrations * 5],
            )
        source = BackendSource(LocalBackend(load_project(root)), "bench")

        async def run() -> float:
            t0 = time.perf_counter()
            app = MonitorApp(source, refresh_s=0)
            async with app.run_test(size=(160, 48)) as pilot:
                while app.first_paint_at is None:
                    await pilot.pause(0.005)
                assert app.first_paint_at is not None
                return app.first_paint_at - t0

        return asyncio.run(run())


def main() -> None:
    print(f"monitor: items page (status=failed + search) on {ITEMS:,} items")
    for executions, label in ((100, f"100 executions × {ITEMS // 100:,}"), (1, "1 execution")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            build_state(root, executions)
            built = time.perf_counter() - t0
            print(f"  {label} (state built in {built:.1f}s)")
            for daemon, how in (
                (True, "daemon (open connection)"),
                (False, "no daemon (file per call)"),
            ):
                figures = time_queries(root, max(1, executions // 2), daemon=daemon)
                print(
                    f"    query via {how}: p50 {figures['p50_ms']:.1f} ms, "
                    f"p95 {figures['p95_ms']:.1f} ms, next page p95 "
                    f"{figures['next_page_p95_ms']:.1f} ms; match count after the table p95 "
                    f"{figures['count_p95_ms']:.1f} ms"
                )
    for size in ((80, 24), (160, 48)):
        render = time_render(size)
        print(
            f"  render of a 50-row page at {size[0]}x{size[1]}: "
            f"p50 {render['p50_ms']:.1f} ms, p95 {render['p95_ms']:.1f} ms"
        )
    fake = time_first_paint()
    print(f"monitor: first dashboard paint, 1,000 integrations (fake source): {fake:.2f} s")
    real = time_first_paint_real()
    print(
        f"monitor: first dashboard paint, 1,000 integrations (state file): {real:.2f} s  (bar ≤ 1.5 s)"
    )


if __name__ == "__main__":
    main()
