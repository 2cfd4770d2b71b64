"""Helpers for daemon tests: an in-process daemon on a workspace, a controllable clock."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import WorkspaceBuilder
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, register_fake

from tether.config.project import load_project
from tether.daemon.remote import DaemonClient
from tether.daemon.service import Daemon


class FakeClock:
    """Wall clock a test moves by hand; the daemon re-reads it when woken."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self.now = moment


def shop_workspace(ws: WorkspaceBuilder, monkeypatch: Any, **settings: Any) -> WorkspaceBuilder:
    """One applied `fake` integration `shop` (daily at midnight UTC unless told otherwise)."""
    register_fake(monkeypatch)
    ws.mappings("sku", MAPPED_SKUS)
    ws.mappings("channel", MAPPED_CHANNELS)
    schedule = settings.pop("schedule", {"cron": "0 0 0 * * *", "timezone": "UTC"})
    ws.integration(
        "shop",
        "fake",
        ["sales_orders"],
        schedule=schedule,
        settings={"records": 10, "page_size": 5, **settings},
    )
    ws.apply()
    return ws


@contextlib.contextmanager
def running_daemon(ws: WorkspaceBuilder, **options: Any) -> Iterator[Daemon]:
    daemon = Daemon(load_project(ws.root), **options)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def client(ws: WorkspaceBuilder) -> DaemonClient:
    found = DaemonClient.try_connect(load_project(ws.root).socket_path)
    assert found is not None, "no daemon answers on the workspace socket"
    return found


def wait_for(condition: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
    """Poll until ``condition`` is truthy. The deadline only guards a hang: it returns as soon
    as the condition holds, and on a loaded machine (two cores, a daemon, a sync and pytest -n 2)
    starting a daemon or a sync can take many seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def minute_after(moment: datetime, minutes: int = 1, seconds: int = 0) -> datetime:
    floor = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return floor + timedelta(minutes=minutes, seconds=seconds)
