"""BigCommerce against its sandbox over loopback: the checks every REST platform passes, orders' products from child requests, the incremental cursor."""

from __future__ import annotations

from typing import Any

import rest_platforms as rp

from tether.sandbox import bigcommerce


def test_first_sync_loads_what_the_sandbox_holds(workspace: Any, tether: Any) -> None:
    rp.check_first_sync_loads_what_the_sandbox_holds(rp.BIG, workspace, tether)


def test_bad_credentials_fail_as_auth_failed_without_the_secret(
    workspace: Any, tether: Any
) -> None:
    rp.check_bad_credentials_fail_as_auth_failed_without_the_secret(rp.BIG, workspace, tether)


def test_429_is_waited_out_and_the_sync_completes(workspace: Any, tether: Any) -> None:
    rp.check_429_is_waited_out_and_the_sync_completes(rp.BIG, workspace, tether)


def test_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
    workspace: Any, tether: Any
) -> None:
    rp.check_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
        rp.BIG, workspace, tether
    )


def test_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
    workspace: Any, tether: Any
) -> None:
    rp.check_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
        rp.BIG, workspace, tether
    )


def test_bigcommerce_orders_carry_their_products_from_the_child_requests(
    workspace: Any, tether: Any
) -> None:
    with bigcommerce.serve(rp._scenario(rp.BIG)) as srv:
        rp._setup(workspace, rp.BIG, srv)
        assert tether("-w", str(workspace.root), "sync", "shop").exit_code == 0
        order = next(
            (i, srv.order(i))
            for i in range(45)
            if srv.order(i)["status_id"] in bigcommerce.PAID
            and not any(p["sku"].startswith("UNMAPPED") for p in srv.order_products(i))
        )
        index, raw = order
        children = [r for r in srv.requests if r.path.endswith(f"/orders/{raw['id']}/products")]
    assert len(children) == 1
    lines = workspace.query(
        "select sku, quantity, unit_price from data.sales_order_lines where order_external_id = ? "
        "order by external_id",
        [str(raw["id"])],
    )
    assert lines == [
        (f"S{int(p['sku'][4:])}", float(p["quantity"]), float(p["price_inc_tax"]))
        for p in srv.order_products(index)
    ]
    ordered = workspace.query(
        "select ordered_at, total from data.sales_orders where external_id = ?", [str(raw["id"])]
    )
    assert ordered[0][1] == float(raw["total_inc_tax"])


def test_bigcommerce_second_sync_asks_for_orders_modified_since_the_cursor_in_rfc_2822(
    workspace: Any, tether: Any
) -> None:
    from email.utils import parsedate_to_datetime

    with bigcommerce.serve(rp._scenario(rp.BIG, orders=30)) as srv:
        rp._setup(workspace, rp.BIG, srv)
        assert tether("-w", str(workspace.root), "sync", "shop").exit_code == 0
        cursor = workspace.query("select cursor->>'updated_since' from sync_state")[0][0]
        newest = max(parsedate_to_datetime(o["date_modified"]) for o in srv.order_list())
        srv.requests.clear()
        assert tether("-w", str(workspace.root), "sync", "shop").exit_code == 0
        asked = {
            r.params.get("min_date_modified") for r in srv.requests if r.path.endswith("/orders")
        }
    assert cursor == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    (sent,) = asked
    assert sent is not None and sent.endswith("+0000")
    assert (newest - parsedate_to_datetime(sent)).total_seconds() == 300
