"""What the REST platform sync tests share: each platform's sandbox, credentials and settings, and
the checks every platform passes (first sync, auth failure, 429, malformed page, kill -9 and
resume). The tests themselves are in test_<platform>_sync.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from tether.sandbox import bigcommerce, shipbob, woocommerce


@dataclass(frozen=True)
class Platform:
    service: str
    module: Any
    capability: str
    credentials: dict[str, str]
    bad_credentials: dict[str, str]
    settings: dict[str, Any]
    """``{url}`` is replaced by the sandbox's URL."""
    table: str


WOO = Platform(
    "woocommerce",
    woocommerce,
    "sales_orders",
    {"consumer_key": woocommerce.CONSUMER_KEY, "consumer_secret": woocommerce.CONSUMER_SECRET},
    {"consumer_key": woocommerce.CONSUMER_KEY, "consumer_secret": "cs_wrong_secret_123"},
    {"store_url": "{url}", "page_size": 10},
    "data.sales_orders",
)
BIG = Platform(
    "bigcommerce",
    bigcommerce,
    "sales_orders",
    {"access_token": bigcommerce.ACCESS_TOKEN},
    {"access_token": "bc_wrong_token_123"},
    {"store_hash": bigcommerce.STORE_HASH, "base_url": "{url}", "page_size": 10},
    "data.sales_orders",
)
SHIP = Platform(
    "shipbob",
    shipbob,
    "warehouse_inventory",
    {"api_token": shipbob.API_TOKEN},
    {"api_token": "pat_wrong_token_123"},
    {"base_url": "{url}", "page_size": 10},
    "data.inventory_levels",
)


def _setup(workspace: Any, platform: Platform, srv: Any, bad: bool = False) -> None:
    settings = {k: v.replace("{url}", srv.url) if isinstance(v, str) else v
                for k, v in platform.settings.items()}  # fmt: skip
    workspace.integration(
        "shop",
        platform.service,
        [platform.capability],
        credentials=platform.bad_credentials if bad else platform.credentials,
        settings=settings,
    )
    workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(40)])
    workspace.mappings("sku", [(f"I{i}", str(5000 + i), "") for i in range(150)])
    workspace.mappings("channel", [("WEB", "checkout", ""), ("WEB", "www", "")])
    workspace.mappings("warehouse", [("WEST", "228", ""), ("MIDWEST", "10", "")])
    workspace.apply()


def _scenario(platform: Platform, **changes: Any) -> Any:
    volume = {"items": 45} if platform is SHIP else {"orders": 45}
    return replace(platform.module.Scenario(), **{**volume, **changes})


def _expected_keys(platform: Platform, srv: Any) -> set[str]:
    if platform is SHIP:
        return {
            f"{fc['id']}|{item['id']}"
            for item in (srv.item(i) for i in range(srv.scenario.items))
            for fc in item["fulfillable_quantity_by_fulfillment_center"]
            if fc["id"] != 26
        }
    paid = {"processing", "completed"} if platform is WOO else set(bigcommerce.PAID)
    loaded = set()
    for i in range(srv.scenario.orders):
        order = srv.order(i)
        state = order["status"] if platform is WOO else order["status_id"]
        skus = [line[1] for line in srv.store.lines(i)]
        if state in paid and not all(s.startswith("UNMAPPED") for s in skus):
            loaded.add(str(order["id"]))
    return loaded


def _loaded(workspace: Any, platform: Platform) -> list[str]:
    return [r[0] for r in workspace.query(f"select external_id from {platform.table}")]


def check_first_sync_loads_what_the_sandbox_holds(
    platform: Platform, workspace: Any, tether: Any
) -> None:
    with platform.module.serve(_scenario(platform)) as srv:
        _setup(workspace, platform, srv)
        result = tether("-w", str(workspace.root), "sync", "shop")
        expected = _expected_keys(platform, srv)
    assert result.exit_code == 0, result.output
    loaded = _loaded(workspace, platform)
    assert sorted(loaded) == sorted(expected)


def check_bad_credentials_fail_as_auth_failed_without_the_secret(
    platform: Platform, workspace: Any, tether: Any
) -> None:
    with platform.module.serve(_scenario(platform)) as srv:
        _setup(workspace, platform, srv, bad=True)
        result = tether("-w", str(workspace.root), "sync", "shop")
    assert result.exit_code != 0
    assert "AUTH_FAILED" in result.output and "401" in result.output
    for secret in platform.bad_credentials.values():
        assert secret not in result.output
    assert workspace.query(f"select count(*) from {platform.table}") == [(0,)]


def check_429_is_waited_out_and_the_sync_completes(
    platform: Platform, workspace: Any, tether: Any
) -> None:
    scenario = _scenario(platform, rate_limit_every=3, rate_limit_burst=2, retry_after_s=0.05)
    with platform.module.serve(scenario) as srv:
        _setup(workspace, platform, srv)
        result = tether("-w", str(workspace.root), "sync", "shop")
        expected = _expected_keys(platform, srv)
        refused = srv.refused
    assert result.exit_code == 0, result.output
    assert refused >= 2  # waited out, not failed
    assert sorted(_loaded(workspace, platform)) == sorted(expected)


def check_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
    platform: Platform, workspace: Any, tether: Any
) -> None:
    with platform.module.serve(_scenario(platform, malformed_page=3)) as srv:
        _setup(workspace, platform, srv)
        result = tether("-w", str(workspace.root), "sync", "shop")
    assert result.exit_code != 0, result.output
    assert "SOURCE_ERROR" in result.output and "not JSON" in result.output
    executions = workspace.query("select status, error_code from executions")
    assert executions[0][0] in ("failed", "partial")
    assert workspace.query("select count(*) from sync_items")[0][0] > 0


def check_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
    platform: Platform, workspace: Any, tether: Any
) -> None:
    # Enough pages that the sync is surely still running when it is killed.
    volume = {"items": 150} if platform is SHIP else {"orders": 150}
    with platform.module.serve(_scenario(platform, slow_s=0.15, **volume)) as srv:
        _setup(workspace, platform, srv)
        env = {**os.environ, "TETHER_NO_DAEMON": "1"}
        command = [sys.executable, "-m", "tether", "-w", str(workspace.root), "sync", "shop"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            # Three list pages served (a page a request for ShipBob; more with child requests).
            while sum(1 for r in srv.requests if "/products" not in r.path) < 3:
                assert proc.poll() is None, "the sync ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(0.3)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        committed = workspace.query("select count(*) from sync_items")[0][0]
        srv.scenario.slow_s = 0.0
        srv.requests.clear()
        result = tether("-w", str(workspace.root), "sync", "shop")
        expected = _expected_keys(platform, srv)
        first = next(r for r in srv.requests if "/products" not in r.path or platform is WOO)
    assert result.exit_code == 0, result.output
    loaded = _loaded(workspace, platform)
    assert sorted(loaded) == sorted(expected)  # complete, no duplicates
    statuses = [s for (s,) in workspace.query("select status from executions order by id")]
    assert statuses[0] == "interrupted" and statuses[1] in ("success", "partial")  # unmapped SKUs
    assert committed > 0
    # It resumed at the saved page, not at the first.
    assert first.params.get("page", first.params.get("Page", "1")) != "1"
