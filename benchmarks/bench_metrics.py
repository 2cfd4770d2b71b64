"""Prometheus scrape cost: one ``/metrics`` render over a large state, against ``tether status``.

    python -m benchmarks.bench_metrics [--integrations 1000] [--executions 100]

Builds a real state file (migrated schema) with N integrations and M finished executions each,
then times, in the same run: the collector rendering the whole exposition (what a scrape costs
the daemon; every value is read from the state at scrape time) and the ``status`` operation's
query over the same state (what `tether status` costs). Reported: p50/p95 of each, their ratio,
and the exposition size. The bar is Prometheus's default ``scrape_timeout`` of 10 s — a scrape
must stay far below it; the ratio to ``status`` is the anchor that survives a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

SCRAPES = 15
SCRAPE_TIMEOUT_S = 10.0


def build(path: Path, integrations: int, executions: int) -> None:
    from tether.state.db import connect, migrate

    con = connect(path, read_only=False)
    try:
        migrate(con)
        con.execute(
            "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
            "capabilities, settings, applied_serial) SELECT 'i' || lpad(i::VARCHAR, 5, '0'), "
            "'Integration ' || i, 'trackstar', true, false, '0 0 * * * *', 'UTC', "
            "['products', 'warehouse_inventory'], '{}', 1 FROM range(?) t(i)",
            [integrations],
        )
        con.execute(
            "INSERT INTO runs (id, integration_id, trigger, requested_by) SELECT r, "
            "'i' || lpad((r % ?)::VARCHAR, 5, '0'), 'scheduled', 'bench' FROM range(?) t(r)",
            [integrations, integrations * executions],
        )
        con.execute(
            "INSERT INTO executions (run_id, integration_id, domain_type, trigger, status, "
            "started_at, finished_at, duration_s, records_fetched, success, failed, skipped, "
            "rate_limit_wait_s, error_code) "
            "SELECT r, 'i' || lpad((r % ?)::VARCHAR, 5, '0'), "
            "CASE WHEN r % 2 = 0 THEN 'products' ELSE 'warehouse_inventory' END, 'scheduled', "
            "CASE WHEN r % 17 = 0 THEN 'failed' WHEN r % 5 = 0 THEN 'partial' ELSE 'success' END, "
            "TIMESTAMPTZ '2026-01-01' + to_seconds(r), TIMESTAMPTZ '2026-01-01' + to_seconds(r + 3),"
            " (r % 300) / 7.0, 100 + r % 900, 90 + r % 800, r % 5, r % 3, (r % 11) / 3.0, "
            "CASE WHEN r % 17 = 0 THEN 'CONNECTION_TIMEOUT' END FROM range(?) t(r)",
            [integrations, integrations * executions],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]


def main() -> None:
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from tether.daemon.metrics import SchedulerView, StateCollector
    from tether.ops.workspace import integration_rows
    from tether.state.db import connect

    parser = argparse.ArgumentParser()
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--executions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tether.duckdb"
        started = time.perf_counter()
        build(path, args.integrations, args.executions)
        print(f"state: {args.integrations} integrations × {args.executions} executions "
              f"(built in {time.perf_counter() - started:.1f}s)")  # fmt: skip
        con = connect(path, read_only=False)
        try:
            view = SchedulerView(lambda: 0.0, dict, time.time())
            registry = CollectorRegistry(auto_describe=False)
            registry.register(StateCollector(con, view))
            body = generate_latest(registry)
            scrape = timed(lambda: generate_latest(registry), SCRAPES)
            now = datetime.now(UTC)
            status = timed(lambda: integration_rows(con.cursor(), now), SCRAPES)
        finally:
            con.close()
    lines = body.count(b"\n")
    print(f"scrape /metrics: p50 {statistics.median(scrape) * 1000:.0f} ms, p95 "
          f"{p95(scrape) * 1000:.0f} ms ({len(body) / 1e6:.1f} MB, {lines:,} lines)")  # fmt: skip
    print(f"status query:    p50 {statistics.median(status) * 1000:.0f} ms, p95 "
          f"{p95(status) * 1000:.0f} ms (same state, same run)")  # fmt: skip
    ratio = statistics.median(scrape) / statistics.median(status)
    timeout = "within" if p95(scrape) < SCRAPE_TIMEOUT_S else "OVER"
    target = "meets" if p95(scrape) < SCRAPE_TIMEOUT_S / 10 else "MISSES"
    print(f"scrape / status = {ratio:.1f}x; p95 scrape is {timeout} Prometheus' "
          f"{SCRAPE_TIMEOUT_S:.0f} s default scrape_timeout and {target} the 1 s target")  # fmt: skip


if __name__ == "__main__":
    main()
