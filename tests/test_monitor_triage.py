"""Walk seed 000's diagnostic steps inside the monitor, on the in-memory fake source."""

from __future__ import annotations

import asyncio

import pytest
from monitor_fake import demo_source
from monitor_support import flat, make_app, press, region_text, screen_text, settle, toasts

from tether.tui.screens.dashboard import DashboardScreen
from tether.tui.screens.execution import ExecutionScreen
from tether.tui.screens.integration import IntegrationScreen
from tether.tui.screens.item import ItemScreen

pytestmark = pytest.mark.anyio

WIDE = (160, 48)


async def test_diagnostic_steps_from_dashboard_to_retry() -> None:
    source = demo_source()
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        # Step 1: integration status, last and next sync, health.
        text = flat(app)
        assert isinstance(app.screen, DashboardScreen)
        assert "5 integrations · 3 need attention" in text
        assert "Shopify US enabled ⚠ failures rising +1 ◐ partial 2h ago in 6h" in text
        assert "TrackStar warehouses enabled ⚠ auth failed ✖ failed 20m ago" in text
        assert "Brewman UK paused" in text and "Redshift finance disabled dry-run" in text
        assert "sales_orders: failed items rising 3 → 12 → 52" in text

        # Step 2: the integration's executions, newest first.
        await press(pilot, "enter")
        assert isinstance(app.screen, IntegrationScreen)
        text = flat(app)
        assert "0 0 */6 * * * (America/New_York)" in text
        assert "2025-03-14 14:00:00 EDT in 6h" in text
        assert "2025-03-15 12:00:00 EDT" in text
        first = screen_text(app).split("Status")[1].splitlines()[1]
        assert "◐ partial" in first and "sales_orders" in first and "52" in first

        # Step 3: the failed execution; statistics; filter items by Failed.
        await press(pilot, "enter")
        assert isinstance(app.screen, ExecutionScreen)
        text = flat(app)
        assert "Fetched 1,200 · success 1,145 · failed 52 · skipped 3" in text
        assert "DRY RUN" not in text
        assert "Items 1–50 of 1,200" in text
        await press(pilot, "f")
        text = flat(app)
        assert "Items 1–50 of 52 (status failed) · ] next" in text
        rows = [line for line in screen_text(app).splitlines() if "gid://shopify/Order/" in line]
        assert rows and all("✖ failed" in row for row in rows)
        assert "Unmapped SKU 'UNMAPPED-001'" in text

        # Step 4: error analysis (side by side at 160 columns).
        text = region_text(app, "#analysis-pane")
        assert "Unmapped SKUs (2) UNMAPPED-001 24 items UNMAPPED-002 24 items" in text
        assert "Unmapped channels (1) tiktok_shop 4 items" in text
        assert "24× UNMAPPED_SKU" in text
        assert "new UNMAPPED-002" in text and "resolved OLD-SKU-9" in text

        # Step 5: retry (re-maps the stored failed items) and say what happened.
        await press(pilot, "r")
        assert ("retry", {"integration": "shopify_us"}) in source.calls
        assert "Retried 52 items: 0 loaded, 52 still failing" in toasts(app)


async def test_error_analysis_toggles_in_place_at_80_columns() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter")
        assert "Unmapped SKUs" not in flat(app)
        await press(pilot, "e")
        assert "Unmapped SKUs (2)" in flat(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, ExecutionScreen)
        assert "Items 1–50 of 1,200" in flat(app)


async def test_search_filters_items_as_you_type() -> None:
    source = demo_source()
    app = make_app(source, debounce_s=0.3)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter", "slash")
        for char in "unmapped-002":
            await pilot.press(char)
        await asyncio.sleep(0.4)  # the debounce
        await settle(pilot)
        assert "Items 1–24 of 24 ('unmapped-002')" in flat(app)
        searches = [c for c in source.calls if c[0] == "items" and c[1]["search"]]
        assert len(searches) < len("unmapped-002")  # debounced, not one query per key
        await press(pilot, "escape", "x")
        assert "Items 1–50 of 1,200" in flat(app)


async def test_keyset_paging_forward_and_back() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter", "right_square_bracket")
        text = flat(app)
        assert "Items 51–100 of 1,200 · [ previous · ] next" in text
        assert "gid://shopify/Order/5270050" in text
        await press(pilot, "left_square_bracket")
        assert "Items 1–50 of 1,200 · ] next" in flat(app)


async def test_aggregate_item_opens_its_record_errors() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "down", "enter", "enter")  # BigQuery → latest execution
        assert isinstance(app.screen, ExecutionScreen)
        await press(pilot, "down", "down", "enter")
        assert isinstance(app.screen, ItemScreen)
        text = flat(app)
        assert "aggregate of 250 records" in text
        assert "3 record errors" in text
        for sku in ("UNMAPPED-003", "UNMAPPED-004", "UNMAPPED-005"):
            assert f"2025-03-13|{sku}|online_store UNMAPPED_SKU Unmapped SKU '{sku}'" in text
        await press(pilot, "c")
        assert app.clipboard == "page-0003"


async def test_copy_ids() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "c")
        assert app.clipboard == "17"
        await press(pilot, "enter", "f", "c")
        assert app.clipboard == "gid://shopify/Order/5270005"
        await press(pilot, "i")
        assert app.clipboard == "17"
        assert "Copied execution id 17" in toasts(app)


async def test_secret_looking_settings_are_masked() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "down", "enter")
        text = region_text(app, "#config")
        assert "project_id, service_account_json; values hidden" in text
        assert "private_key_id: ••••••" in text
        assert "should-never-show" not in text
