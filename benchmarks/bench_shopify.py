"""Shopify connector throughput against the sandbox, client side only.

The sandbox runs in its own process (its JSONL writing and GraphQL answering do not share the
client's GIL); each fetch runs in a fresh process so its peak RSS is its own. Figures:

* bulk: orders/s through ``ShopifyConnector.fetch`` for a full sync via Bulk Operations, split into
  the operation itself (the sandbox writing its JSONL, as Shopify does while ``RUNNING``) and the
  download + parse into canonical records (the part the connector owns);
* incremental: orders/s paging ``orders(first:, after:)`` with the cost-sized pages;
* wall-clock rates move with the load of a shared machine; "per CPU-second" counts only the
  client process's own CPU time (what one core does);
* RSS: peak RSS of the bulk fetch at 100k and at 1M orders (should stay flat: streamed).

    python -m benchmarks.bench_shopify [--orders 100000] [--rss-orders 1000000] [--no-rss]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from typing import Any


def _serve(orders: int, ready: Any, stop: Any) -> None:
    from tether.sandbox.shopify import Scenario, serve

    with serve(Scenario(orders=orders, history_days=365, restore_rate=1e9)) as server:
        ready.put(server.url)
        stop.wait()


def _fetch(url: str, bulk: bool, out: Any) -> None:
    from tether.connectors.shopify import ShopifyConnector, ShopifySettings

    settings = ShopifySettings(base_url=url, bulk=bulk, lines_per_order=5, history_days=400)
    connector = ShopifyConnector(
        settings, {"store_url": "bench.myshopify.com", "access_token": "shpat_sandbox"}
    )
    started = time.perf_counter()
    first_page = None
    cpu_at_first_page = 0.0
    orders = lines = 0
    for page in connector.fetch("sales_orders", None):
        if first_page is None:
            first_page = time.perf_counter()
            cpu_at_first_page = time.process_time()
        orders += len(page.records)
        lines += sum(len(r["lines"]) for r in page.records)
    ended = time.perf_counter()
    cpu_ended = time.process_time()
    connector.close()
    out.put(
        {
            "orders": orders,
            "lines": lines,
            "total_s": ended - started,
            "until_first_page_s": (first_page or ended) - started,
            "cpu_after_first_page_s": cpu_ended - cpu_at_first_page,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run(orders: int, bulk: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(orders, ready, stop), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=60)
        client = ctx.Process(target=_fetch, args=(url, bulk, out))
        client.start()
        result: dict[str, Any] = out.get(timeout=600)
        client.join()
        return result
    finally:
        stop.set()
        server.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_shopify")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--incremental-orders", type=int, default=100_000)
    parser.add_argument("--rss-orders", type=int, default=1_000_000)
    parser.add_argument("--no-rss", action="store_true", help="skip the 1M-order RSS run")
    args = parser.parse_args(argv if argv is not None else [])

    bulk = run(args.orders, bulk=True)
    # The JSONL is written before the first page: from then on it is download + parse only.
    parse_s = bulk["total_s"] - bulk["until_first_page_s"]
    print(
        f"bulk        {bulk['orders']:>9,} orders ({bulk['lines']:,} lines) of a "
        f"{args.orders:,}-order store in {bulk['total_s']:.2f}s = "
        f"{bulk['orders'] / bulk['total_s']:>9,.0f} orders/s end to end; "
        f"download+parse {bulk['orders'] / parse_s:,.0f} orders/s wall, "
        f"{bulk['orders'] / bulk['cpu_after_first_page_s']:,.0f} orders per CPU-second "
        f"(operation ran {bulk['until_first_page_s']:.2f}s)"
    )
    paged = run(args.incremental_orders, bulk=False)
    print(
        f"incremental {paged['orders']:>9,} orders in {paged['total_s']:.2f}s = "
        f"{paged['orders'] / paged['total_s']:>9,.0f} orders/s (cost-sized pages, no throttling)"
    )
    if args.no_rss:
        return
    big = run(args.rss_orders, bulk=True)
    big_parse = big["total_s"] - big["until_first_page_s"]
    print(
        f"bulk RSS    peak {bulk['rss_mb']:.0f} MB at {args.orders:,} orders, "
        f"{big['rss_mb']:.0f} MB at {args.rss_orders:,} "
        f"(growth {big['rss_mb'] - bulk['rss_mb']:+.0f} MB; "
        f"download+parse {big['orders'] / big_parse:,.0f} orders/s wall, "
        f"{big['orders'] / big['cpu_after_first_page_s']:,.0f} per CPU-second)"
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
