"""Declarative REST connector throughput against the platform sandboxes, client side only.

For each platform, the same pages are read twice, alternately, in the same run: once through the
spec-driven connector (``fetch`` → canonical records), once through a hand-written httpx loop
that sends the same requests and builds the same records with plain dict access — the anchor a
Python connector per platform would be. The figure is the ratio of their median times (bar:
declarative ≤ 1.5× hand-written). The sandbox runs in its own process, so its JSON encoding does
not share the client's GIL; absolute rates move with the load of a shared machine, the ratio
much less.

    python -m benchmarks.bench_rest [--orders 3000] [--items 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx


def _serve(module_name: str, changes: dict[str, Any], ready: Any, stop: Any) -> None:
    import importlib

    module = importlib.import_module(f"tether.sandbox.{module_name}")
    with module.serve(replace(module.Scenario(), **changes)) as server:
        ready.put(server.url)
        stop.wait()


# --------------------------------------------------------------------------- hand-written loops


def _hand_woocommerce(url: str) -> int:
    from tether.sandbox import woocommerce as sb

    count = 0
    with httpx.Client(
        base_url=url + "/wp-json/wc/v3", auth=(sb.CONSUMER_KEY, sb.CONSUMER_SECRET)
    ) as c:
        page = 1
        while True:
            params = {"status": "processing,completed", "dates_are_gmt": "true", "per_page": 100}
            r = c.get("/orders", params={**params, "page": page})
            r.raise_for_status()
            records = [
                {
                    "external_id": str(o["id"]),
                    "order_number": o["number"],
                    "channel": o["created_via"],
                    "ordered_at": o["date_created_gmt"] + "Z",
                    "updated_at": o["date_modified_gmt"] + "Z",
                    "currency": o["currency"],
                    "financial_status": o["status"],
                    "total": o["total"],
                    "lines": [
                        {"external_id": str(li["id"]), "sku": li["sku"],
                         "quantity": li["quantity"], "unit_price": li["price"]}
                        for li in o["line_items"]
                    ],
                }
                for o in r.json()
            ]  # fmt: skip
            count += len(records)
            if page >= int(r.headers["X-WP-TotalPages"]):
                return count
            page += 1


def _hand_shipbob(url: str) -> int:
    from tether.sandbox import shipbob as sb

    count = 0
    headers = {"Authorization": f"Bearer {sb.API_TOKEN}"}
    with httpx.Client(base_url=url, headers=headers) as c:
        next_url: str | None = "/1.0/inventory?IsActive=true&Limit=250"
        while next_url:
            r = c.get(next_url)
            r.raise_for_status()
            rows = [
                {
                    "external_id": f"{fc['id']}|{item['id']}",
                    "warehouse": str(fc["id"]),
                    "sku": str(item["id"]),
                    "on_hand": fc["onhand_quantity"],
                    "available": fc["fulfillable_quantity"],
                }
                for item in r.json()
                for fc in item["fulfillable_quantity_by_fulfillment_center"]
            ]
            count += len(rows)
            next_url = r.headers.get("next-page")
    return count


def _hand_acme(url: str) -> int:
    from tether.sandbox import acme_orders as sb

    count = 0
    headers = {"Authorization": f"Bearer {sb.API_TOKEN}"}
    with httpx.Client(base_url=url, headers=headers) as c:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            r = c.get("/v1/orders", params=params)
            r.raise_for_status()
            body = r.json()
            for o in body["orders"]:
                if o["status"] != "paid":
                    continue
                items = c.get(f"/v1/orders/{o['id']}/items").json()["items"]
                record = {
                    "external_id": o["id"], "order_number": o["number"], "channel": "web",
                    "ordered_at": o["created_at"], "updated_at": o["updated_at"],
                    "currency": o["currency"], "financial_status": o["status"],
                    "total": o["total"],
                    "lines": [{"external_id": i["id"], "sku": i["sku"], "quantity": i["qty"],
                               "unit_price": i["unit_price"]} for i in items],
                }  # fmt: skip
                count += bool(record)
            cursor = body["next_cursor"]
            if not cursor:
                return count


# ------------------------------------------------------------------------------ the connectors


def _declarative(service: str, url: str) -> int:
    from tether.connectors.registry import connector_class
    from tether.sandbox import acme_orders, shipbob, woocommerce

    cls: Any = connector_class(service)
    if service == "woocommerce":
        settings = cls.spec.settings_model(store_url=url)
        creds = {"consumer_key": woocommerce.CONSUMER_KEY,
                 "consumer_secret": woocommerce.CONSUMER_SECRET}  # fmt: skip
        capability = "sales_orders"
    elif service == "shipbob":
        settings = cls.spec.settings_model(base_url=url)
        creds = {"api_token": shipbob.API_TOKEN}
        capability = "warehouse_inventory"
    else:
        from pathlib import Path

        from tether.connectors.rest.spec import load_spec_file

        docs = Path(__file__).parent.parent / "docs" / "rest.md"
        text = docs.read_text().split("```yaml spec\n", 1)[1].split("```", 1)[0]
        spec_path = Path("/tmp") / "bench_rest_acme.yaml"
        spec_path.write_text(text)
        _, document = load_spec_file(spec_path, "acme.yaml")
        settings = cls.spec.settings_model(base_url=url, spec_document=document)
        creds = {"token": acme_orders.API_TOKEN}
        capability = "sales_orders"
    connector = cls(settings, creds)
    connector.throttle.rate = None  # the docs' 20 req/s would measure the throttle, not the code
    try:
        return sum(len(page.records) for page in connector.fetch(capability, None))
    finally:
        connector.close()


def compare(
    name: str, module: str, changes: dict[str, Any], hand: Callable[[str], int], rounds: int
) -> float:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(module, changes, ready, stop), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=60)
        spec_times, hand_times = [], []
        spec_count = hand_count = 0
        _declarative(name, url), hand(url)  # warm both (imports, the sandbox's caches)
        for _ in range(rounds):
            started = time.perf_counter()
            spec_count = _declarative(name, url)
            spec_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            hand_count = hand(url)
            hand_times.append(time.perf_counter() - started)
    finally:
        stop.set()
        server.join(10)
    spec_s, hand_s = statistics.median(spec_times), statistics.median(hand_times)
    ratio = spec_s / hand_s
    print(
        f"{name:<12} declarative {spec_count:>6,} records in {spec_s:.3f}s "
        f"({spec_count / spec_s:>8,.0f}/s); hand-written httpx {hand_count:>6,} in {hand_s:.3f}s "
        f"({hand_count / hand_s:>8,.0f}/s); ratio {ratio:.2f}x (bar <= 1.5x)",
        flush=True,
    )
    return ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_rest")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv if argv is not None else [])
    volume = {"orders": args.orders}
    compare("woocommerce", "woocommerce", {**volume, "skus": 40}, _hand_woocommerce, args.rounds)
    compare("shipbob", "shipbob", {"items": args.items}, _hand_shipbob, args.rounds)
    compare("rest", "acme_orders", {"orders": args.orders // 3}, _hand_acme, args.rounds)


if __name__ == "__main__":
    main()
