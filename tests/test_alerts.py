"""Alerts end to end: a daemon, the real apprise, and a real HTTP receiver on loopback.

apprise's ``json://`` posts ``{"version", "title", "message", "type"}`` to the receiver; the
destination URL lives in a SOPS file encrypted with the test's age key (real ``sops``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import WorkspaceBuilder, run_tether
from daemon_support import running_daemon, shop_workspace, wait_for

from tether.daemon.service import Daemon

TOKEN = "s3cr3t-hook-token-0123456789"


class Receiver:
    """A webhook receiver: records each JSON body; answers 500 to the first ``fail`` posts."""

    def __init__(self, fail: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]


@contextlib.contextmanager
def receiver(fail: int = 0) -> Iterator[Receiver]:
    found = Receiver(fail)
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()


def with_alerts(ws: WorkspaceBuilder, url: str, **route: Any) -> None:
    ws.credentials("alerts", {"ops_hook": url})  # secrets/alerts.sops.yaml
    lines = ["routes:", "  ops:", "    to: [ops_hook]"]
    lines += [f"    {k}: {json.dumps(v)}" for k, v in route.items()]
    lines += ["retry:", "  attempts: 4", "  backoff_s: 0.05"]
    (ws.root / "alerts.yaml").write_text("\n".join(lines) + "\n")


def reconfigure(ws: WorkspaceBuilder, **settings: Any) -> None:
    ws.integration("shop", "fake", ["sales_orders"], settings={"records": 10, "page_size": 5,
                   **settings})  # fmt: skip
    ws.apply()


def sync(ws: WorkspaceBuilder) -> int:
    return run_tether("-w", str(ws.root), "sync", "shop").exit_code


def settled(daemon: Daemon) -> None:
    """Every queued message delivered or given up (no sleeping on a guess)."""
    assert daemon.watch is not None
    notifier = daemon.watch.notifier
    wait_for(notifier.idle, what="the alert queue to drain")


def deliveries(ws: WorkspaceBuilder, daemon: Daemon) -> list[tuple[Any, ...]]:
    assert daemon.con is not None
    return (
        daemon.con.cursor()
        .execute("SELECT event, status, attempts, destination FROM alert_deliveries ORDER BY id")
        .fetchall()
    )


@pytest.fixture
def failing_shop(workspace: WorkspaceBuilder, monkeypatch: Any) -> WorkspaceBuilder:
    return shop_workspace(workspace, monkeypatch, fail_after_pages=0, failure="unavailable")


def test_a_failure_alerts_once_and_its_recovery_once(failing_shop: WorkspaceBuilder) -> None:
    ws = failing_shop
    with receiver() as hook:
        with_alerts(ws, hook.url, events=["execution_failed", "sync_recovered"])
        ws.apply()
        with running_daemon(ws) as daemon:
            sync(ws)
            wait_for(lambda: hook.received, what="the failure alert")
            sync(ws)  # still failing: the same problem, no second message
            settled(daemon)
            assert hook.titles() == ["shop: sync failed"]
            assert hook.received[0]["type"] == "failure"
            assert "sales_orders: last sync failed: CONNECTION_TIMEOUT" in hook.received[0][
                "message"]  # fmt: skip

            reconfigure(ws)  # the source is back (applied through the daemon)
            assert sync(ws) == 0
            wait_for(lambda: len(hook.received) == 2, what="the recovery alert")
            assert sync(ws) == 0
            settled(daemon)
            assert hook.titles() == ["shop: sync failed", "shop: sync recovered"]
            assert hook.received[1]["type"] == "success"
            health = daemon.health()["alerts"]
            assert (health["delivered"], health["failed"], health["routes"]) == (2, 0, ["ops"])
            rows = deliveries(ws, daemon)
        flags = ws.query("SELECT code, resolved_at IS NOT NULL FROM health_flags ORDER BY id")
    assert rows == [("execution_failed", "delivered", 1, "ops_hook"),
                    ("sync_recovered", "delivered", 1, "ops_hook")]  # fmt: skip
    assert flags == [("failed", True)]


def test_a_hundred_failed_items_are_one_alert(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch, records=100, page_size=50, all_unmapped_every=1)
    with receiver() as hook:
        with_alerts(ws, hook.url)
        ws.apply()
        with running_daemon(ws) as daemon:
            sync(ws)
            wait_for(lambda: hook.received, what="the unmapped alert")
            settled(daemon)
    failed = ws.query("SELECT count(*) FROM sync_items WHERE status = 'failed'")[0][0]
    assert failed == 100
    assert hook.titles() == ["shop: 1 new unmapped key"]
    assert "SKU:UNMAPPED-002" in hook.received[0]["message"]
    assert "(100 items)" in hook.received[0]["message"]


def test_a_receiver_answering_500_is_retried_and_the_sync_is_unaffected(
    failing_shop: WorkspaceBuilder,
) -> None:
    ws = failing_shop
    with receiver(fail=2) as hook:
        with_alerts(ws, hook.url, escalate_after=2)
        ws.apply()
        with running_daemon(ws) as daemon:
            started = time.monotonic()
            result = run_tether("-w", str(ws.root), "sync", "shop", "--json")
            took = time.monotonic() - started
            wait_for(lambda: hook.received, what="the retried alert")
            settled(daemon)
            rows = deliveries(ws, daemon)
            health = run_tether("-w", str(ws.root), "daemon", "health").stdout
            sync(ws)  # the second failure in a row: escalated (escalate_after 2)
            wait_for(lambda: len(hook.received) == 2, what="the escalation")
    assert result.exit_code == 1 and '"failed"' in result.stdout  # the sync's own outcome
    assert took < 30  # it did not wait for the receiver's retries (backoff happens elsewhere)
    assert hook.attempts >= 3 and hook.titles()[0] == "shop: sync failed"
    assert rows == [("execution_failed", "delivered", 3, "ops_hook")]
    assert "1 delivered" in health and "2 retried" in health
    assert "last delivery failure" in health
    assert hook.titles()[1] == "shop: still failed after 2 syncs"


def test_no_destination_url_in_output_logs_state_or_plan(
    failing_shop: WorkspaceBuilder, caplog: pytest.LogCaptureFixture
) -> None:
    ws = failing_shop
    with receiver(fail=1) as hook:
        with_alerts(ws, hook.url)
        outputs = [run_tether("-w", str(ws.root), "plan").output]
        saved = ws.root / "plan.out"
        outputs.append(run_tether("-w", str(ws.root), "plan", "-out", str(saved)).output)
        outputs.append(saved.read_text())
        ws.apply()
        with caplog.at_level("DEBUG"), running_daemon(ws) as daemon:
            sync(ws)
            wait_for(lambda: hook.received, what="the alert")
            settled(daemon)
            for args in (("alerts",), ("alerts", "--json"), ("daemon", "health", "--json"),
                         ("alerts", "test"), ("status", "--json")):  # fmt: skip
                outputs.append(run_tether("-w", str(ws.root), *args).output)
        dump = ws.query(
            "SELECT string_agg(CAST(d AS VARCHAR), ' ') FROM (SELECT * FROM alert_deliveries "
            "UNION ALL BY NAME SELECT * FROM meta) d"
        )
    text = "\n".join(outputs) + caplog.text + str(dump)
    assert 'alert_route "ops"' in outputs[0] and "to           = ops_hook" in outputs[0]
    assert "Sent a test message: route ops → ops_hook ✔" in outputs[-2]
    assert TOKEN not in text and hook.url not in text
    assert TOKEN not in (ws.root / "secrets" / "alerts.sops.yaml").read_text()


def test_a_restarted_daemon_does_not_alert_twice(failing_shop: WorkspaceBuilder) -> None:
    ws = failing_shop
    with receiver() as hook:
        with_alerts(ws, hook.url)
        ws.apply()
        with running_daemon(ws) as daemon:
            sync(ws)
            wait_for(lambda: hook.received, what="the failure alert")
            settled(daemon)
        with running_daemon(ws) as daemon:  # reads the open flags back from health_flags
            sync(ws)
            settled(daemon)
            assert daemon.health()["alerts"]["integrations_flagged"] == 1
    assert hook.titles() == ["shop: sync failed"]


def test_alerts_test_names_a_destination_that_refuses(failing_shop: WorkspaceBuilder) -> None:
    ws = failing_shop
    with receiver(fail=99) as hook:
        with_alerts(ws, hook.url)
        result = run_tether("-w", str(ws.root), "alerts", "test", "ops")  # no daemon needed
        missing = run_tether("-w", str(ws.root), "alerts", "test", "nosuch")
    assert result.exit_code == 1
    assert "1 of 1 test messages were not delivered: ops/ops_hook:" in result.stderr
    assert TOKEN not in result.output and hook.attempts == 1
    assert missing.exit_code == 1 and "No alert route 'nosuch'." in missing.stderr
