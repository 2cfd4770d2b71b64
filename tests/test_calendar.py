"""The connector tests pass on any date, not only today's: they run again here in a child pytest
with the clock moved years ahead (tests/far_date.py), so a test or connector that reads the real
clock while its sandbox's data are fixed fails in CI now rather than on the day.

Only the in-process connector modules run (fast, and their sandboxes and connectors share this
clock); tests that spawn processes run on the real clock on both sides, which is fine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
MODULES = [
    "test_shopify_connector.py",
    "test_trackstar_connector.py",
    "test_brewman_connector.py",
    "test_bigquery_connector.py",
]


@pytest.mark.parametrize(
    "moment",
    [
        # Far ahead: five years past every fixed anchor and history window.
        pytest.param("2031-07-01T12:00:00+00:00", id="2031"),
    ],
)
def test_connector_tests_pass_on_another_date(moment: str) -> None:
    env = {
        **os.environ,
        "TETHER_TEST_DATE": moment,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "far_date",
         "-p", "no:randomly", *(str(HERE / m) for m in MODULES)],
        capture_output=True, text=True, env=env, cwd=HERE.parent, timeout=600,
    )  # fmt: skip
    assert f"far_date: each test ran from {moment[:10]}" in done.stdout, done.stdout
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
