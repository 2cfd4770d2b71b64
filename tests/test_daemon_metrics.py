"""The daemon's Prometheus endpoint: scraped over loopback, parsed with prometheus-client's own
parser, and every value compared with the state file the test reads itself."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import httpx
import pytest
from conftest import WorkspaceBuilder, run_tether
from daemon_support import running_daemon
from prometheus_client.parser import text_string_to_metric_families

from tether.sandbox import trackstar as sandbox


def scrape(url: str) -> str:
    """What `curl URL` prints (httpx when no curl binary is installed)."""
    if shutil.which("curl"):
        done = subprocess.run(["curl", "-sf", url], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return httpx.get(url, timeout=10).text


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], metric: str, **labels: str) -> float:
    return found[(metric, tuple(sorted(labels.items())))]


@pytest.fixture
def synced(workspace: WorkspaceBuilder) -> WorkspaceBuilder:
    with sandbox.serve(sandbox.Scenario(skus=4, unmapped_skus=1)) as srv:
        for name, token in (("ts_ok", sandbox.ACCESS_TOKEN), ("ts_bad", "expired-token")):
            workspace.integration(
                name,
                "trackstar",
                ["products"],
                credentials={"api_key": sandbox.API_KEY, "access_token": token},
                settings={"base_url": srv.url},
            )
        workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(4)])
        workspace.apply()
        for name in ("ts_ok", "ts_ok", "ts_bad"):
            run_tether("-w", str(workspace.root), "sync", name)
    record_deliveries(workspace, [("ops", "delivered"), ("ops", "delivered"), ("pager", "failed")])
    with (workspace.root / "tether.toml").open("a") as toml:
        toml.write('\n[daemon]\nmetrics = "127.0.0.1:0"\n')
    return workspace


def record_deliveries(ws: WorkspaceBuilder, rows: list[tuple[str, str]]) -> None:
    """Alert deliveries as the daemon's alerting records them (its table, written directly)."""
    import duckdb

    con = duckdb.connect(str(ws.state_path))
    try:
        for route, status in rows:
            con.execute(
                "INSERT INTO alert_deliveries (route, destination, event, title, body, status, "
                "created_at) VALUES (?, 'team', 'execution_failed', 't', 'b', ?, now())",
                [route, status],
            )
    finally:
        con.close()


def test_metrics_endpoint_parses_and_matches_the_state(synced: WorkspaceBuilder) -> None:
    with running_daemon(synced) as daemon:
        assert daemon.metrics is not None
        url = daemon.metrics.url
        assert url.startswith("http://127.0.0.1:") and daemon.health()["metrics"] == url
        text = scrape(url)
    found = samples(text)

    state = {
        (i, s): n
        for i, s, n in synced.query(
            "SELECT integration_id, status, count(*) FROM executions GROUP BY ALL"
        )
    }
    assert state == {("ts_ok", "partial"): 2, ("ts_bad", "failed"): 1}
    for (integration, status), count in state.items():
        assert value(
            found, "tether_executions_total",
            integration=integration, capability="products", status=status,
        ) == count  # fmt: skip
    fetched, ok, failed, waited, last, total_s = synced.query(
        "SELECT sum(records_fetched), sum(success), sum(failed), sum(rate_limit_wait_s), "
        "epoch(max(finished_at)), sum(duration_s) FROM executions WHERE integration_id = 'ts_ok'"
    )[0]
    key = {"integration": "ts_ok", "capability": "products"}
    assert value(found, "tether_records_fetched_total", **key) == fetched > 0
    assert value(found, "tether_sync_items_total", **key, status="success") == ok
    assert value(found, "tether_sync_items_total", **key, status="failed") == failed
    assert value(found, "tether_rate_limit_wait_seconds_total", **key) == waited
    assert value(found, "tether_last_success_timestamp_seconds", **key) == pytest.approx(last)
    assert value(found, "tether_execution_duration_seconds_count", **key) == 2
    assert value(found, "tether_execution_duration_seconds_sum", **key) == pytest.approx(total_s)
    assert value(found, "tether_execution_duration_seconds_bucket", **key, le="+Inf") == 2
    # the failed integration never loaded anything: no last-success sample to alert on as fresh
    assert ("tether_last_success_timestamp_seconds", (("capability", "products"),
            ("integration", "ts_bad"))) not in found  # fmt: skip
    assert value(found, "tether_integration_info", integration="ts_bad", name="ts_bad",
                 service="trackstar") == 1  # fmt: skip
    assert value(found, "tether_scheduler_lag_seconds") == 0
    assert value(found, "tether_alert_deliveries_total", route="ops", outcome="delivered") == 2
    assert value(found, "tether_alert_deliveries_total", route="pager", outcome="failed") == 1
    # health: the engine's one definition, as `tether status --json` reports it
    assert value(found, "tether_integration_healthy", integration="ts_bad") == 0
    assert value(found, "tether_integration_health_flag", integration="ts_bad", flag="auth_failed",
                 severity="error", capability="") == 1  # fmt: skip
    assert value(found, "tether_integration_healthy", integration="ts_ok") == 0  # unmapped SKU
    assert value(found, "tether_integration_health_flag", integration="ts_ok", flag="unmapped",
                 severity="warning", capability="products") == 1  # fmt: skip
    assert "expired-token" not in text and sandbox.API_KEY not in text


def test_metrics_are_off_unless_configured(workspace: WorkspaceBuilder) -> None:
    workspace.apply()
    with running_daemon(workspace) as daemon:
        assert daemon.metrics is None and daemon.health()["metrics"] is None


def test_a_bad_metrics_address_names_the_key(workspace: WorkspaceBuilder) -> None:
    with (workspace.root / "tether.toml").open("a") as toml:
        toml.write('\n[daemon]\nmetrics = "9464"\n')
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    assert "tether.toml:" in result.output and "daemon.metrics" in result.output
    assert "HOST:PORT" in result.output


def test_a_taken_metrics_port_stops_the_daemon_with_a_clear_error(
    workspace: WorkspaceBuilder,
) -> None:
    import socket

    from tether.config.project import load_project
    from tether.daemon.service import Daemon
    from tether.errors import TetherError

    workspace.apply()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (workspace.root / "tether.toml").open("a") as toml:
            toml.write(f'\n[daemon]\nmetrics = "127.0.0.1:{port}"\n')
        daemon = Daemon(load_project(workspace.root))
        with pytest.raises(TetherError, match=f"Could not listen for metrics on 127.0.0.1:{port}"):
            daemon.start()
    assert daemon.con is None and daemon.lock is None  # released: the next start can take over
