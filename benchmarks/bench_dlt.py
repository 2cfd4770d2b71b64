"""dlt's rest_api source → DuckDB against the same Shopify sandbox, beside `tether sync`.

The anchor in the issue (dlt 1.31 rest_api → duckdb with defaults ≈ 1.8k orders/s) was measured
against a paged JSON server; here dlt pages the sandbox's Admin GraphQL orders query (POST body,
cursor in ``variables.after``) with throttling off, and the ratio to Tether's own paged and bulk
rates is printed from the same run.

dlt is not a Tether dependency: point ``DLT_PYTHON`` at a Python that has ``dlt[duckdb]``
(e.g. ``python3.11 -m venv /tmp/dlt && /tmp/dlt/bin/pip install 'dlt[duckdb]'``), or the
comparison is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ORDERS = 20_000
TOKEN = "shpat_bench_dlt"
PAGE = 25  # orders per GraphQL page: 25 × 10 lines stays under Shopify's 1,000-point cap

DLT_PIPELINE = """
import sys, time, dlt
from dlt.sources.rest_api import rest_api_source
url, token, page, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
query = '''query Orders($first: Int!, $after: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT,
         query: "financial_status:paid OR financial_status:partially_refunded") {
    nodes { id name createdAt updatedAt displayFinancialStatus currencyCode
            totalPriceSet { shopMoney { amount currencyCode } }
            channelInformation { channelDefinition { handle } }
            lineItems(first: 10) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount } } } } }
    pageInfo { hasNextPage endCursor } } }'''
query = query.replace("{", "{{").replace("}", "}}")  # dlt formats json bodies as templates
source = rest_api_source({
    "client": {"base_url": url, "headers": {"X-Shopify-Access-Token": token}},
    "resources": [{
        "name": "orders",
        "endpoint": {
            "path": "/admin/api/2025-10/graphql.json",
            "method": "POST",
            "json": {"query": query, "variables": {"first": page, "after": None}},
            "data_selector": "data.orders.nodes",
            "paginator": {"type": "cursor", "cursor_path": "data.orders.pageInfo.endCursor",
                          "cursor_body_path": "variables.after",
                          "has_more_path": "data.orders.pageInfo.hasNextPage"},
        },
    }],
})
pipeline = dlt.pipeline("bench_dlt", destination=dlt.destinations.duckdb(out), dataset_name="shop",
                        pipelines_dir=out + ".pipelines")
started = time.perf_counter()
info = pipeline.run(source)
seconds = time.perf_counter() - started
import duckdb
rows = duckdb.connect(out).execute("select count(*) from shop.orders").fetchone()[0]
print(rows, seconds)
"""


def main() -> None:
    python = os.environ.get("DLT_PYTHON", sys.executable)
    probe = subprocess.run([python, "-c", "import dlt"], capture_output=True)
    if probe.returncode != 0:
        print("dlt: skipped (set DLT_PYTHON to a Python with dlt[duckdb] installed)")
        return
    from benchmarks.bench_sync import _sandbox, end_to_end

    # Throttling off: dlt does not understand Shopify's THROTTLED answers.
    unthrottled = {"bucket_size": 1e12, "restore_rate": 1e12}
    with _sandbox(ORDERS, TOKEN, **unthrottled) as (url, _), tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [python, "-c", DLT_PIPELINE, url, TOKEN, str(PAGE), f"{tmp}/dlt.duckdb"],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    if proc.returncode != 0:
        print(f"dlt: failed\n{proc.stderr[-3000:]}")
        return
    rows, seconds = proc.stdout.split()[-2:]
    dlt_rate = int(rows) / float(seconds)
    tether = end_to_end(ORDERS * 5)  # bulk full sync, as Tether syncs a store the first time
    print(
        f"dlt rest_api → duckdb (paged GraphQL, {PAGE}/page, throttling off): {int(rows):,} orders "
        f"in {float(seconds):.1f} s = {dlt_rate:,.0f} orders/s"
    )
    print(
        f"tether sync (bulk) in the same run: {tether['orders_per_s']:,.0f} orders/s "
        f"= {tether['orders_per_s'] / dlt_rate:.1f}× dlt"
    )


if __name__ == "__main__":
    main()
