"""kill -9 a sync again and again at random points, then let it finish: the data equals the
source exactly, every killed execution is `interrupted`, and cursors never move backwards."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Result, WorkspaceBuilder
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, register_fake
from test_sync_kill import RUNNER

RECORDS = 3000
KILLS = 12


def cursor_offset(ws: WorkspaceBuilder) -> int:
    rows = ws.query("SELECT cursor->>'offset' FROM sync_state")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def test_repeated_kill_9_loses_and_duplicates_nothing(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], monkeypatch: Any, tmp_path: Path
) -> None:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    settings = {"records": RECORDS, "page_size": 5}
    markers = tmp_path / "markers"
    markers.mkdir()
    workspace.integration(
        "shop",
        "fake",
        ["sales_orders"],
        settings={**settings, "sleep_s": 0.03, "marker_dir": str(markers)},
    )
    workspace.apply()
    code = RUNNER.format(
        tests=str(Path(__file__).parent), root=str(workspace.root), markers=str(markers)
    )
    env = {**os.environ, "TETHER_NO_DAEMON": "1"}
    chance = random.Random(20261125)
    offsets = [0]
    kills = 0
    for _ in range(KILLS):
        for marker in markers.iterdir():
            marker.unlink()
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        # Wait out the start-up (slow on a loaded machine) until this run has saved a page, then
        # kill somewhere in the page loop.
        deadline = time.monotonic() + 120
        while not (markers / "saved-1").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "the sync never saved its first page"
            time.sleep(0.01)
        time.sleep(chance.uniform(0.0, 0.8))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        offsets.append(cursor_offset(workspace))
        # Whatever is committed is consistent page for page.
        orders = workspace.query(
            "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
        )[0]
        assert orders[0] == orders[1] == offsets[-1]
    assert kills >= 10, f"only {kills} syncs were still running when killed"
    assert offsets == sorted(offsets), f"a cursor moved backwards: {offsets}"
    assert offsets[-1] < RECORDS, "the kills should leave work for the final sync"

    workspace.integration("shop", "fake", ["sales_orders"], settings=settings)
    workspace.apply()
    result = tether("-w", str(workspace.root), "sync", "shop")
    assert result.exit_code == 0, result.output

    assert workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
    ) == [(RECORDS, RECORDS)]
    assert workspace.query("SELECT count(*) FROM data.sales_order_lines") == [(2 * RECORDS,)]
    statuses = [s for (s,) in workspace.query("SELECT status FROM executions ORDER BY id")]
    assert statuses[-1] == "success"
    assert set(statuses[:-1]) == {"interrupted"}, statuses
    # Every killed sync that committed a page left an execution, and it is `interrupted` (a
    # sync killed before its first commit may leave none: nothing of it was written).
    progressed = sum(1 for before, after in itertools.pairwise(offsets) if after > before)
    assert progressed >= KILLS // 2, offsets  # most kills land mid-run, after commits
    assert progressed <= len(statuses) - 1 <= kills
