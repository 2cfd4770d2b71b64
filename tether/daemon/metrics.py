"""Prometheus metrics: an optional TCP listener on the daemon, values read from the state.

``[daemon] metrics = "127.0.0.1:9464"`` starts it; Prometheus scrapes ``/metrics`` (text
exposition, served by prometheus-client). Nothing is counted in memory: every scrape reads the
DuckDB state through the daemon's connection, so the numbers are the ones ``tether executions``
and ``tether sql`` show, survive restarts, and cannot drift from them. A scrape of a state with
tens of thousands of executions is a handful of grouped scans (milliseconds).

Names follow Prometheus conventions (``tether_`` prefix, base units, ``_total`` for counters)
so Grafana's query builder and the docs' alert rules read naturally. Labels: ``integration``
(the id), ``capability`` (the domain type), ``status``. ``tether_integration_info`` carries
name and service for joins (``* on (integration) group_left (service) tether_integration_info``).

Counters come from execution history: ``tether reset`` deletes an integration's history, which
Prometheus sees as a counter reset (``rate()`` and ``increase()`` handle that).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    import duckdb

    from tether.engine.health import Health

log = logging.getLogger("tether.daemon.metrics")

DURATION_BUCKETS_S = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Execution durations: a small page sync takes seconds, a full Shopify backfill an hour."""

ITEM_STATUSES = ("success", "failed", "skipped", "mapped", "partial_mapped")

PER_EXECUTION_SQL = f"""
SELECT integration_id, domain_type,
       sum(records_fetched), sum(rate_limit_wait_s),
       {", ".join(f"sum({s})" for s in ITEM_STATUSES)},
       epoch(max(finished_at) FILTER (WHERE status IN ('success', 'partial'))),
       count(duration_s), coalesce(sum(duration_s), 0),
       {", ".join(f"count_if(duration_s <= {b})" for b in DURATION_BUCKETS_S)}
FROM executions GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True)
class SchedulerView:
    """What only the running daemon knows (the rest is in the state)."""

    lag_s: Callable[[], float]
    retries_pending: Callable[[], dict[str, int]]
    started_at: float
    health: Callable[[], Mapping[str, Health]] | None = None
    """The daemon's last health evaluation (``HealthBook.snapshot``); ``None``: evaluate now."""


class StateCollector(Collector):
    """Reads every metric from the state at scrape time (one cursor per scrape)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, scheduler: SchedulerView) -> None:
        self.con = con
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        cur = self.con.cursor()
        try:
            yield from self._integrations(cur)
            yield from self._health(cur)
            yield from self._executions(cur)
            yield from self._per_execution(cur)
            yield from self._alert_deliveries(cur)
        finally:
            cur.close()
        yield from self._scheduler()

    def _integrations(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "tether_integration_info",
            "Applied integrations (always 1): name and service, for joins.",
            labels=["integration", "name", "service"],
        )
        enabled = GaugeMetricFamily(
            "tether_integration_enabled", "1 when enabled and not paused (it runs on schedule).",
            labels=["integration"],
        )  # fmt: skip
        paused = GaugeMetricFamily(
            "tether_integration_paused", "1 while paused with `tether pause`.",
            labels=["integration"],
        )  # fmt: skip
        rows = cur.execute(
            "SELECT id, name, service, enabled, paused FROM integrations ORDER BY id"
        ).fetchall()
        for integration, name, service, is_enabled, is_paused in rows:
            info.add_metric([integration, name, service], 1)
            enabled.add_metric([integration], float(bool(is_enabled) and not is_paused))
            paused.add_metric([integration], float(bool(is_paused)))
        yield from (info, enabled, paused)

    def _health(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        """The engine's one health definition (what ``status`` and ``tether doctor`` show)."""
        from tether.engine.health import read_health

        known = dict(self.scheduler.health()) if self.scheduler.health is not None else {}
        ids = [str(r[0]) for r in cur.execute("SELECT id FROM integrations").fetchall()]
        missing = [i for i in ids if i not in known]
        if missing:
            known.update(read_health(cur, datetime.now(UTC), missing))
        healthy = GaugeMetricFamily(
            "tether_integration_healthy", "1 when no health flag is raised, else 0.",
            labels=["integration"],
        )  # fmt: skip
        flags = GaugeMetricFamily(
            "tether_integration_health_flag",
            "1 per raised health flag (failed, auth_failed, unmapped, overdue, …).",
            labels=["integration", "flag", "severity", "capability"],
        )
        for iid, health in sorted((i, known[i]) for i in ids if i in known):
            healthy.add_metric([iid], float(health.ok))
            for flag in health.flags:
                flags.add_metric([iid, flag.code, flag.severity, flag.domain_type or ""], 1)
        yield from (healthy, flags)

    def _executions(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        executions = CounterMetricFamily(
            "tether_executions",
            "Sync executions by final status (running ones included as running).",
            labels=["integration", "capability", "status"],
        )
        rows = cur.execute(
            "SELECT integration_id, domain_type, status, count(*) FROM executions "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        for integration, capability, status, count in rows:
            executions.add_metric([integration, capability, status], count)
        yield executions

    def _per_execution(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        labels = ["integration", "capability"]
        records = CounterMetricFamily(
            "tether_records_fetched", "Records fetched from the service.", labels=labels
        )
        waited = CounterMetricFamily(
            "tether_rate_limit_wait_seconds",
            "Seconds syncs spent waiting on the service's rate limit.",
            labels=labels,
        )
        items = CounterMetricFamily(
            "tether_sync_items", "Sync items by status.", labels=[*labels, "status"]
        )
        last = GaugeMetricFamily(
            "tether_last_success_timestamp_seconds",
            "When the last execution that loaded data (success or partial) finished, Unix time.",
            labels=labels,
        )
        duration = HistogramMetricFamily(
            "tether_execution_duration_seconds",
            "Duration of finished executions.",
            labels=labels,
        )
        for row in cur.execute(PER_EXECUTION_SQL).fetchall():
            key = [row[0], row[1]]
            records.add_metric(key, row[2] or 0)
            waited.add_metric(key, row[3] or 0.0)
            for offset, status in enumerate(ITEM_STATUSES, start=4):
                items.add_metric([*key, status], row[offset] or 0)
            after = 4 + len(ITEM_STATUSES)
            if row[after] is not None:
                last.add_metric(key, float(row[after]))
            count, total = int(row[after + 1]), float(row[after + 2])
            cumulative = [int(c) for c in row[after + 3 :]]
            buckets = [(_le(b), c) for b, c in zip(DURATION_BUCKETS_S, cumulative, strict=True)]
            duration.add_metric(key, [*buckets, ("+Inf", count)], sum_value=total)
        yield from (records, waited, items, last, duration)

    def _alert_deliveries(self, cur: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        """Alert deliveries, when the state records them (the alerts feature's table)."""
        table = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name = 'alert_deliveries'"
        ).fetchone()
        deliveries = CounterMetricFamily(
            "tether_alert_deliveries", "Alert deliveries by route and outcome.",
            labels=["route", "outcome"],
        )  # fmt: skip
        if table and table[0]:
            import duckdb

            try:
                rows = cur.execute(
                    "SELECT route, status, count(*) FROM alert_deliveries GROUP BY ALL ORDER BY ALL"
                ).fetchall()
            except duckdb.Error:  # another schema of the table: the other metrics still serve
                log.exception("alert deliveries not readable for metrics")
                rows = []
            for route, outcome, count in rows:
                deliveries.add_metric([str(route), str(outcome)], count)
        yield deliveries

    def _scheduler(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "tether_scheduler_lag_seconds",
            "Age of the oldest due scheduled tick not yet started (0 when none waits).",
            value=self.scheduler.lag_s(),
        )
        retries = GaugeMetricFamily(
            "tether_retries_pending",
            "Runs waiting to be retried after a transient failure.",
            labels=["integration"],
        )
        for integration, count in sorted(self.scheduler.retries_pending().items()):
            retries.add_metric([integration], count)
        yield retries
        yield GaugeMetricFamily(
            "tether_daemon_start_time_seconds",
            "When the daemon started, Unix time.",
            value=self.scheduler.started_at,
        )


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


class MetricsListener:
    """The ``/metrics`` HTTP listener (prometheus-client's WSGI server, in a thread)."""

    def __init__(self, collector: Collector, host: str, port: int) -> None:
        from prometheus_client.exposition import start_http_server

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: WSGIServer
        self._thread: threading.Thread
        self._server, self._thread = start_http_server(port, host, self.registry)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
