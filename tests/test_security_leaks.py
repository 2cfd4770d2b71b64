"""Secrets never reach output, logs (at debug level), the state or a saved plan (issue 14).

A real Shopify sandbox sync with a canary access token, run without and with the daemon, every
log record at DEBUG (tether's own and the libraries', httpx included) kept; then
``tests/leakscan.py`` looks for the token, the age key and a secret in the environment in every
surface. Other surfaces (alerts, support bundles, verify output) are scanned by pointing the
same ``LeakScanner`` at them.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder, run_tether
from daemon_support import running_daemon
from leakscan import LeakScanner

from tether.config.project import load_project
from tether.daemon.logs import JsonFormatter
from tether.sandbox import shopify as sandbox

TOKEN = "shpat_leakcanary_5e1f0c2b9a"
CREDENTIALS = {"store_url": "acme.myshopify.com", "access_token": TOKEN}
ENV_SECRET = "env_leakcanary_77d1e0"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted as the daemon's JSON log lines."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("tether")]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def commands(root: str, plan: Path) -> list[list[str]]:
    return [
        ["validate"],
        ["plan", "--json"],
        ["status", "--json"],
        ["sync", "shop", "--full"],
        ["sync", "shop", "--json"],
        ["executions", "--json"],
        ["errors", "shop"],
        ["sql", "select * from integrations", "--format", "json"],
        ["sql", "select * from audit_log", "--format", "csv"],
        ["sql", "select content from read_text('/proc/self/environ')"],
        ["sql", "select * from read_csv('secrets/shop.sops.yaml')"],
        ["plan", "-out", str(plan)],
        ["show", str(plan)],
    ]


def test_no_secret_in_any_output_log_state_or_plan(
    workspace: WorkspaceBuilder,
    debug_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("TETHER_TEST_ENV_SECRET", ENV_SECRET)
    scanner = LeakScanner.for_workspace(workspace, CREDENTIALS, environment=ENV_SECRET)
    root = str(workspace.root)
    plan = tmp_path / "saved.plan"
    scenario = sandbox.Scenario(orders=60, restore_rate=1e6, access_token=TOKEN)
    with sandbox.serve(scenario) as srv:
        workspace.integration(
            "shop", "shopify", ["sales_orders"], credentials=CREDENTIALS,
            settings={"base_url": srv.url, "history_days": 120},
        )  # fmt: skip
        scanner.text("apply", workspace.apply().output)
        synced = 0
        monkeypatch.setenv("TETHER_NO_DAEMON", "1")
        for args in commands(root, plan):
            result = run_tether("-w", root, *args)
            synced += args[0] == "sync" and result.exit_code == 0
            scanner.text(f"tether {' '.join(args)} (local)", result.output)
        scanner.file(plan, "saved plan")
        monkeypatch.delenv("TETHER_NO_DAEMON")
        with running_daemon(workspace):
            assert load_project(workspace.root).socket_path.exists()
            for args in commands(root, plan):
                result = run_tether("-w", root, *args)
                synced += args[0] == "sync" and result.exit_code == 0
                scanner.text(f"tether {' '.join(args)} (daemon)", result.output)
    assert synced == 4, "the syncs ran (and used the token), so there was something to leak"
    assert workspace.query("SELECT count(*) FROM sync_items")[0][0] > 0  # orders were fetched
    log = debug_log.getvalue()
    assert '"level":"debug"' in log, "debug records were captured"
    scanner.text("logs at debug level", log)
    scanner.tree(workspace.state_path.parent)
    scanner.assert_clean()
    # The scanner itself finds a leak when there is one (else 0 hits would prove nothing).
    probe = LeakScanner(dict(scanner.secrets))
    probe.text("probe", f"token={TOKEN}")
    assert [leak.form for leak in probe.leaks][:1] == ["raw"]
    assert os.environ.get("TETHER_TEST_ENV_SECRET") == ENV_SECRET
