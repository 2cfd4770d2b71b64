"""Sync engine throughput: Shopify sandbox → real connector → mapping → DuckDB, end to end.

Bar (DESIGN §10): ≥ 20,000 orders/s for a 100k-order full sync, RSS flat from 100k to 1M orders.
Anchors measured on this machine kind: dlt rest_api → duckdb ≈ 1.8k orders/s, a lean hand-written
pipeline ≈ 34k orders/s, the bare HTTP client alone ≈ 180k orders/s.

    python -m benchmarks.bench_sync                 # 100k orders end to end + writer items/s
    python -m benchmarks.bench_sync --orders 20000  # smaller
    python -m benchmarks.bench_sync --rss           # peak RSS at 100k vs 1M orders (slow)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BAR_ORDERS_PER_S = 20_000


def _workspace(root: Path, url: str, token: str) -> Any:
    from tether.config import secrets
    from tether.config.project import load_project
    from tether.state.db import open_for_write

    secret, recipient = secrets.generate_age_key()
    key = root / "age.txt"
    key.write_text(secret + "\n")
    (root / "tether.toml").write_text(
        f'[project]\nname = "bench"\n[secrets]\nage_key_file = "{key}"\n'
    )
    creds = root / "secrets" / "shop.sops.yaml"
    creds.parent.mkdir()
    creds.write_text(f"store_url: bench.myshopify.com\naccess_token: {token}\n")
    secrets.encrypt_file(creds, recipient)
    workspace = load_project(root)
    with open_for_write(workspace.state_path, "bench") as con:
        con.execute(
            "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
            "capabilities, settings, credentials_ref, applied_serial) VALUES "
            "('shop', 'Bench', 'shopify', true, false, '0 0 * * * *', 'UTC', ['sales_orders'], "
            "?, 'secrets/shop.sops.yaml', 1)",
            [json.dumps({"base_url": url, "history_days": 3650})],
        )
        rows = [("sku", "", f"SKU-{n:05d}", f"SKU-{n:05d}") for n in range(200)]
        rows += [("channel", "", h, h) for h in ("online_store", "pos")]
        con.executemany("INSERT INTO mappings VALUES (?, ?, ?, ?)", rows)
    return workspace


SERVER = """
import sys
from tether.sandbox import shopify
server = shopify.serve(shopify.Scenario(orders={orders}, skus=200, access_token={token!r},
                                        history_days=3000, bulk_delay_ms=0{extra})).start()
print(server.url, flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def _sandbox(orders: int, token: str, **scenario: Any) -> Iterator[tuple[str, int]]:
    """The Shopify sandbox in its own process, as the real service would be (not sharing our GIL).

    ``scenario`` adds Scenario switches, e.g. ``restore_rate=1e12`` to turn throttling off.
    """
    extra = "".join(f", {key}={value!r}" for key, value in scenario.items())
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(orders=orders, token=token, extra=extra)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.pid
    finally:
        proc.kill()
        proc.wait()


def connector_only(url: str, token: str) -> dict[str, Any]:
    """The same bulk full sync through the connector alone (pages fetched, then dropped)."""
    from tether.connectors.shopify import ShopifyConnector, ShopifySettings

    settings = ShopifySettings(base_url=url, history_days=3650)
    connector = ShopifyConnector(
        settings, {"store_url": "bench.myshopify.com", "access_token": token}
    )
    started, cpu = time.perf_counter(), time.process_time()
    fetched = sum(len(page.records) for page in connector.fetch("sales_orders", None))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    connector.close()
    return {"fetched": fetched, "seconds": elapsed, "cpu_s": cpu}


def end_to_end(orders: int, *, compare: bool = False) -> dict[str, Any]:
    """One full sync of ``orders`` sandbox orders (bulk operation) into a fresh state file.

    ``compare`` also runs the connector alone against the same sandbox, right after, so the
    engine's share can be read as a ratio measured under the same machine load.
    """
    from benchmarks.rss import TreeRss
    from tether.engine.sync import run_sync
    from tether.state.db import open_for_write

    token = "shpat_bench"
    with tempfile.TemporaryDirectory() as tmp, _sandbox(orders, token) as (url, server_pid):
        workspace = _workspace(Path(tmp), url, token)
        with (
            TreeRss(skip=(server_pid,)) as rss,
            open_for_write(workspace.state_path, "sync") as con,
        ):
            started, cpu = time.perf_counter(), time.process_time()
            result = run_sync(con, workspace, "shop", trigger="manual")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            row = con.execute(
                "SELECT records_fetched, success, failed, partial_mapped FROM executions"
            ).fetchone()
            lines = con.execute("SELECT count(*) FROM data.sales_order_lines").fetchone()
        assert row is not None and lines is not None
        return {
            "orders": orders,
            "fetched": row[0],
            "status": result.statuses,
            "seconds": elapsed,
            "cpu_s": cpu,
            "orders_per_s": row[0] / elapsed,
            "items": row[1] + row[2] + row[3],
            "lines": lines[0],
            "peak_rss_mb": rss.peak_mb,  # this process + the fetch worker, sampled
            "peak_rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "connector": connector_only(url, token) if compare else None,
        }


def writer_only(items: int, page: int = 1_000) -> dict[str, Any]:
    """Mapping + page transactions alone (no HTTP): items/s the engine can write."""
    from tether.connectors.base import Page
    from tether.engine.sync import run_sync
    from tether.state.db import open_for_write

    template = {
        "order_number": "#1",
        "channel": "online_store",
        "ordered_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "currency": "USD",
        "financial_status": "paid",
        "total": 12.5,
    }

    from tether.connectors.base import ServiceSettings, ServiceSpec

    class Generated:
        spec = ServiceSpec("gen", "Generated", "bench", (), (), ServiceSettings)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def fetch(self, capability: str, cursor: Any) -> Any:
            for start in range(0, items, page):
                records = [
                    {
                        **template,
                        "external_id": f"gid://shopify/Order/{i}",
                        "lines": [
                            {
                                "external_id": f"L{i}-{n}",
                                "sku": f"SKU-{(i + n) % 200:05d}" if i % 50 else "UNMAPPED-001",
                                "quantity": 1,
                                "unit_price": 6.25,
                                "warehouse": None,
                            }
                            for n in range(2)
                        ],
                    }
                    for i in range(start, min(start + page, items))
                ]
                yield Page(records, {"offset": start + len(records)})

        def close(self) -> None:
            pass

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tether.toml").write_text('[project]\nname = "bench"\n')
        from tether.config.project import load_project

        workspace = load_project(root)
        with open_for_write(workspace.state_path, "bench") as con:
            con.execute(
                "INSERT INTO integrations (id, name, service, enabled, dry_run, cron, timezone, "
                "capabilities, settings, applied_serial) VALUES ('gen', 'Gen', 'gen', true, "
                "false, '0 0 * * * *', 'UTC', ['sales_orders'], '{}', 1)"
            )
            rows = [("sku", "", f"SKU-{n:05d}", f"SKU-{n:05d}") for n in range(200)]
            rows.append(("channel", "", "online_store", "web"))
            con.executemany("INSERT INTO mappings VALUES (?, ?, ?, ?)", rows)
            started, cpu = time.perf_counter(), time.process_time()
            run_sync(con, workspace, "gen", connector_factory=lambda _: Generated)  # type: ignore[arg-type,return-value]
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"items": items, "seconds": elapsed, "cpu_s": cpu, "items_per_s": items / elapsed}


def _rss_in_subprocess(orders: int) -> dict[str, Any]:
    code = (
        "import json, sys; from benchmarks.bench_sync import end_to_end; "
        f"print(json.dumps(end_to_end({orders})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rss", action="store_true", help="also compare RSS at 100k vs 1M")
    args = parser.parse_args(argv if argv is not None else [])

    # the median of three: the host is shared, and one run can land on a busy moment
    runs = sorted((end_to_end(args.orders, compare=True) for _ in range(3)),
                  key=lambda r: r["orders_per_s"])  # fmt: skip
    e2e = runs[1]
    verdict = "ok" if e2e["orders_per_s"] >= BAR_ORDERS_PER_S else "BELOW BAR"
    print(
        f"sync  Shopify sandbox → DuckDB: {e2e['fetched']:,} orders ({e2e['lines']:,} lines) in "
        f"{e2e['seconds']:.2f}s ({e2e['cpu_s']:.2f} CPU-s) = {e2e['orders_per_s']:,.0f} orders/s "
        f"(median of 3; {runs[0]['orders_per_s']:,.0f}–{runs[2]['orders_per_s']:,.0f}) "
        f"[bar ≥ {BAR_ORDERS_PER_S:,}: {verdict}; dlt ≈ 1.8k, lean ≈ 34k, bare client ≈ 180k]"
    )
    alone = e2e["connector"]
    print(
        f"sync  same sandbox, connector alone: {alone['seconds']:.2f}s ({alone['cpu_s']:.2f} CPU-s)"
        f" = {alone['fetched'] / alone['seconds']:,.0f} orders/s; the engine takes "
        f"{e2e['seconds'] / alone['seconds']:.2f}x the connector's time, "
        f"{e2e['cpu_s'] / alone['cpu_s']:.2f}x its CPU; load average {os.getloadavg()[0]:.1f}"
    )
    written = writer_only(args.orders)
    print(
        f"sync  mapping + page transactions only: {written['items']:,} items in "
        f"{written['seconds']:.2f}s ({written['cpu_s']:.2f} CPU-s) = "
        f"{written['items_per_s']:,.0f} items/s"
    )
    if args.rss:
        small = _rss_in_subprocess(100_000)
        large = _rss_in_subprocess(1_000_000)
        print(
            f"sync  peak RSS: {small['peak_rss_mb']:.0f} MB at 100k orders, "
            f"{large['peak_rss_mb']:.0f} MB at 1M orders "
            f"(+{large['peak_rss_mb'] / small['peak_rss_mb'] - 1:.0%}; bar ≤ +20%; sync process + "
            "fetch worker, sampled every 20 ms) "
            f"({large['orders_per_s']:,.0f} orders/s at 1M)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
