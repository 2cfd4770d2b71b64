"""The CLI through a running daemon: same output, roles from the peer, pause/resume, apply."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder
from daemon_support import client, running_daemon, shop_workspace, wait_for

from tether.daemon.remote import DaemonClient
from tether.daemon.server import Peer
from tether.errors import NotFoundError, PermissionDeniedError


@pytest.fixture
def shop(workspace: WorkspaceBuilder, monkeypatch: Any) -> WorkspaceBuilder:
    return shop_workspace(workspace, monkeypatch)


def cli(ws: WorkspaceBuilder, tether: Callable[..., Result], *args: str) -> Result:
    return tether("-w", str(ws.root), *args)


def test_commands_answer_the_same_with_and_without_the_daemon(
    shop: WorkspaceBuilder, tether: Callable[..., Result]
) -> None:
    assert cli(shop, tether, "sync", "shop").exit_code == 0
    commands = [
        ("status", "--json"),
        ("sql", "SELECT id, status, records_fetched FROM executions", "--format", "json"),
        ("executions", "shop", "--json"),
        ("errors", "--integration", "shop", "--json"),
        ("sync", "nosuch"),  # an error: same message on stderr, same exit code
    ]
    local = [cli(shop, tether, *c) for c in commands]
    with running_daemon(shop):
        assert client(shop).via_daemon
        remote = [cli(shop, tether, *c) for c in commands]
    for command, here, there in zip(commands, local, remote, strict=True):
        assert (here.exit_code, here.stdout, here.stderr) == (
            there.exit_code,
            there.stdout,
            there.stderr,
        ), command
    assert "Unknown integration 'nosuch'" in remote[-1].stderr
    assert json.loads(remote[0].stdout)["integrations"][0]["id"] == "shop"


def test_the_daemon_holds_the_state_and_serves_health(
    shop: WorkspaceBuilder, tether: Callable[..., Result]
) -> None:
    with running_daemon(shop) as daemon:
        socket_path = daemon.workspace.socket_path
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        result = cli(shop, tether, "daemon", "health", "--json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["ok"] and doc["daemon"]
        assert doc["pid"] == os.getpid()
        assert doc["scheduled"] == 1
        assert doc["state_file"] == str(shop.state_path)
        text = cli(shop, tether, "daemon", "health").stdout
        assert "ok  pid" in text and "1 scheduled" in text
        raw = client(shop)
        response = raw._request("GET", "/health", None, {})
        assert response.status == 200
        assert json.loads(response.read())["result"]["ok"] is True
        response = raw._request("GET", "/nowhere", None, {})
        assert response.status == 404
        assert json.loads(response.read())["error"]["type"] == "NotFoundError"
        holder = (shop.root / "state" / "tether.lock").read_text()
        assert '"operation": "daemon"' in holder
    assert not socket_path.exists()
    result = cli(shop, tether, "daemon", "health")
    assert result.exit_code == 1
    assert "not running" in result.stdout


def test_pause_and_resume_change_the_schedule_and_are_audited(
    shop: WorkspaceBuilder, tether: Callable[..., Result]
) -> None:
    with running_daemon(shop) as daemon:
        result = cli(shop, tether, "pause", "shop", "--reason", "supplier migration")
        assert result.exit_code == 0, result.output
        assert result.stdout == (
            "Paused shop (supplier migration): scheduled syncs stop until `tether resume shop`.\n"
        )
        assert daemon.health()["scheduled"] == 0
        row = json.loads(cli(shop, tether, "status", "--json").stdout)["integrations"][0]
        assert (row["paused"], row["paused_reason"], row["next_sync"]) == (
            True,
            "supplier migration",
            None,
        )
        result = cli(shop, tether, "resume", "shop")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("Resumed shop: next scheduled sync 20")
        assert daemon.health()["scheduled"] == 1
        assert cli(shop, tether, "pause", "nosuch").exit_code == 1
    audit = shop.query(
        "SELECT action, integration_id, detail->>'reason' FROM audit_log "
        "WHERE action IN ('pause', 'resume') ORDER BY id"
    )
    assert audit == [("pause", "shop", "supplier migration"), ("resume", "shop", None)]
    paused_by = shop.query("SELECT paused, paused_by FROM integrations")
    assert paused_by == [(False, None)]


def test_pause_works_without_a_daemon_and_plan_reports_it(
    shop: WorkspaceBuilder, tether: Callable[..., Result]
) -> None:
    result = cli(shop, tether, "pause", "shop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["paused"] is True
    assert shop.query("SELECT paused, paused_by FROM integrations")[0][0] is True
    plan = cli(shop, tether, "plan")
    assert "shop" in plan.stdout and "pause" in plan.stdout.lower()


def test_apply_through_the_daemon_reschedules_without_a_restart(
    shop: WorkspaceBuilder, tether: Callable[..., Result]
) -> None:
    with running_daemon(shop) as daemon:
        before = daemon.health()["serial"]
        shop.integration(
            "shop",
            "fake",
            ["sales_orders"],
            schedule={"cron": "0 30 6 * * *", "timezone": "America/New_York"},
            settings={"records": 10, "page_size": 5},
        )
        shop.integration("second", "fake", ["products"], settings={"records": 3})
        result = cli(shop, tether, "apply", "--auto-approve")
        assert result.exit_code == 0, result.output
        health = daemon.health()
        assert health["serial"] == before + 1
        assert health["scheduled"] == 2
        rows = {r["id"]: r for r in json.loads(cli(shop, tether, "status", "--json").stdout)
                ["integrations"]}  # fmt: skip
        assert rows["shop"]["next_sync"].endswith(("10:30:00+00:00", "11:30:00+00:00"))

        (shop.root / "integrations" / "second.yaml").unlink()
        assert cli(shop, tether, "apply", "--auto-approve").exit_code == 0
        assert daemon.health()["scheduled"] == 1
        assert daemon.dispatcher is not None
        assert daemon.dispatcher.next_sync("second") is None


def test_a_manual_sync_during_a_run_is_queued_and_runs_after_it(
    workspace: WorkspaceBuilder, monkeypatch: Any, tether: Callable[..., Result]
) -> None:
    ws = shop_workspace(workspace, monkeypatch, records=20, page_size=5, sleep_s=0.25)
    with running_daemon(ws) as daemon:
        first: dict[str, Any] = {}
        background = threading.Thread(
            target=lambda: first.update(client(ws).call("sync", integration="shop"))
        )
        background.start()
        wait_for(lambda: daemon.health()["running"], what="the first run to start")
        result = cli(ws, tether, "sync", "shop", "--json")
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["queued"] is True
        assert answer["position"] == 1
        assert "is in progress" in answer["message"]
        background.join(20)
        assert first["queued"] is False
        assert first["executions"][0]["status"] == "success"
        wait_for(lambda: not daemon.health()["running"], what="the queued run")
    runs = ws.query("SELECT trigger, requested_by IS NOT NULL FROM runs ORDER BY id")
    assert [r[0] for r in runs] == ["manual", "manual"]
    statuses = ws.query("SELECT status FROM executions ORDER BY id")
    assert statuses == [("success",), ("success",)]


class Peers:
    """A peer-credential resolver a test points at any user name."""

    def __init__(self) -> None:
        self.user = "root"

    def __call__(self, sock: Any) -> Peer:
        return Peer(pid=1, uid=1000, gid=1000, user=self.user)


def test_roles_come_from_the_peer_and_refusals_say_which_role_is_needed(
    workspace: WorkspaceBuilder, monkeypatch: Any, tether: Callable[..., Result]
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    toml = ws.root / "tether.toml"
    toml.write_text(
        toml.read_text().replace('admins = ["root"', 'operators = ["olga"]\nadmins = ["ada"')
    )
    peers = Peers()
    with running_daemon(ws, socket_peer=peers):

        def connect_as(user: str) -> DaemonClient:
            peers.user = user  # the daemon asks the kernel once per connection
            return client(ws)

        remote = connect_as("vic")  # not listed: a viewer
        assert remote.call("status")["integrations"][0]["id"] == "shop"
        with pytest.raises(PermissionDeniedError) as refused:
            remote.call("sync", integration="shop")
        assert refused.value.needed == "operator"
        result = cli(ws, tether, "pause", "shop")
        assert result.exit_code == 1
        assert "'pause' needs the operator role; you are a viewer" in result.stderr

        remote = connect_as("olga")
        assert remote.call("pause", integration="shop")["paused"] is True
        assert remote.call("resume", integration="shop")["paused"] is False
        result = cli(ws, tether, "reset", "shop", "--yes")
        assert result.exit_code == 1
        assert "'reset' needs the admin role" in result.stderr

        remote = connect_as("ada")
        assert remote.call("reset", integration="shop", confirm="shop")["integration"] == "shop"
        with pytest.raises(NotFoundError):
            remote.call("no_such_operation")
    actors = ws.query("SELECT actor, action FROM audit_log WHERE action <> 'apply' ORDER BY id")
    assert actors == [("olga", "pause"), ("olga", "resume"), ("ada", "reset")]


def test_a_stale_socket_is_not_mistaken_for_a_daemon(shop: WorkspaceBuilder) -> None:
    with running_daemon(shop) as daemon:
        path = daemon.workspace.socket_path
    import socket as socketlib

    stale = socketlib.socket(socketlib.AF_UNIX)
    stale.bind(str(path))  # left behind by a daemon that was killed
    stale.close()
    assert path.exists()
    assert DaemonClient.try_connect(path) is None
    with running_daemon(shop):  # and a new daemon replaces it
        assert client(shop).call("health")["ok"] is True
