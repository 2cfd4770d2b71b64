"""`tether verify` and `tether sync --since` (a backfill) end to end, through the CLI, against the
Brewman sandbox on loopback: a deleted state row and a missed window are found, a backfill
brings them back without moving the cursor, and verify passes after it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from tether.sandbox import brewman as sandbox

CREDENTIALS = {"api_token": sandbox.API_TOKEN, "tenant_id": sandbox.TENANT_ID}
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
"""The sandbox's orders are placed in the 30 days before this; the clock is frozen just after."""
SINCE = "2026-01-30"


@pytest.fixture
def brewery(workspace: Any) -> Any:
    scenario = sandbox.Scenario(
        skus=6, unmapped_skus=0, orders=90, days=30, anchor=ANCHOR, unmapped_channel=True
    )
    with sandbox.serve(scenario) as srv, time_machine.travel(ANCHOR + timedelta(hours=1)):
        workspace.integration(
            "brewery",
            "brewman",
            ["sales_orders", "products"],
            credentials=CREDENTIALS,
            settings={"base_url": srv.url, "history_days": 40, "window_days": 10},
        )
        workspace.mappings("sku", [(f"B{i}", f"SKU-{i:05d}", "") for i in range(6)])
        workspace.mappings("channel", [(c, c, "") for c in sandbox.CHANNELS])
        workspace.mappings("warehouse", [("EAST", "WH-EAST", ""), ("WEST", "WH-WEST", "")])
        workspace.apply()
        yield srv


def _verify(tether: Any, workspace: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = tether("-w", str(workspace.root), "verify", "brewery", "--json", *args)
    assert result.stderr == "", result.output
    return result.exit_code, json.loads(result.stdout)


def _check(answer: dict[str, Any], capability: str) -> dict[str, Any]:
    return next(c for c in answer["capabilities"] if c["capability"] == capability)


def _cursor(workspace: Any) -> Any:
    return workspace.query(
        "select cursor from sync_state where integration_id = 'brewery' "
        "and domain_type = 'sales_orders'"
    )


def test_verify_finds_a_deleted_row_and_a_missed_window_and_passes_after_a_backfill(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    root = str(workspace.root)
    never = tether("-w", root, "verify", "brewery", "--since", SINCE)
    assert never.exit_code == 1
    assert "Nothing of it was synced yet: run `tether sync brewery`." in never.stdout
    assert tether("-w", root, "sync", "brewery").exit_code == 0
    festival = [o for o in brewery.brewery.orders if o["header"]["outletTypeId"] == "festival"]
    assert festival, "the scenario should have orders from an unmapped channel"

    code, answer = _verify(tether, workspace, "--since", SINCE)
    orders = _check(answer, "sales_orders")
    assert code == 0, answer
    assert answer["outcome"] == "match"
    assert orders["status"] == "match"
    assert orders["window_field"] == "ordered_at"
    assert orders["source"] == 90
    assert (orders["loaded"], orders["failed"]) == (90 - len(festival), len(festival))
    assert _check(answer, "products") == {**_check(answer, "products"), "status": "match",
                                          "source": 6, "state": 6}  # fmt: skip

    # 1. A row lost from the state.
    (lost,) = workspace.query(
        "select external_id from data.sales_orders order by ordered_at limit 1"
    )[0:1]
    _delete(workspace, lost[0])
    code, answer = _verify(tether, workspace, "--since", SINCE)
    orders = _check(answer, "sales_orders")
    assert code == 1
    assert (orders["status"], orders["difference"]) == ("missing", 1)
    assert "tether sync brewery -c sales_orders --since 2026-01-30T00:00:00Z" in orders["hint"]

    # 2. A missed window: orders typed in late, dated before the cursor, which an incremental
    # sync (Brewman filters by order date) never sees.
    late_day = ANCHOR - timedelta(days=5)
    late = brewery.enter_late(7, late_day)
    assert tether("-w", root, "sync", "brewery", "-c", "sales_orders").exit_code == 0
    assert not workspace.query(
        "select 1 from data.sales_orders where external_id in (select unnest(?))", [late]
    )
    human = tether("-w", root, "verify", "brewery", "--since", SINCE)
    assert human.exit_code == 1
    assert "sales_orders" in human.stdout and "missing" in human.stdout
    assert "8 record(s) at the source are not in the state" in human.stdout
    assert "Incomplete" in human.stdout

    # 3. The backfill: the window re-fetched, the cursor left where it was.
    cursor = _cursor(workspace)
    backfill = tether("-w", root, "sync", "brewery", "-c", "sales_orders", "--since", SINCE,
                      "--json")  # fmt: skip
    assert backfill.exit_code == 0, backfill.output
    run = json.loads(backfill.stdout)
    assert [e["trigger"] for e in run["executions"]] == ["backfill"]
    assert run["window"] == {"since": "2026-01-30T00:00:00Z", "until": None}
    assert _cursor(workspace) == cursor
    restored = workspace.query(
        "select count(*) from data.sales_orders where external_id in (select unnest(?))",
        [[lost[0], *late]],
    )
    assert restored == [(1 + sum(1 for o in late if not _festival(brewery, o)),)]

    code, answer = _verify(tether, workspace, "--since", SINCE)
    assert code == 0, answer
    assert _check(answer, "sales_orders")["source"] == 97

    listed = tether("-w", root, "executions", "brewery")
    assert "backfill" in listed.stdout
    kept = workspace.query(
        "select domain_type, status, source_count, state_count from verify_runs "
        "where check_id = (select max(check_id) from verify_runs) order by domain_type"
    )
    assert kept == [("products", "match", 6, 6), ("sales_orders", "match", 97, 97)]
    assert workspace.query("select count(distinct check_id) from verify_runs") == [(5,)]


def test_a_backfill_brings_in_a_late_edit_that_an_incremental_sync_misses(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    root = str(workspace.root)
    assert tether("-w", root, "sync", "brewery", "-c", "sales_orders").exit_code == 0
    order = next(o for o in brewery.brewery.orders if not _festival(brewery, o["id"]))
    line = order["lines"][0]["id"]
    brewery.edit(order["id"], 99.0, ANCHOR)
    assert tether("-w", root, "sync", "brewery", "-c", "sales_orders").exit_code == 0
    quantity = "select quantity from data.sales_order_lines where external_id = ?"
    assert workspace.query(quantity, [line]) != [(99.0,)]

    ordered = order["header"]["readOnly"]["createdAt"][:10]
    dry = tether("-w", root, "sync", "brewery", "--since", ordered, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "DRY RUN" in dry.stdout and "cursor unchanged" in dry.stdout
    assert workspace.query(quantity, [line]) != [(99.0,)]

    assert tether("-w", root, "sync", "brewery", "--since", ordered).exit_code == 0
    assert workspace.query(quantity, [line]) == [(99.0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "--since 'last tuesday' is not a date."),
        (["--until", "2026-02-01"], "--until needs --since."),
        (["--since", "2026-02-10", "--until", "2026-02-01"], "the window is empty"),
        (["--since", "2026-04-01"], "is in the future"),
    ],
)
def test_a_window_that_cannot_be_read_is_refused_before_anything_runs(
    brewery: Any, workspace: Any, tether: Any, args: list[str], message: str
) -> None:
    for command in ("verify", "sync"):
        result = tether("-w", str(workspace.root), command, "brewery", *args)
        assert result.exit_code == 1
        assert message in result.stderr
        assert "hint:" in result.stderr
    assert workspace.query("select count(*) from executions") == [(0,)]


def _festival(brewery: Any, order_id: str) -> bool:
    order = next(o for o in brewery.brewery.orders if o["id"] == order_id)
    return bool(order["header"]["outletTypeId"] == "festival")


def _delete(workspace: Any, external_id: str) -> None:
    import duckdb

    con = duckdb.connect(str(workspace.state_path))
    try:
        con.execute("DELETE FROM data.sales_orders WHERE external_id = ?", [external_id])
        con.execute("DELETE FROM data.sales_order_lines WHERE order_external_id = ?", [external_id])
    finally:
        con.close()


@pytest.mark.anyio
async def test_the_monitor_integration_screen_shows_the_last_verify(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    from monitor_support import flat, press, settle

    from tether.config.project import load_project
    from tether.daemon.client import LocalBackend
    from tether.tui.app import MonitorApp
    from tether.tui.datasource import BackendSource
    from tether.tui.screens.integration import IntegrationScreen

    root = str(workspace.root)
    assert tether("-w", root, "sync", "brewery").exit_code == 0
    (lost,) = workspace.query("select external_id from data.sales_orders limit 1")
    _delete(workspace, lost[0])
    assert tether("-w", root, "verify", "brewery", "--since", SINCE).exit_code == 1

    backend = LocalBackend(load_project(workspace.root))
    app = MonitorApp(BackendSource(backend, "test state"), refresh_s=0, debounce_s=0.05)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, IntegrationScreen)
        await settle(pilot)
        text = flat(app)
    assert "Completeness" in text
    assert "⚠ sales_orders: records missing — 90 at source, 89 in state" in text
    assert "✔ products: 6 at source, 6 in state" in text


def test_verify_and_backfill_go_through_the_daemon_when_it_runs(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    from daemon_support import running_daemon

    from tether import ops

    assert (ops.get("verify").role, ops.get("sync").role) == ("viewer", "operator")
    root = str(workspace.root)
    # While the daemon runs it holds the state file: these commands can only go through it.
    with running_daemon(workspace):
        assert tether("-w", root, "sync", "brewery", "-c", "sales_orders").exit_code == 0
        late = brewery.enter_late(3, ANCHOR - timedelta(days=2))
        code, answer = _verify(tether, workspace, "--since", SINCE, "-c", "sales_orders")
        assert (code, _check(answer, "sales_orders")["difference"]) == (1, 3)
        backfill = tether("-w", root, "sync", "brewery", "--since", "3d", "--json")
        assert backfill.exit_code == 0, backfill.output
        assert {e["trigger"] for e in json.loads(backfill.stdout)["executions"]} == {"backfill"}
        code, answer = _verify(tether, workspace, "--since", SINCE, "-c", "sales_orders")
        assert (code, answer["outcome"]) == (0, "match")
    checks = workspace.query("select status from verify_runs order by id")
    assert checks == [("missing",), ("match",)]
    assert len(late) == 3


def test_an_order_deleted_at_the_source_is_extra_and_a_source_that_fails_is_exit_2(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    root = str(workspace.root)
    assert tether("-w", root, "sync", "brewery").exit_code == 0
    (gone,) = workspace.query("select external_id from data.sales_orders limit 1")
    brewery.delete(gone[0])
    code, answer = _verify(tether, workspace, "--since", SINCE)
    orders = _check(answer, "sales_orders")
    assert code == 1
    assert (orders["status"], orders["difference"]) == ("extra", -1)
    assert "tether reset brewery" in orders["hint"]

    brewery.scenario.api_token = "rotated"  # the token in the credentials no longer works
    result = tether("-w", root, "verify", "brewery", "--since", SINCE)
    assert result.exit_code == 2
    assert "AUTH_FAILED" in result.stdout and "Not verified" in result.stdout
    assert sandbox.API_TOKEN not in result.output
    assert workspace.query(
        "select distinct status from verify_runs where check_id = (select max(check_id) "
        "from verify_runs)"
    ) == [("error",)]


def test_verify_of_a_dry_run_integration_says_its_syncs_save_nothing(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    workspace.integration(
        "brewery",
        "brewman",
        ["sales_orders"],
        credentials=CREDENTIALS,
        settings={"base_url": brewery.url, "history_days": 40},
        dry_run=True,
    )
    workspace.apply()
    root = str(workspace.root)
    assert tether("-w", root, "sync", "brewery").exit_code == 0
    result = tether("-w", root, "verify", "brewery", "--since", SINCE)
    assert result.exit_code == 1
    assert "'brewery' is in dry-run mode: its syncs save nothing." in result.stdout


def test_verify_since_all_counts_the_history_a_full_sync_reads(
    brewery: Any, workspace: Any, tether: Any
) -> None:
    root = str(workspace.root)
    assert tether("-w", root, "sync", "brewery").exit_code == 0
    code, answer = _verify(tether, workspace, "--since", "all")
    assert (code, answer["window"]) == (0, None)
    assert _check(answer, "sales_orders")["source"] == 90
    refused = tether("-w", root, "verify", "brewery", "--since", "all", "--until", "2026-02-01")
    assert refused.exit_code == 1 and "--since all takes no --until" in refused.stderr
    sync_all = tether("-w", root, "sync", "brewery", "--since", "all")
    assert sync_all.exit_code == 1 and "is not a date" in sync_all.stderr
