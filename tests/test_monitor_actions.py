"""Monitor actions (sync, dry run, pause/resume, reset), roles, live refresh, help and filters."""

from __future__ import annotations

import pytest
from monitor_fake import demo_source
from monitor_support import flat, make_app, press, region_text, screen_text, settle, toasts

from tether.errors import PermissionDeniedError
from tether.tui.screens.dashboard import DashboardScreen
from tether.tui.screens.execution import ExecutionScreen
from tether.tui.screens.integration import IntegrationScreen
from tether.tui.screens.item import ItemScreen

pytestmark = pytest.mark.anyio

WIDE = (160, 48)


async def test_viewer_sees_actions_disabled_with_the_reason() -> None:
    source = demo_source(role="viewer")
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert "disabled: needs the operator role; your role is viewer" in flat(app)
        await press(pilot, "t", "r", "p")
        assert not [c for c in source.calls if c[0] in ("sync", "retry", "pause")]
        await press(pilot, "question_mark")
        assert "Trigger sync" not in flat(app)  # help lists keys by description
        assert "Sync (disabled: needs the operator role; your role is viewer)" in flat(app)


async def test_operator_cannot_reset_and_is_told_why() -> None:
    app = make_app(demo_source(role="operator"))
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert "disabled: needs the admin role; your role is operator" in flat(app)
        await press(pilot, "R")
        assert isinstance(app.screen, IntegrationScreen)  # no dialog opened


async def test_refusal_from_the_backend_is_shown_and_learned() -> None:
    class Refusing(type(demo_source())):  # type: ignore[misc]
        def sync(self, integration: str, **kwargs: object) -> dict[str, object]:
            self.role_ = "viewer"  # what a daemon's 403 tells us
            raise PermissionDeniedError("sync", "viewer", "operator")

    source = Refusing(**{k: v for k, v in vars(demo_source(role=None)).items()})
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "t")
        text = flat(app)
        assert "Permission denied: 'sync' needs the operator role; you are a viewer." in toasts(app)
        assert "disabled: needs the operator role; your role is viewer" in text


async def test_admin_resets_after_typing_the_id() -> None:
    source = demo_source(role="admin")
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "R")
        for char in "shopify":
            await pilot.press(char)
        await press(pilot, "enter")
        assert "That is not 'shopify_us'; nothing was reset." in flat(app)
        assert not [c for c in source.calls if c[0] == "reset"]
        for char in "_us":
            await pilot.press(char)
        await press(pilot, "enter")
        assert ("reset", {"integration": "shopify_us", "confirm": "shopify_us"}) in source.calls
        assert "Reset shopify_us: deleted 17 executions, 1,200 items, 1 cursors." in toasts(app)
        assert "No executions yet: press t to trigger a sync." in flat(app)


async def test_pause_with_reason_then_resume() -> None:
    source = demo_source()
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "p")
        for char in "maintenance":
            await pilot.press(char)
        await press(pilot, "enter")
        assert ("pause", {"integration": "shopify_us", "reason": "maintenance"}) in source.calls
        text = flat(app)
        assert "State paused (maintenance)" in text
        assert "Next sync none (paused)" in text
        await press(pilot, "p")
        assert ("resume", {"integration": "shopify_us"}) in source.calls
        assert "shopify_us resumed" in toasts(app)


async def test_trigger_and_dry_run_sync_report_the_new_executions() -> None:
    source = demo_source()
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "d")
        assert ("sync", {"integration": "shopify_us", "dry_run": True}) in source.calls
        assert "Run 401: sales_orders success (10 fetched, 0 failed);" in toasts(app)
        first = screen_text(app).split("Status")[1].splitlines()[1]
        assert "success DRY" in first
        await press(pilot, "t")
        assert ("sync", {"integration": "shopify_us", "dry_run": None}) in source.calls


async def test_live_refresh_updates_a_running_execution() -> None:
    source = demo_source()
    running = source._add_execution(
        "shopify_us", 109, "sales_orders", "running", source.now, records=100, failed=2
    )
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "enter")
        assert "● running" in flat(app) and "Fetched 100 ·" in flat(app)
        running.update(records_fetched=900, success=880, failed=20)
        app.action_refresh()
        await settle(pilot)
        assert "Fetched 900 · success 880 · failed 20" in flat(app)


async def test_help_lists_every_key_of_every_screen() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        text = flat(app)
        for screen in (DashboardScreen, IntegrationScreen, ExecutionScreen, ItemScreen):
            for binding in screen.BINDINGS:
                assert binding.description in text  # type: ignore[union-attr]
        assert "ctrl+p command palette" in text
        await press(pilot, "escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_dashboard_filter_and_needs_attention() -> None:
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        text = flat(app)
        assert "showing 3" in text and "Brewman UK" not in text
        await press(pilot, "a", "slash")
        for char in "brew":
            await pilot.press(char)
        await settle(pilot)
        text = flat(app)
        assert "Brewman UK" in text and "Shopify US" not in text
        assert "paused: supplier migration" in text


async def test_command_palette_runs_actions_and_explains_disabled_ones() -> None:
    source = demo_source(role="operator")
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        titles = {c.title: c.help for c in app.get_system_commands(app.screen)}
        for title in (
            "Trigger sync",
            "Dry-run sync",
            "Retry failed items",
            "Pause / resume schedule",
        ):
            assert title in titles
        assert (
            titles["Reset sync state (disabled)"]
            == "R · needs the admin role; your role is operator"
        )
        await press(pilot, "ctrl+p")
        for char in "Dry-run sync":
            await pilot.press(char)
        await settle(pilot)
        await press(pilot, "enter")
        assert ("sync", {"integration": "shopify_us", "dry_run": True}) in source.calls
        await press(pilot, "ctrl+p")
        for char in "Reset sync":
            await pilot.press(char)
        await settle(pilot)
        await press(pilot, "enter")
        assert "Reset sync state is disabled: needs the admin role" in toasts(app)
        assert not [c for c in source.calls if c[0] == "reset"]


async def test_dashboard_live_refresh_updates_cells_and_keeps_the_cursor() -> None:
    source = demo_source()
    app = make_app(source)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "down", "down")
        assert "trackstar_wh ·" in region_text(app, "#detail")
        source.integrations[0]["paused"] = True
        source.integrations[0]["paused_reason"] = "from the CLI"
        app.action_refresh()
        await settle(pilot)
        assert "Shopify US paused" in flat(app)
        assert "trackstar_wh ·" in region_text(app, "#detail")  # still on the same row
