"""Scheduled runs through a real daemon and sync engine, on a clock the test moves.

Restarts in the middle of a minute must neither repeat a tick nor lose one; ticks missed while
the daemon was down follow [daemon] catch_up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import WorkspaceBuilder
from daemon_support import FakeClock, client, minute_after, running_daemon, wait_for
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, register_fake

from tether.daemon.service import Daemon

EVERY_MINUTE = {"cron": "0 * * * * *", "timezone": "UTC"}


@pytest.fixture
def minutely(workspace: WorkspaceBuilder, monkeypatch: Any) -> WorkspaceBuilder:
    """Two every-minute integrations, applied together."""
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    workspace.integration(
        "shop", "fake", ["sales_orders"], schedule=EVERY_MINUTE, settings={"records": 3}
    )
    workspace.integration(
        "other", "fake", ["products"], schedule=EVERY_MINUTE, settings={"records": 2}
    )
    workspace.apply()
    return workspace


@pytest.fixture
def applied_at(minutely: WorkspaceBuilder) -> datetime:
    created: datetime = minutely.query("SELECT max(created_at) FROM integrations")[0][0]
    return created.astimezone(UTC)


@pytest.fixture
def base(applied_at: datetime) -> datetime:
    """The whole minute before the first tick the daemon will see."""
    return minute_after(applied_at, 0)


def runs(ws: WorkspaceBuilder) -> list[tuple[str, str, str]]:
    """(integration, trigger, scheduled_for) of every run, read through the daemon."""
    rows = client(ws).call(
        "sql",
        query="SELECT integration_id, trigger, strftime(scheduled_for AT TIME ZONE 'UTC', "
        "'%H:%M:%S') FROM runs ORDER BY scheduled_for, integration_id",
    )["rows"]
    return [tuple(r) for r in rows]


def finished(ws: WorkspaceBuilder) -> int:
    query = "SELECT count(*) FROM executions WHERE status <> 'running'"
    count: int = client(ws).call("sql", query=query)["rows"][0][0]
    return count


def settle(daemon: Daemon, ws: WorkspaceBuilder, count: int) -> list[tuple[str, str, str]]:
    """Wait until ``count`` runs exist and none is running."""

    def done() -> bool:
        return len(runs(ws)) >= count and not daemon.health()["running"]

    wait_for(done, what=f"{count} runs")
    return runs(ws)


def at(clock: FakeClock, daemon: Daemon, moment: datetime) -> None:
    clock.set(moment)
    assert daemon.dispatcher is not None
    daemon.dispatcher.wake()


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


@pytest.fixture
def clock(applied_at: datetime) -> Iterator[FakeClock]:
    """Starts when the integrations were applied: nothing missed yet."""
    yield FakeClock(applied_at)


def test_restart_mid_minute_neither_repeats_nor_loses_a_tick(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock
) -> None:
    first, second = base + timedelta(minutes=1), base + timedelta(minutes=2)
    with running_daemon(minutely, clock=clock) as daemon:
        assert runs(minutely) == []
        at(clock, daemon, first)
        assert settle(daemon, minutely, 2) == [
            ("other", "scheduled", hhmm(first)),
            ("shop", "scheduled", hhmm(first)),
        ]
        clock.set(first + timedelta(seconds=25))
    # Stopped 25 s into the minute; back 20 s later, still before the next tick.
    clock.set(first + timedelta(seconds=45))
    with running_daemon(minutely, clock=clock) as daemon:
        assert daemon.health()["catch_up"]["missed_ticks"] == 0
        assert len(runs(minutely)) == 2  # the 'first' tick was recorded: not run again
        at(clock, daemon, second)
        got = settle(daemon, minutely, 4)
    assert got[2:] == [("other", "scheduled", hhmm(second)), ("shop", "scheduled", hhmm(second))]
    statuses = {r[0] for r in minutely.query("SELECT status FROM executions")}
    assert statuses == {"success"}


def test_a_tick_due_during_a_quick_restart_runs_late_not_never(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock
) -> None:
    first = base + timedelta(minutes=1)
    with running_daemon(minutely, clock=clock) as daemon:
        at(clock, daemon, first)
        settle(daemon, minutely, 2)
    # Down across the next tick for 10 s: within the grace, it runs as a (late) scheduled run.
    clock.set(first + timedelta(minutes=1, seconds=10))
    with running_daemon(minutely, clock=clock) as daemon:
        got = settle(daemon, minutely, 4)
        health = daemon.health()
    late = hhmm(first + timedelta(minutes=1))
    assert got[2:] == [("other", "scheduled", late), ("shop", "scheduled", late)]
    assert health["catch_up"]["missed_ticks"] == 0
    assert health["last_launch_lag_s"] == 10.0


@pytest.mark.parametrize("mode", ["once", "skip"])
def test_ticks_missed_while_down_follow_catch_up(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock, mode: str
) -> None:
    toml = minutely.root / "tether.toml"
    toml.write_text(toml.read_text() + f'\n[daemon]\ncatch_up = "{mode}"\n')
    first = base + timedelta(minutes=1)
    with running_daemon(minutely, clock=clock) as daemon:
        at(clock, daemon, first)
        settle(daemon, minutely, 2)
    # Down for four ticks and back 30 s after the last one (older than the grace of 0 s).
    clock.set(first + timedelta(minutes=4, seconds=30))
    with running_daemon(minutely, clock=clock, grace=timedelta(0)) as daemon:
        health = daemon.health()
        assert health["catch_up"]["mode"] == mode
        assert health["catch_up"]["missed_ticks"] == 8  # 4 ticks x 2 integrations
        assert "4 ticks missed" in health["catch_up"]["missed"][0]["action"]
        expected = 2 + (2 if mode == "once" else 0)
        got = settle(daemon, minutely, expected)
        assert len(got) == expected
        if mode == "once":
            last_missed = hhmm(first + timedelta(minutes=4))
            assert got[2:] == [
                ("other", "catch_up", last_missed),
                ("shop", "catch_up", last_missed),
            ]
        at(clock, daemon, first + timedelta(minutes=5))  # and the schedule goes on
        got = settle(daemon, minutely, expected + 2)
    assert got[-1] == ("shop", "scheduled", hhmm(first + timedelta(minutes=5)))
    assert len({(r[0], r[2]) for r in got}) == len(got)  # never the same tick twice


def test_pausing_drops_the_pending_tick_and_resuming_starts_from_the_next(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock
) -> None:
    with running_daemon(minutely, clock=clock) as daemon:
        client(minutely).call("pause", integration="shop", reason="maintenance")
        at(clock, daemon, base + timedelta(minutes=1))
        assert settle(daemon, minutely, 1) == [
            ("other", "scheduled", hhmm(base + timedelta(minutes=1)))
        ]
        clock.set(base + timedelta(minutes=1, seconds=30))
        row = client(minutely).call("resume", integration="shop")
        assert row["paused"] is False
        assert daemon.dispatcher is not None
        assert daemon.dispatcher.next_sync("shop") == (base + timedelta(minutes=2)).isoformat()


def test_due_ticks_are_recorded_at_the_tick_and_runs_use_them(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock
) -> None:
    toml = minutely.root / "tether.toml"
    toml.write_text(toml.read_text() + "\n[daemon]\nmax_concurrent_syncs = 1\n")
    first = base + timedelta(minutes=1)
    with running_daemon(minutely, clock=clock) as daemon:
        before = client(minutely).call("status")["integrations"]
        assert [row["last_sync"] for row in before] == [None, None]
        at(clock, daemon, first)
        settle(daemon, minutely, 2)
        wait_for(lambda: finished(minutely) == 2, what="2 finished runs")
        # A scheduled run changes what status shows without any API write: not a stale answer.
        after = client(minutely).call("status")["integrations"]
        assert [row["last_sync"]["status"] for row in after] == ["success", "success"]
    # Both ticks were recorded as started at the tick itself, though one waited for the other.
    runs = minutely.query(
        "SELECT r.integration_id, r.created_at, r.requested_by, e.run_id = r.id "
        "FROM runs r JOIN executions e ON e.integration_id = r.integration_id ORDER BY 1"
    )
    assert [(r[0], r[1].astimezone(UTC), r[2], r[3]) for r in runs] == [
        ("other", first, "scheduler", True),
        ("shop", first, "scheduler", True),
    ]
    audited = minutely.query("SELECT count(*) FROM audit_log WHERE action = 'sync'")
    assert audited == [(2,)]


def test_a_tick_recorded_by_a_killed_daemon_but_never_started_still_runs(
    minutely: WorkspaceBuilder, base: datetime, clock: FakeClock
) -> None:
    first = base + timedelta(minutes=1)
    # A daemon killed right after recording the tick, before starting either run.
    import duckdb

    con = duckdb.connect(str(minutely.state_path))
    con.execute(
        "INSERT INTO runs (integration_id, trigger, scheduled_for, requested_by) VALUES "
        "('shop', 'scheduled', ?, 'scheduler'), ('other', 'scheduled', ?, 'scheduler')",
        [first, first],
    )
    con.close()
    clock.set(first + timedelta(seconds=10))
    with running_daemon(minutely, clock=clock) as daemon:
        got = settle(daemon, minutely, 2)
        wait_for(lambda: finished(minutely) == 2, what="2 finished runs")
    assert got == [("other", "scheduled", hhmm(first)), ("shop", "scheduled", hhmm(first))]
