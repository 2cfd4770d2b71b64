"""NetSuite connector throughput against the SuiteQL sandbox, next to a hand-written httpx loop.

The sandbox runs in its own process; the default sales-history query's result is computed once
and cached there, so what is measured is paging it through SuiteTalk REST (1,000 rows a page,
each request OAuth 1.0a-signed) into canonical rows. The hand-written loop sends the same SQL with
plain httpx and the same authlib signer and builds one dict per row with its external id. Runs
alternate, three each; medians and their ratio (declarative / hand-written, same run; the bar is
1.5) are printed. Wall-clock figures move with the load of a shared machine; the ratio much less.

    python -m benchmarks.bench_netsuite [--orders 30000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from typing import Any


def _serve(orders: int, ready: Any, stop: Any) -> None:
    from tether.sandbox.netsuite import Scenario, serve

    with serve(Scenario(orders=orders)) as server:
        ready.put(server.url)
        stop.wait()


def _credentials() -> dict[str, str]:
    from tether.sandbox import netsuite as sandbox

    return {
        "consumer_key": sandbox.CONSUMER_KEY,
        "consumer_secret": sandbox.CONSUMER_SECRET,
        "token_id": sandbox.TOKEN_ID,
        "token_secret": sandbox.TOKEN_SECRET,
    }


def declarative(url: str) -> int:
    from tether.connectors.netsuite import NetSuiteConnector, NetSuiteSettings
    from tether.sandbox.netsuite import ACCOUNT_ID

    settings = NetSuiteSettings(base_url=url, account_id=ACCOUNT_ID)
    connector = NetSuiteConnector(settings, _credentials())
    try:
        return sum(len(page.records) for page in connector.fetch("sales_history", None))
    finally:
        connector.close()


def hand_written(url: str) -> int:
    import httpx

    from tether.connectors.netsuite import DEFAULT_QUERIES, LOWEST, _literal
    from tether.connectors.oauth1 import OAuth1Signer
    from tether.sandbox.netsuite import ACCOUNT_ID, PATH

    creds = _credentials()
    auth = OAuth1Signer(
        consumer_key=creds["consumer_key"],
        consumer_secret=creds["consumer_secret"],
        token=creds["token_id"],
        token_secret=creds["token_secret"],
        realm=ACCOUNT_ID,
    )
    sql = DEFAULT_QUERIES["sales_history"].sql.replace(":cursor", _literal(LOWEST))
    rows = []
    offset = 0
    with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
        while True:
            answer = client.post(
                PATH,
                params={"limit": 1000, "offset": offset},
                json={"q": sql},
                headers={"Prefer": "transient"},
            )
            answer.raise_for_status()
            body = answer.json()
            for item in body["items"]:
                row = {k: item.get(k) for k in ("date", "sku", "channel", "quantity", "revenue")}
                row["external_id"] = f"{row['date']}|{row['sku']}|{row['channel']}"
                rows.append(row)
            if not body["hasMore"]:
                return len(rows)
            offset += 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=30_000)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.orders, ready, stop), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=120)
        timings: dict[str, list[float]] = {"declarative": [], "hand-written": []}
        counts: dict[str, int] = {}
        hand_written(url)  # the sandbox computes and caches the result once, for both
        for _ in range(3):
            for name, run in (("declarative", declarative), ("hand-written", hand_written)):
                started = time.perf_counter()
                counts[name] = run(url)
                timings[name].append(time.perf_counter() - started)
    finally:
        stop.set()
        server.join(timeout=10)
    assert counts["declarative"] == counts["hand-written"], counts
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, seconds in medians.items():
        rate = counts[name] / seconds
        print(f"netsuite {name:13} {counts[name]} sales-history rows: {seconds:.2f}s median, "
              f"{rate:,.0f} rows/s")  # fmt: skip
    ratio = medians["declarative"] / medians["hand-written"]
    print(f"netsuite declarative / hand-written time: {ratio:.2f}x (bar: 1.5x)")


if __name__ == "__main__":
    main()
