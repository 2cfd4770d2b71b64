"""kill -9 in the middle of a sync loses at most the page in flight and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Result, WorkspaceBuilder
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, FakeConnector, register_fake

RUNNER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from sync_support import FakeConnector
from tether.connectors import registry
from tether.engine.writer import SyncWriter
registry.connectors()["fake"] = FakeConnector
save_page, saved = SyncWriter.save_page, [0]
def save_and_mark(self, *args, **kwargs):
    result = save_page(self, *args, **kwargs)
    saved[0] += 1
    (Path({markers!r}) / f"saved-{{saved[0]}}").touch()
    return result
SyncWriter.save_page = save_and_mark
from tether.cli import main
main(["-w", {root!r}, "sync", "shop"])
"""
# `saved-<n>`: this process committed its n-th page. The connector's `committed-<n>` marker
# only says the page was handed over: the fetch worker runs pages ahead of the writer, by more
# on a loaded machine, so a kill timed on it could land before anything of the run was saved.


def test_killed_sync_is_marked_interrupted_and_the_next_run_resumes(
    workspace: WorkspaceBuilder,
    tether: Callable[..., Result],
    monkeypatch: Any,
    tmp_path: Path,
) -> None:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    markers = tmp_path / "markers"
    markers.mkdir()
    settings = {"records": 40, "page_size": 5}
    workspace.integration(
        "shop",
        "fake",
        ["sales_orders"],
        settings={**settings, "sleep_s": 0.4, "marker_dir": str(markers)},
    )
    workspace.apply()

    code = RUNNER.format(
        tests=str(Path(__file__).parent), root=str(workspace.root), markers=str(markers)
    )
    env = {**os.environ, "TETHER_NO_DAEMON": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (markers / "saved-2").exists():
            assert proc.poll() is None, "the sync ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # Whatever was committed is consistent: items, data rows and cursor agree page for page.
    items = workspace.query("SELECT count(*) FROM sync_items")[0][0]
    orders = workspace.query("SELECT count(*) FROM data.sales_orders")[0][0]
    cursor = workspace.query("SELECT cursor->>'offset' FROM sync_state")[0][0]
    assert items == orders == int(cursor)
    assert items >= 10 and items % 5 == 0
    assert workspace.query("SELECT status FROM executions") == [("running",)]

    workspace.integration("shop", "fake", ["sales_orders"], settings=settings)
    workspace.apply()
    result = tether("-w", str(workspace.root), "sync", "shop")
    assert result.exit_code == 0, result.output
    assert FakeConnector.fetched[-1] == ("sales_orders", {"offset": items})

    executions = workspace.query("SELECT id, status, error FROM executions ORDER BY id")
    assert [e[1] for e in executions] == ["interrupted", "success"]
    assert "stopped before it finished" in executions[0][2]
    assert workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
    ) == [(40, 40)]
    assert workspace.query("SELECT count(*) FROM data.sales_order_lines") == [(80,)]
    listed = tether("-w", str(workspace.root), "executions", "shop")
    assert "interrupted" in listed.stdout
