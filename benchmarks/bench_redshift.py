"""Redshift connector: client-side fetch rate and memory, with the real driver against PostgreSQL.

    python -m benchmarks.bench_redshift            # rows/s for 500k rows
    python -m benchmarks.bench_redshift --rss      # also peak RSS at 500k vs 5M rows (flat = paging works)

Starts a throwaway PostgreSQL (tether/sandbox/postgres.py) behind the Redshift wire shim
(tether/sandbox/redshift_wire.py), which runs in its own process so it does not compete for this one's GIL;
the figures still include its extra loopback hop. PostgreSQL sends text-format rows to this
driver (real Redshift uses its binary protocol). Skips with a message when no PostgreSQL
binaries are installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tether.connectors.redshift import RedshiftConnector, RedshiftSettings
from tether.sandbox.postgres import (
    DATABASE,
    PASSWORD,
    USER,
    PostgresServer,
    PostgresUnavailable,
    create_sales_daily,
)

ROWS = 500_000
PAGE_SIZE = 10_000


@contextmanager
def shim_process(upstream_port: int) -> Iterator[int]:
    """Run the wire shim in a child process; yields the port it listens on."""
    shim = subprocess.Popen(
        [sys.executable, "-m", "tether.sandbox.redshift_wire", str(upstream_port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert shim.stdout is not None
        yield int(shim.stdout.readline())
    finally:
        shim.kill()
        shim.wait()


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 2**20


def fetch_rate(port: int, table: str) -> tuple[int, float, float, float]:
    """Rows, wall seconds, this process's CPU seconds and the peak RSS (MB) reading ``table``.

    CPU seconds are the steadier figure on a shared machine: the client is CPU-bound (the
    driver decodes every value in Python) and other processes only inflate the wall time.
    """
    settings = RedshiftSettings.model_validate(
        {
            "queries": {
                "sales_history": {
                    "sql": "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
                    f"FROM {table} WHERE updated_at > %(cursor)s",
                    "cursor_column": "updated_at",
                }
            },
            "page_size": PAGE_SIZE,
            "ssl": False,
        }
    )
    credentials = {"host": "127.0.0.1", "port": str(port), "database": DATABASE,
                   "user": USER, "password": PASSWORD}  # fmt: skip
    connector = RedshiftConnector(settings, credentials)
    rows, peak = 0, _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    for page in connector.fetch("sales_history", None):
        rows += len(page.records)
        peak = max(peak, _rss_mb())
    return rows, time.perf_counter() - started, time.process_time() - cpu, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_redshift")
    parser.add_argument("--rss", action="store_true", help="also read 10x rows and compare RSS")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args(argv if argv is not None else [])
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        print(f"redshift: skipped ({exc})")
        return
    try:
        create_sales_daily(server, args.rows, table="sales.bench")
        with shim_process(server.port) as port:
            fetch_rate(port, "sales.bench")  # warm-up: PostgreSQL sets hint bits on first read
            runs = sorted((fetch_rate(port, "sales.bench") for _ in range(3)), key=lambda r: r[1])
            rows, wall, cpu, peak = runs[1]  # the median of three: the machine is shared
            _report(rows, wall, cpu, f"peak RSS {peak:.0f} MB (median of 3)")
            if args.rss:
                create_sales_daily(server, args.rows * 10, table="sales.bench_big")
                rows, wall, cpu, big = fetch_rate(port, "sales.bench_big")
                _report(
                    rows,
                    wall,
                    cpu,
                    f"peak RSS {big:.0f} MB ({big - peak:+.0f} MB vs {args.rows:,} rows)",
                )
    finally:
        server.stop()


def _report(rows: int, wall: float, cpu: float, memory: str) -> None:
    print(
        f"redshift: connector fetched {rows:,} rows in {wall:.2f} s = {rows / wall:,.0f} rows/s "
        f"wall, {rows / cpu:,.0f} rows/CPU-s (page_size {PAGE_SIZE:,}); {memory}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
