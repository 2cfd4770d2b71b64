"""Health evaluation after each execution, with 1,000 integrations (bar: ≤ 5 ms p95).

    python -m benchmarks.bench_health

A real DuckDB state file (migrated schema) holds 1,000 integrations with 30 executions each
(30,000 executions; every 10th integration's newest execution left 20 unmapped SKUs on 200
items). What is timed is exactly what the daemon does on a run's thread when a run ends
(``HealthWatch.after_run``): ``HealthBook.evaluate`` for that one integration (read its new
executions, the unmapped keys of new ones that failed items; assess; diff against the last
evaluation) and ``Notifier.notify`` handing the change over. What the delivery thread then
does with it (``health_flags``, routing, ``alert_deliveries`` rows) is reported separately. Between samples a new execution of
the integration is inserted, so each evaluation sees fresh data. The full evaluation of all
1,000 (daemon start, and ``status`` without a daemon) is measured in the same run as the
reference the incremental path is compared with, and so is the 60 s timer pass.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

INTEGRATIONS = 1000
EXECUTIONS = 30
SAMPLES = 300


def build(path: Path) -> None:
    from tether.state.db import connect, migrate

    con = connect(path, read_only=False)
    migrate(con)
    con.execute(
        "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
        "capabilities, settings, applied_serial, created_at) "
        "SELECT 'i' || lpad(n::VARCHAR, 4, '0'), 'I ' || n, 'bench', true, false, "
        "'0 0 * * * *', 'UTC', ['sales_orders'], '{}', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00' "
        f"FROM range({INTEGRATIONS}) t(n)"
    )
    con.execute(
        "INSERT INTO executions (run_id, integration_id, domain_type, trigger, status, "
        "started_at, finished_at, duration_s, records_fetched, success, failed) "
        "SELECT e, 'i' || lpad((e % ?)::VARCHAR, 4, '0'), 'sales_orders', 'scheduled', "
        "CASE WHEN e % 97 = 0 THEN 'failed' ELSE 'success' END, "
        "TIMESTAMPTZ '2026-01-02 00:00:00+00' + INTERVAL (e // ?) HOUR, "
        "TIMESTAMPTZ '2026-01-02 00:00:40+00' + INTERVAL (e // ?) HOUR, 40, 1000, 1000, 0 "
        "FROM range(?) t(e) ORDER BY e",
        [INTEGRATIONS, INTEGRATIONS, INTEGRATIONS, INTEGRATIONS * EXECUTIONS],
    )
    con.execute(
        "INSERT INTO sync_item_errors (item_id, execution_id, code, message, sku) "
        "SELECT x.id * 1000 + k, x.id, 'UNMAPPED_SKU', 'Unmapped SKU', 'SKU-' || (k % 20) "
        "FROM (SELECT integration_id, max(id) AS id FROM executions GROUP BY 1) x, range(200) "
        "t(k) WHERE right(x.integration_id, 1) = '0'"
    )
    con.close()


def main() -> None:
    from tether.config.alerts import AlertsConfig, Route
    from tether.engine.alerts import Notifier
    from tether.engine.health import HealthBook
    from tether.state.db import connect

    now = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tether.duckdb"
        started = time.perf_counter()
        build(path)
        print(f"state: {INTEGRATIONS:,} integrations, {INTEGRATIONS * EXECUTIONS:,} executions "
              f"(built in {time.perf_counter() - started:.1f}s)")  # fmt: skip
        con = connect(path, read_only=False)
        book = HealthBook(clock=lambda: now)
        route = Route("ops", ("execution_failed", "sync_recovered"), ("*",), ("hook",), 3)
        config = AlertsConfig("alerts.yaml", "secrets/alerts.sops.yaml", None, {"ops": route})
        notifier = Notifier(con, config, lambda: {})  # not started: delivery is another thread
        full = []
        for _ in range(5):
            t0 = time.perf_counter()
            book.evaluate(con, trigger="start")
            full.append(time.perf_counter() - t0)
        timer = []
        for _ in range(5):
            t0 = time.perf_counter()
            book.tick(con)
            timer.append(time.perf_counter() - t0)
        rng = random.Random(7)
        samples: list[float] = []
        background: list[float] = []
        for n in range(SAMPLES):
            iid = f"i{rng.randrange(INTEGRATIONS):04d}"
            status = "failed" if n % 5 == 0 else "success"
            con.execute(
                "INSERT INTO executions (run_id, integration_id, domain_type, trigger, status, "
                "started_at, finished_at, duration_s, records_fetched, success) "
                "VALUES (0, ?, 'sales_orders', 'scheduled', ?, ?, ?, 41, 1000, 1000)",
                [iid, status, now, now],
            )
            t0 = time.perf_counter()
            cur = con.cursor()
            changes = book.evaluate(cur, [iid], trigger="execution")
            cur.close()
            notifier.notify([c for c in changes if not c.empty or c.persisting])
            samples.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            notifier.drain()  # the delivery thread's share: health_flags, routing, records
            background.append(time.perf_counter() - t0)
        floor = []
        for _ in range(SAMPLES):  # the cheapest statement DuckDB runs, right now, on this box
            t0 = time.perf_counter()
            con.execute("SELECT 1").fetchall()
            floor.append(time.perf_counter() - t0)
        con.close()
    floor_p50 = statistics.median(floor) * 1000
    floor_p95 = statistics.quantiles(floor, n=20)[18] * 1000
    p50 = statistics.median(samples) * 1000
    p95 = statistics.quantiles(samples, n=20)[18] * 1000
    whole = statistics.median(full) * 1000
    later = statistics.quantiles(background, n=20)[18] * 1000
    print(f"full evaluation of {INTEGRATIONS:,} integrations (daemon start, `status` without a "
          f"daemon): {whole:.1f} ms; the 60 s timer pass (schedules, verify, overdue): "
          f"{statistics.median(timer) * 1000:.1f} ms")  # fmt: skip
    print(f"after one execution (the daemon's incremental path), {SAMPLES} samples: "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms  (bar ≤ 5 ms p95: "
          f"{'met' if p95 <= 5 else 'NOT met'}); {whole / p50:.0f}× cheaper than a full pass; "
          f"deliveries queued: {notifier.stats.queued}")  # fmt: skip
    print(
        f"anchor, same run: `SELECT 1` on the same connection p50 {floor_p50:.2f} ms, "
        f"p95 {floor_p95:.2f} ms (the incremental path is {p50 / floor_p50:.1f}× that at p50)"
    )
    print(f"then on the delivery thread (health_flags, routing, delivery rows): p95 {later:.2f} ms")


if __name__ == "__main__":
    main()
