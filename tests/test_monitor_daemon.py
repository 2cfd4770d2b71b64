"""The monitor through a running daemon: roles learned from its refusals, actions it runs, and
a running execution's counters updating live as pages commit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import WorkspaceBuilder
from daemon_support import client, running_daemon, shop_workspace, wait_for
from monitor_support import PatientMonitorApp, flat, press, region_text, settle, toasts

from tether.daemon.server import Peer
from tether.tui.datasource import BackendSource
from tether.tui.screens.execution import ExecutionScreen

pytestmark = pytest.mark.anyio

SIZE = (160, 48)


class Peers:
    def __init__(self, user: str) -> None:
        self.user = user

    def __call__(self, sock: Any) -> Peer:
        return Peer(pid=1, uid=1000, gid=1000, user=self.user)


def with_access(ws: WorkspaceBuilder) -> None:
    toml = ws.root / "tether.toml"
    toml.write_text(
        toml.read_text().replace('admins = ["root"', 'operators = ["olga"]\nadmins = ["ada"')
    )


async def test_viewer_is_refused_then_operator_syncs_and_pauses(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    with_access(ws)
    peers = Peers("vic")
    with running_daemon(ws, socket_peer=peers):
        viewer = PatientMonitorApp(
            BackendSource(client(ws), "daemon"), refresh_s=0, debounce_s=0.05
        )
        async with viewer.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            assert "1 integrations" in flat(viewer)
            await press(pilot, "enter", "t")
            assert "'sync' needs the operator role; you are a viewer" in toasts(viewer)
            bar = region_text(viewer, "ActionBar")
            assert "disabled: needs the operator role; your role is viewer" in bar

        peers.user = "olga"
        operator = PatientMonitorApp(BackendSource(client(ws), "daemon"), refresh_s=0)
        async with operator.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            await press(pilot, "enter", "t")
            assert "Sync of shop Run" in toasts(operator)
            assert "sales_orders success (10 fetched, 0 failed)" in toasts(operator)
            assert "1 execution shown" in flat(operator)
            await press(pilot, "p")
            for char in "vendor outage":
                await pilot.press(char)
            await press(pilot, "enter")
            assert "State paused (vendor outage)" in flat(operator)
    assert ws.query("SELECT paused, paused_reason FROM integrations") == [(True, "vendor outage")]
    audit = ws.query("SELECT actor, action FROM audit_log WHERE action <> 'apply' ORDER BY id")
    assert ("olga", "pause") in audit and ("vic", "sync") not in audit


async def test_running_execution_counters_update_live(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch, records=40, page_size=5, sleep_s=0.3)
    with running_daemon(ws) as daemon:
        background = threading.Thread(target=lambda: client(ws).call("sync", integration="shop"))
        background.start()
        wait_for(
            lambda: ws_executions(daemon) and ws_executions(daemon)[0]["records_fetched"] > 0,
            what="the first page to commit",
        )
        app = PatientMonitorApp(BackendSource(client(ws), "daemon"), refresh_s=0)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "enter", "enter")
            assert isinstance(app.screen, ExecutionScreen)
            assert "● running" in region_text(app, "#exec-summary")
            first = app.screen.execution["records_fetched"]
            wait_for(
                lambda: ws_executions(daemon)[0]["records_fetched"] > first, what="another page"
            )
            app.action_refresh()
            await settle(pilot)
            assert app.screen.execution["records_fetched"] > first
            fetched = app.screen.execution["records_fetched"]
            assert f"Fetched {fetched:,}" in region_text(app, "#exec-summary")
            background.join(30)
            app.action_refresh()
            await settle(pilot)
            summary = region_text(app, "#exec-summary")
            assert "✔ success" in summary and "Fetched 40" in summary
            assert "Items 1–40 of 40" in region_text(app, "#items-paging")


def ws_executions(daemon: Any) -> list[dict[str, Any]]:
    from tether.daemon.remote import DaemonClient

    remote = DaemonClient(daemon.workspace.socket_path)
    try:
        rows: list[dict[str, Any]] = remote.call("executions", integration="shop")["executions"]
        return rows
    finally:
        remote.close()
