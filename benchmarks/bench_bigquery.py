"""BigQuery connector throughput: the real client against the sandbox, client side only.

The sandbox runs in its own process so its DuckDB / JSON work does not share the client's GIL;
the client runs in another fresh process so its peak RSS is its own. Figures: rows/s through
``BigQueryConnector.fetch`` (decoded into canonical records) for 200k ``sales.daily`` rows, and
with ``--rss`` the peak RSS at 200k vs 2M rows (it should stay flat: pages are not kept).

    python -m benchmarks.bench_bigquery [--rows 200000] [--rss]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from typing import Any

SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `bench.sales.daily` WHERE updated_at > @cursor ORDER BY updated_at"
)


def _serve(rows: int, ready: Any, stop: Any) -> None:
    from tether.sandbox.bigquery import Scenario, serve

    with serve(Scenario(rows=rows)) as server:
        ready.put(server.url)
        stop.wait()


def _fetch(url: str, page_size: int, out: Any) -> None:
    from tether.connectors.bigquery import BigQueryConnector, BigQuerySettings

    settings = BigQuerySettings(
        base_url=url,
        page_size=page_size,
        queries={"sales_history": {"sql": SQL, "cursor_column": "updated_at"}},
    )
    connector = BigQueryConnector(settings, {"project_id": "bench", "service_account_json": ""})
    connector.client()  # import + client construction are not part of the rate
    started = time.perf_counter()
    rows = pages = 0
    for page in connector.fetch("sales_history", None):
        rows += len(page.records)
        pages += 1
    seconds = time.perf_counter() - started
    connector.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((rows, pages, seconds, peak_mb))


def measure(rows: int, page_size: int = 10_000) -> tuple[int, int, float, float]:
    """(rows, pages, seconds, client peak RSS MB) for one full fetch of ``rows`` rows."""
    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(rows, ready, stop), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=300)
        client = ctx.Process(target=_fetch, args=(url, page_size, out), daemon=True)
        client.start()
        result: tuple[int, int, float, float] = out.get(timeout=1800)
        client.join()
        return result
    finally:
        stop.set()
        server.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--rss", action="store_true", help="also fetch 10x rows and compare RSS")
    args = parser.parse_args(argv)

    rows, pages, seconds, peak = measure(args.rows, args.page_size)
    print(
        f"bigquery fetch: {rows:,} rows in {pages} pages, {seconds:.2f} s, "
        f"{rows / seconds:,.0f} rows/s (bar for the connector: > 150,000 rows/s), "
        f"client peak RSS {peak:.0f} MB"
    )
    if args.rss:
        big, _, big_seconds, big_peak = measure(args.rows * 10, args.page_size)
        print(
            f"bigquery fetch: {big:,} rows, {big / big_seconds:,.0f} rows/s, client peak RSS "
            f"{big_peak:.0f} MB (vs {peak:.0f} MB at {rows:,} rows)"
        )


if __name__ == "__main__":
    main()
