"""Amazon connector throughput against the SP-API sandbox, next to a hand-written httpx loop.

The sandbox runs in its own process with its rate limits lifted (the real ones — getOrders
0.0167 req/s, getOrderItems 0.5 req/s — make any client take ~2 s per order, whatever its code);
what is measured is the client's own cost per order: LWA token, getOrders pages by NextToken, one
getOrderItems request per order, records in the canonical shape. The hand-written loop does the
same requests and mapping with plain httpx. Runs alternate, three each; medians and their ratio
(declarative / hand-written, same run; the bar is 1.5) are printed. Wall-clock figures move with
the load of a shared machine; the ratio much less.

    python -m benchmarks.bench_amazon [--orders 1500]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from typing import Any

FAST = {"orders_rate": 1e9, "orders_burst": 10**9, "items_rate": 1e9, "items_burst": 10**9}
PAID = "Unshipped,PartiallyShipped,Shipped"


def _serve(orders: int, ready: Any, stop: Any) -> None:
    from tether.sandbox.amazon import Scenario, serve

    with serve(Scenario(orders=orders, **FAST)) as server:
        ready.put(server.url)
        stop.wait()


def _credentials() -> dict[str, str]:
    from tether.sandbox import amazon as sandbox

    return {
        "lwa_client_id": sandbox.CLIENT_ID,
        "lwa_client_secret": sandbox.CLIENT_SECRET,
        "refresh_token": sandbox.REFRESH_TOKEN,
    }


def declarative(url: str) -> int:
    from tether.connectors.amazon import AmazonConnector, AmazonSettings
    from tether.connectors.rest.auth.oauth2_flow import forget_cached_tokens

    forget_cached_tokens()
    settings = AmazonSettings(base_url=url, token_url=f"{url}/auth/o2/token", **FAST)
    connector = AmazonConnector(settings, _credentials())
    try:
        return sum(len(page.records) for page in connector.fetch("sales_orders", None))
    finally:
        connector.close()


def hand_written(url: str) -> int:
    import httpx

    from tether.sandbox.amazon import MARKETPLACE_ID

    creds = _credentials()
    with httpx.Client(base_url=url, timeout=30) as client:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds["refresh_token"],
            "client_id": creds["lwa_client_id"],
            "client_secret": creds["lwa_client_secret"],
        }
        token = client.post("/auth/o2/token", data=form).json()["access_token"]
        headers = {"x-amz-access-token": token}
        params: dict[str, Any] = {
            "MarketplaceIds": MARKETPLACE_ID,
            "FulfillmentChannels": "AFN,MFN",
            "OrderStatuses": PAID,
            "LastUpdatedAfter": "2024-01-01T00:00:00Z",
            "MaxResultsPerPage": 100,
        }
        records = []
        while True:
            answer = client.get("/orders/v0/orders", params=params, headers=headers)
            answer.raise_for_status()
            payload = answer.json()["payload"]
            for order in payload["Orders"]:
                path = f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems"
                items = client.get(path, headers=headers).json()["payload"]["OrderItems"]
                total = order.get("OrderTotal") or {}
                lines = []
                for item in items:
                    price = float(item["ItemPrice"]["Amount"]) if "ItemPrice" in item else None
                    quantity = item["QuantityOrdered"]
                    lines.append(
                        {
                            "external_id": item["OrderItemId"],
                            "sku": item["SellerSKU"],
                            "quantity": quantity,
                            "unit_price": price / quantity if price and quantity else price,
                        }
                    )
                records.append(
                    {
                        "external_id": order["AmazonOrderId"],
                        "order_number": order["AmazonOrderId"],
                        "channel": f"{order['SalesChannel']}:{order['FulfillmentChannel']}",
                        "ordered_at": order["PurchaseDate"],
                        "updated_at": order["LastUpdateDate"],
                        "currency": total.get("CurrencyCode"),
                        "financial_status": order["OrderStatus"],
                        "total": float(total["Amount"]) if "Amount" in total else None,
                        "lines": lines,
                    }
                )
            if not payload.get("NextToken"):
                return len(records)
            params = {**params, "NextToken": payload["NextToken"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1500)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.orders, ready, stop), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=60)
        timings: dict[str, list[float]] = {"declarative": [], "hand-written": []}
        counts: dict[str, int] = {}
        hand_written(url)  # warm the sandbox's caches and the imports for both
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
        print(f"amazon {name:13} {counts[name]} paid orders (+1 item request each): "
              f"{seconds:.2f}s median, {rate:,.0f} orders/s")  # fmt: skip
    ratio = medians["declarative"] / medians["hand-written"]
    print(f"amazon declarative / hand-written time: {ratio:.2f}x (bar: 1.5x)")


if __name__ == "__main__":
    main()
