"""`tether sync` against the WooCommerce sandbox over loopback: paid orders with their lines,
the incremental cursor, auth failure, 429, a malformed page, and resuming after kill -9."""

from __future__ import annotations

from typing import Any

import rest_platforms as rp

from tether.sandbox import woocommerce as sandbox

CREDENTIALS = {"consumer_key": sandbox.CONSUMER_KEY, "consumer_secret": sandbox.CONSUMER_SECRET}


def _setup(workspace: Any, srv: Any, capabilities: list[str], **settings: Any) -> None:
    workspace.integration(
        "woo",
        "woocommerce",
        capabilities,
        credentials=CREDENTIALS,
        settings={"store_url": srv.url, **settings},
    )
    workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(40)])
    workspace.mappings("channel", [("WEB", "checkout", "")])
    workspace.apply()


def _paid(srv: Any) -> list[dict[str, Any]]:
    orders = [srv.order(i) for i in range(srv.scenario.orders)]
    return [o for o in orders if o["status"] in ("processing", "completed")]


def test_first_sync_loads_paid_orders_with_lines_and_flags_unmapped_skus(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve(sandbox.Scenario(orders=120)) as srv:
        _setup(workspace, srv, ["sales_orders"])
        result = tether("-w", str(workspace.root), "sync", "woo")
        paid = _paid(srv)

    assert result.exit_code == 0, result.output
    rows = workspace.query("select external_id, financial_status, total from data.sales_orders")
    assert sorted(r[0] for r in rows) == sorted(str(o["id"]) for o in paid)
    assert {r[1] for r in rows} <= {"processing", "completed"}
    first = next(
        o for o in paid if not any(li["sku"].startswith("UNMAPPED") for li in o["line_items"])
    )
    assert (str(first["id"]), first["status"], float(first["total"])) in rows
    lines = workspace.query(
        "select count(*) from data.sales_order_lines where order_external_id = ?",
        [str(first["id"])],
    )
    assert lines[0][0] == len(first["line_items"])
    errors = workspace.query("select distinct code from sync_item_errors")
    unmapped = any(li["sku"].startswith("UNMAPPED") for o in paid for li in o["line_items"])
    assert errors == ([("UNMAPPED_SKU",)] if unmapped else [])
    # WooCommerce was asked only for paid orders, 100 a page.
    first_request = next(r for r in srv.requests if r.path.endswith("/orders"))
    assert first_request.params["status"] == "processing,completed"
    assert first_request.params["per_page"] == "100"


def test_second_sync_asks_only_for_orders_modified_since_the_cursor(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve(sandbox.Scenario(orders=60)) as srv:
        _setup(workspace, srv, ["sales_orders"])
        assert tether("-w", str(workspace.root), "sync", "woo").exit_code == 0
        cursor = workspace.query("select cursor->>'updated_since' from sync_state")[0][0]
        newest = max(o["date_modified_gmt"] for o in srv.order_list())
        srv.requests.clear()
        result = tether("-w", str(workspace.root), "sync", "woo")

    assert result.exit_code == 0, result.output
    assert cursor == newest + "Z"
    asked = [r.params.get("modified_after") for r in srv.requests]
    # Five minutes of lookback before the newest modification seen.
    assert asked and all(a is not None and a < newest for a in asked)


def test_first_sync_loads_what_the_sandbox_holds(workspace: Any, tether: Any) -> None:
    rp.check_first_sync_loads_what_the_sandbox_holds(rp.WOO, workspace, tether)


def test_bad_credentials_fail_as_auth_failed_without_the_secret(
    workspace: Any, tether: Any
) -> None:
    rp.check_bad_credentials_fail_as_auth_failed_without_the_secret(rp.WOO, workspace, tether)


def test_429_is_waited_out_and_the_sync_completes(workspace: Any, tether: Any) -> None:
    rp.check_429_is_waited_out_and_the_sync_completes(rp.WOO, workspace, tether)


def test_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
    workspace: Any, tether: Any
) -> None:
    rp.check_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
        rp.WOO, workspace, tether
    )


def test_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
    workspace: Any, tether: Any
) -> None:
    rp.check_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
        rp.WOO, workspace, tether
    )
