"""The monitor on a real workspace: Shopify sandbox → `tether sync` → DuckDB state, read through
the real operations (LocalBackend, the state file opened per call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder
from monitor_support import (
    PatientMonitorApp,
    flat,
    press,
    region_text,
    screen_text,
    settle,
    toasts,
)

from tether.config.project import load_project
from tether.daemon.client import LocalBackend
from tether.sandbox import shopify as sandbox
from tether.tui.app import MonitorApp
from tether.tui.datasource import BackendSource
from tether.tui.screens.execution import ExecutionScreen
from tether.tui.screens.help import HelpScreen
from tether.tui.screens.integration import IntegrationScreen
from tether.tui.screens.item import ItemScreen

pytestmark = pytest.mark.anyio

TOKEN = "shpat_monitor_secret_value_93ab"
STORE = "secret-store-name.myshopify.com"
SIZE = (160, 48)


@pytest.fixture
def synced(workspace: WorkspaceBuilder, tether: Callable[..., Result]) -> Iterator[Any]:
    scenario = sandbox.Scenario(
        orders=120, skus=20, access_token=TOKEN, unmapped_sku_rate=0.08,
        unknown_channel_rate=0.05, bulk_delay_ms=0,
    )  # fmt: skip
    with sandbox.serve(scenario) as server:
        workspace.integration(
            "shopify_us",
            "shopify",
            ["sales_orders", "products"],
            name="Shopify US",
            schedule={"cron": "0 0 */6 * * *", "timezone": "America/New_York"},
            credentials={"store_url": STORE, "access_token": TOKEN},
            settings={"base_url": server.url, "history_days": 365},
        )
        workspace.mappings("sku", [(f"SKU-{n:05d}", f"SKU-{n:05d}", "") for n in range(20)])
        workspace.mappings("channel", [("web", "online_store", ""), ("retail", "pos", "")])
        workspace.apply()
        result = tether("-w", str(workspace.root), "sync", "shopify_us")
        assert result.exit_code == 0, result.output
        yield server


def real_app(ws: WorkspaceBuilder, user: str | None = None) -> MonitorApp:
    backend = LocalBackend(load_project(ws.root), user=user)
    return PatientMonitorApp(BackendSource(backend, "test state"), refresh_s=0, debounce_s=0.05)


async def open_orders_execution(pilot: Any) -> None:
    """Dashboard → integration → the sales_orders execution of the last run."""
    app = pilot.app
    await settle(pilot)
    await press(pilot, "enter")
    screen = app.screen
    assert isinstance(screen, IntegrationScreen)
    index = next(n for n, e in enumerate(screen.executions) if e["domain_type"] == "sales_orders")
    for _ in range(index):
        await pilot.press("down")
    await press(pilot, "enter")
    assert isinstance(app.screen, ExecutionScreen)


async def test_triage_walk_on_real_state_then_fix_and_retry(
    workspace: WorkspaceBuilder, synced: Any
) -> None:
    app = real_app(workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        text = flat(app)
        assert "1 integrations" in text
        assert "Shopify US enabled" in text and "◐ partial" in text
        await open_orders_execution(pilot)
        summary = region_text(app, "#exec-summary")
        assert "sales_orders" in summary and "full re-sync" in summary
        failed = app.screen.execution["failed"]
        assert failed > 0 and f"failed {failed:,}" in summary

        await press(pilot, "f")
        paging = region_text(app, "#items-paging")
        assert f"of {failed:,} (status failed)" in paging
        rows = [ln for ln in screen_text(app).splitlines() if "gid://shopify/Order/" in ln]
        assert rows and all("✖ failed" in row for row in rows)

        analysis = region_text(app, "#analysis-pane")
        assert "Unmapped SKUs (" in analysis and "UNMAPPED-00" in analysis
        assert "Unmapped channels (1) wholesale" in analysis
        assert "new" in analysis

        await press(pilot, "enter")  # an order's per-line errors
        assert isinstance(app.screen, ItemScreen)
        assert "UNMAPPED_" in flat(app)
        await press(pilot, "escape")

        # Fix the mappings, apply, and retry from the monitor: old failures recover.
        unmapped = {
            r[0]
            for r in workspace.query(
                "SELECT DISTINCT sku FROM sync_item_errors WHERE code = 'UNMAPPED_SKU'"
            )
        }
        workspace.mappings("sku", [(f"X-{s}", s, "") for s in sorted(unmapped)])
        workspace.mappings("channel", [("b2b", "wholesale", "shopify_us")])
        workspace.apply()
        await press(pilot, "r")
        assert "still failing" in toasts(app) and "0 still failing" in toasts(app)


async def test_no_credential_value_is_rendered_anywhere(
    workspace: WorkspaceBuilder, synced: Any
) -> None:
    app = real_app(workspace)
    seen: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        seen.append(screen_text(app))
        await press(pilot, "enter")
        seen.append(screen_text(app))
        assert "store_url, access_token; values hidden" in region_text(app, "#config")
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        seen.append(screen_text(app))
        await press(pilot, "escape")
        await open_orders_execution_from_integration(pilot)
        seen.append(screen_text(app))
        await press(pilot, "e")
        await press(pilot, "enter")
        seen.append(screen_text(app))
    everything = "\n".join(seen)
    assert "Shopify US" in everything
    for secret in (TOKEN, STORE, "shpat_"):
        assert secret not in everything


async def open_orders_execution_from_integration(pilot: Any) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, IntegrationScreen)
    index = next(n for n, e in enumerate(screen.executions) if e["domain_type"] == "sales_orders")
    for _ in range(index):
        await pilot.press("down")
    await press(pilot, "enter")


async def test_a_viewer_sees_why_actions_are_disabled(
    workspace: WorkspaceBuilder, synced: Any
) -> None:
    app = real_app(workspace, user="someone_else")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        bar = region_text(app, "ActionBar")
        assert "disabled: needs the operator role; your role is viewer" in bar
        runs = workspace.query("SELECT count(*) FROM runs")[0][0]
        await press(pilot, "t")
        assert workspace.query("SELECT count(*) FROM runs")[0][0] == runs


async def test_trigger_sync_from_the_monitor_adds_a_run(
    workspace: WorkspaceBuilder, synced: Any
) -> None:
    app = real_app(workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        before = len(app.screen.executions)  # type: ignore[attr-defined]
        await press(pilot, "d")
        note = toasts(app)
        assert "Dry-run sync of shopify_us" in note and "sales_orders" in note
        assert len(app.screen.executions) == before + 2  # type: ignore[attr-defined]
        first = screen_text(app).split("Status")[1].splitlines()[1]
        assert "DRY" in first and "manual" in first


def test_tether_monitor_opens_on_the_workspace_state(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.apply()
    opened: list[MonitorApp] = []
    monkeypatch.setattr(MonitorApp, "run", lambda self, *a, **k: opened.append(self))
    result = tether(
        "-w", str(workspace.root), "monitor", "--refresh", "2", "--theme", "textual-light"
    )
    assert result.exit_code == 0, result.output
    (app,) = opened
    assert app.refresh_s == 2 and app.theme == "textual-light"
    assert app.source.description == f"test · state file {workspace.state_path} · admin"
    assert "t sync · d dry run" in tether("monitor", "--help").stdout


async def test_a_writer_holding_the_state_is_reported_once_and_recovered_from(
    workspace: WorkspaceBuilder, synced: Any
) -> None:
    import subprocess
    import sys

    app = real_app(workspace)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert "Shopify US" in flat(app)
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from tether.state.db import open_for_write\n"
                f"with open_for_write(Path({str(workspace.state_path)!r}), 'sync'):\n"
                "    print('held', flush=True); sys.stdin.read()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            app.action_refresh()
            await settle(pilot)
            app.action_refresh()
            await settle(pilot)
            assert app.sub_title.startswith("⚠ State file")
            assert "in use by pid" in app.sub_title and "operation 'sync'" in app.sub_title
            assert toasts(app).count("Could not load") == 1  # said once, not every refresh
            assert "Shopify US" in flat(app)  # what was shown stays
        finally:
            holder.communicate("", timeout=30)
        app.action_refresh()
        await settle(pilot)
        assert app.sub_title == "test state"
