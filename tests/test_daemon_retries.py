"""Run retries through a real daemon, sync engine and TrackStar sandbox, on a clock the test moves.

A scheduled run that fails on a transient error runs again as ``retry_after_failure`` after an
exponential backoff (jitter injected); AUTH_FAILED is never retried.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import WorkspaceBuilder
from daemon_support import FakeClock, client, running_daemon, wait_for

from tether.daemon.retries import ExecutionOutcome, RetryPolicy, plan_retry
from tether.daemon.service import Daemon
from tether.sandbox import trackstar as sandbox

HTTP_ATTEMPTS = 5
"""Requests one fetch makes before it gives up on 5xx (``HttpPolicy.max_retries`` + 1)."""


@pytest.fixture(autouse=True)
def quick_http_backoff(monkeypatch: Any) -> None:
    """The HTTP client's own retries (within one run) sleep real seconds; not under test here."""
    monkeypatch.setattr("tether.connectors.http.HttpPolicy.backoff", lambda self, attempt: 0.0)


def trackstar_workspace(ws: WorkspaceBuilder, url: str, token: str = sandbox.ACCESS_TOKEN) -> None:
    ws.integration(
        "ts_main",
        "trackstar",
        ["products"],
        credentials={"api_key": sandbox.API_KEY, "access_token": token},
        settings={"base_url": url},
        schedule={"cron": "0 0 0 * * *", "timezone": "UTC"},
        retry={"attempts": 3, "backoff": "5m"},
    )
    ws.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(3)])
    ws.apply()


def runs(ws: WorkspaceBuilder) -> list[list[Any]]:
    """(id, trigger, attempt, retry_of, status, error_code) of every execution, via the daemon."""
    rows: list[list[Any]] = client(ws).call(
        "sql",
        query="SELECT r.id, r.trigger, r.attempt, r.retry_of, e.status, e.error_code FROM runs r "
        "JOIN executions e ON e.run_id = r.id WHERE e.status <> 'running' ORDER BY r.id",
    )["rows"]
    return rows


def settled(daemon: Daemon, ws: WorkspaceBuilder, count: int) -> list[list[Any]]:
    def done() -> list[list[Any]] | None:
        # Idle before and after the read, with no launch in between: a run records its attempt
        # after its executions finish, so rows read while it still runs can be half-written.
        before = daemon.health()
        if before["running"]:
            return None
        found = runs(ws)
        after = daemon.health()
        if after["running"] or after["launched"] != before["launched"]:
            return None
        return found if len(found) >= count else None

    result: list[list[Any]] = wait_for(done, what=f"{count} finished runs")
    return result


def move(clock: FakeClock, daemon: Daemon, moment: datetime) -> None:
    clock.set(moment)
    assert daemon.dispatcher is not None
    daemon.dispatcher.wake()


def pending_retry(daemon: Daemon) -> dict[str, Any]:
    pending: list[dict[str, Any]] = daemon.health()["retries"]["pending"]
    assert len(pending) == 1, pending
    return pending[0]


def midnight_after(ws: WorkspaceBuilder) -> datetime:
    created: datetime = ws.query("SELECT max(created_at) FROM integrations")[0][0]
    day = created.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def test_503_twice_then_200_succeeds_on_the_third_attempt_after_the_backoff(
    workspace: WorkspaceBuilder,
) -> None:
    scenario = sandbox.Scenario(
        skus=3, unmapped_skus=0, server_errors=2 * HTTP_ATTEMPTS, server_error_status=503
    )
    with sandbox.serve(scenario) as srv:
        trackstar_workspace(workspace, srv.url)
        tick = midnight_after(workspace)
        clock = FakeClock(tick - timedelta(seconds=30))
        # jitter 0.5 → each wait is 0.75 of its step: 225 s, then 450 s (backoff 5m, doubled)
        with running_daemon(workspace, clock=clock, jitter=lambda: 0.5) as daemon:
            move(clock, daemon, tick)
            first = settled(daemon, workspace, 1)
            assert first == [[first[0][0], "scheduled", 1, None, "failed", "CONNECTION_TIMEOUT"]]
            retry = pending_retry(daemon)
            assert retry["trigger"] == "retry_after_failure" and retry["attempt"] == 2
            assert retry["due_at"] == (tick + timedelta(seconds=225)).isoformat()

            move(clock, daemon, tick + timedelta(seconds=224))  # one second early: nothing runs
            assert len(runs(workspace)) == 1 and not daemon.health()["running"]
            move(clock, daemon, tick + timedelta(seconds=225))
            second = settled(daemon, workspace, 2)
            assert second[1][1:] == ["retry_after_failure", 2, first[0][0], "failed",
                                     "CONNECTION_TIMEOUT"]  # fmt: skip
            due = datetime.fromisoformat(pending_retry(daemon)["due_at"])
            assert due == tick + timedelta(seconds=225 + 450)

            move(clock, daemon, due)
            third = settled(daemon, workspace, 3)
            assert third[2][1:] == ["retry_after_failure", 3, second[1][0], "success", None]
            assert daemon.health()["retries"]["pending"] == []

        listed = client_free_executions(workspace)
    assert sum(1 for r in srv.requests if r.path == "/wms/products") > 2 * HTTP_ATTEMPTS
    assert workspace.query("SELECT count(*) FROM data.products")[0][0] == 3
    assert "retry_after_failure #3" in listed and "retry_after_failure #2" in listed


def client_free_executions(ws: WorkspaceBuilder) -> str:
    from conftest import run_tether

    result = run_tether("-w", str(ws.root), "executions")
    assert result.exit_code == 0, result.output
    return result.output


def test_a_bad_token_fails_once_and_is_not_retried(workspace: WorkspaceBuilder) -> None:
    with sandbox.serve(sandbox.Scenario(skus=3)) as srv:
        trackstar_workspace(workspace, srv.url, token="expired-token")
        tick = midnight_after(workspace)
        clock = FakeClock(tick - timedelta(seconds=30))
        with running_daemon(workspace, clock=clock) as daemon:
            move(clock, daemon, tick)
            done = settled(daemon, workspace, 1)
            assert done[0][1:] == ["scheduled", 1, None, "failed", "AUTH_FAILED"]
            assert daemon.health()["retries"]["pending"] == []
            move(clock, daemon, tick + timedelta(hours=6))
            assert len(runs(workspace)) == 1


def outcome(status: str, code: str | None, domain: str = "products") -> ExecutionOutcome:
    return ExecutionOutcome(domain, status, code)


def test_only_transient_failures_of_scheduled_runs_are_retried() -> None:
    policy = RetryPolicy(attempts=3, backoff_s=60)

    def plan(trigger: str, attempt: int, *outcomes: ExecutionOutcome) -> Any:
        return plan_retry("shop", 7, trigger, attempt, outcomes, policy, lambda: 0.0)

    assert plan("scheduled", 1, outcome("failed", "AUTH_FAILED")) is None
    assert plan("scheduled", 1, outcome("partial", None)) is None  # unmapped SKUs: fix mappings
    assert plan("scheduled", 1, outcome("failed", "SOURCE_ERROR")) is None  # malformed body
    assert plan("manual", 1, outcome("failed", "CONNECTION_TIMEOUT")) is None
    assert plan("retry_after_failure", 3, outcome("failed", "CONNECTION_TIMEOUT")) is None
    mixed = plan(
        "catch_up",
        1,
        outcome("success", None, "sales_orders"),
        outcome("partial", "RATE_LIMITED", "products"),
    )
    assert mixed.capabilities == ("products",) and mixed.attempt == 2
    assert mixed.delay_s == 30.0  # half of the 60 s step with jitter 0
    again = plan("retry_after_failure", 2, outcome("failed", "CONNECTION_TIMEOUT"))
    assert again.attempt == 3 and again.delay_s == 60.0 and again.retry_of == 7


def retried_once(ws: WorkspaceBuilder) -> None:
    """A scheduled run that hit 503s, then its successful retry (attempt 2)."""
    scenario = sandbox.Scenario(
        skus=3, unmapped_skus=0, server_errors=HTTP_ATTEMPTS, server_error_status=503
    )
    with sandbox.serve(scenario) as srv:
        trackstar_workspace(ws, srv.url)
        tick = midnight_after(ws)
        clock = FakeClock(tick - timedelta(seconds=30))
        with running_daemon(ws, clock=clock, jitter=lambda: 0.0) as daemon:
            move(clock, daemon, tick)
            settled(daemon, ws, 1)
            move(clock, daemon, tick + timedelta(seconds=150))  # half the 5 m step, jitter 0
            settled(daemon, ws, 2)


@pytest.mark.anyio
async def test_the_monitor_shows_which_attempt_a_retry_was(workspace: WorkspaceBuilder) -> None:
    from monitor_support import press, region_text, screen_text, settle

    from tether.config.project import load_project
    from tether.daemon.client import LocalBackend
    from tether.tui.app import MonitorApp
    from tether.tui.datasource import BackendSource
    from tether.tui.screens.execution import ExecutionScreen
    from tether.tui.screens.integration import IntegrationScreen

    retried_once(workspace)
    source = BackendSource(LocalBackend(load_project(workspace.root)), "test state")
    app = MonitorApp(source, refresh_s=0, debounce_s=0.05)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, IntegrationScreen)
        assert "retry_after_failure #2" in screen_text(app)
        await press(pilot, "enter")  # the newest execution: the retry
        assert isinstance(app.screen, ExecutionScreen)
        first_run = workspace.query("SELECT min(id) FROM runs")[0][0]
        summary = region_text(app, "#exec-summary")
        assert f"retry_after_failure #2 (after run {first_run})" in summary


def test_bad_retry_settings_are_reported_at_their_line(workspace: WorkspaceBuilder) -> None:
    from conftest import run_tether

    for name, retry in (("a", {"attempts": 0, "backoff": "5 minutes"}), ("b", {"attemps": 3})):
        workspace.integration(
            name,
            "trackstar",
            ["products"],
            credentials={"api_key": "k", "access_token": "t"},
            retry=retry,
        )
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    out = result.output
    assert re.search(r"integrations/a\.yaml:\d+:\d+: retry\.attempts: input should be greater", out)
    assert re.search(
        r"integrations/a\.yaml:\d+:\d+: retry\.backoff: value error, '5 minutes' is not a dur", out
    )
    assert re.search(r"integrations/b\.yaml:\d+:\d+: unknown key 'attemps'", out)
    assert "did you mean 'attempts'?" in out


def test_a_pending_retry_wakes_the_scheduler_and_yields_to_the_next_tick() -> None:
    from tether.daemon.scheduler import PendingRun, RunBook, Schedule

    start = datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC)
    book = RunBook(max_concurrent=2)
    book.set_schedules({"shop": Schedule("0 0 * * * *", "UTC")}, start)  # hourly
    retry = PendingRun("shop", "retry_after_failure", None, due_at=start + timedelta(minutes=5),
                       attempt=2, retry_of=1, capabilities=("products",))  # fmt: skip
    assert book.schedule_retry(retry)
    assert book.next_wakeup() == start + timedelta(minutes=5)  # before the 01:00 tick
    book.collect_due(start + timedelta(minutes=5))
    (launched,) = book.take_launchable(start + timedelta(minutes=5))
    assert launched is retry and launched.capabilities == ("products",)
    book.finished("shop")

    # a retry still waiting when the next tick starts is dropped: the tick does its work
    later = PendingRun("shop", "retry_after_failure", None, due_at=start + timedelta(hours=2))
    assert book.schedule_retry(later)
    tick = start.replace(minute=0, second=0) + timedelta(hours=1)
    book.collect_due(tick)
    (run,) = book.take_launchable(tick)
    assert run.trigger == "scheduled" and book.retries() == []
    assert book.stats.retries_superseded == 1
    book.finished("shop")

    # pausing (unscheduling) drops it too, and a paused integration gets no new one
    assert book.schedule_retry(PendingRun("shop", "retry_after_failure", None, due_at=tick))
    book.set_schedules({}, tick)
    assert book.retries() == [] and not book.schedule_retry(later)


def test_a_daemon_restart_keeps_the_retry_it_owed(workspace: WorkspaceBuilder) -> None:
    scenario = sandbox.Scenario(
        skus=3, unmapped_skus=0, server_errors=HTTP_ATTEMPTS, server_error_status=503
    )
    with sandbox.serve(scenario) as srv:
        trackstar_workspace(workspace, srv.url)
        tick = midnight_after(workspace)
        clock = FakeClock(tick - timedelta(seconds=30))
        with running_daemon(workspace, clock=clock, jitter=lambda: 0.5) as daemon:
            move(clock, daemon, tick)
            first = settled(daemon, workspace, 1)
            assert pending_retry(daemon)["attempt"] == 2
        # down before the retry was due; back after its backoff ended: it runs at once
        clock.set(tick + timedelta(minutes=10))
        with running_daemon(workspace, clock=clock, jitter=lambda: 0.5) as daemon:
            done = settled(daemon, workspace, 2)
    assert done[1][1:] == ["retry_after_failure", 2, first[0][0], "success", None]
