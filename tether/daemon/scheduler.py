"""When integrations run: cron math across DST, catch-up after downtime, and run bookkeeping.

Everything here is pure — no threads, no clock, no DuckDB — so the rules are tested with plain
data. ``tether.daemon.dispatch`` drives a ``RunBook`` from a thread with the real clock.

Schedules are 6-field, seconds-first cron expressions evaluated on the integration's *wall clock*
(its IANA timezone), then turned into instants:

- a wall time that does not exist (the hour skipped when clocks go forward) runs once, at the
  first valid instant after the gap (e.g. 02:30 on the spring-forward night runs at 03:00);
- a wall time that happens twice (the hour repeated when clocks go back) runs once, at its first
  occurrence. An every-15-minutes schedule therefore pauses during the repeated hour; schedules
  that must be strictly periodic should use ``timezone: UTC``.

Missed ticks: when the daemon starts, the ticks since an integration's last recorded tick (or
since it was applied) are either *late* — the most recent one, at most ``LATE_GRACE`` ago, runs
as a normal scheduled run, so a quick restart never drops a tick — or *missed*, and
``[daemon] catch_up`` decides: ``once`` launches one ``catch_up`` run for all of them, ``skip``
launches none. Either way the daemon logs them and reports them in ``tether daemon health``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tether.daemon.retries import RETRY_TRIGGER

# The cron math lives in the engine (plan and status use it too); re-exported for the daemon.
from tether.engine.schedule import (
    MISSED_COUNT_LIMIT,
    Schedule,
    fire_times,
    last_fire,
    latest_at_or_before,
    next_fire,
    next_fire_times,
    to_instant,
)

__all__ = [
    "MISSED_COUNT_LIMIT",
    "Schedule",
    "fire_times",
    "last_fire",
    "latest_at_or_before",
    "next_fire",
    "next_fire_times",
    "to_instant",
]

LATE_GRACE = timedelta(seconds=60)
"""A tick at most this old when the daemon starts is late, not missed: it runs as scheduled."""

CatchUp = Literal["once", "skip"]


# --- startup: what to do about ticks missed while the daemon was down ----------------------


@dataclass(frozen=True)
class Resumption:
    """What the daemon does for one integration when it starts."""

    integration_id: str
    missed: int
    """Ticks missed while the daemon was down (not counting a late tick that runs now)."""
    missed_more: bool
    """``missed`` hit MISSED_COUNT_LIMIT; there were more."""
    first_missed: datetime | None
    last_missed: datetime | None
    run: PendingRun | None
    """The run to launch now: a late scheduled tick, or one catch-up run; ``None`` for none."""
    next_fire: datetime | None

    def describe(self) -> str:
        if not self.missed:
            return "no ticks missed"
        count = f"{self.missed}{'+' if self.missed_more else ''}"
        span = f"{_iso(self.first_missed)} … {_iso(self.last_missed)}"
        if self.run is None:
            return f"{count} ticks missed ({span}); catch_up = skip, none run"
        if self.run.trigger == "catch_up":
            return f"{count} ticks missed ({span}); one catch-up run now"
        return f"{count} ticks missed ({span}); covered by the late tick running now"


def resume(
    integration_id: str,
    schedule: Schedule,
    anchor: datetime | None,
    now: datetime,
    catch_up: CatchUp,
    grace: timedelta = LATE_GRACE,
) -> Resumption:
    """Decide the missed ticks of one integration whose last recorded tick was ``anchor``.

    ``anchor`` is the latest ``runs.scheduled_for`` of the integration (so a tick recorded before
    a crash is never run again), or when it was applied if it never ran on a schedule.
    """
    following = next_fire(schedule, now)
    if anchor is None or anchor >= now:
        return Resumption(integration_id, 0, False, None, None, None, following)
    count, latest = last_fire(schedule, anchor, now)
    if latest is None:
        return Resumption(integration_id, 0, False, None, None, None, following)
    more = count > MISSED_COUNT_LIMIT
    count = min(count, MISSED_COUNT_LIMIT)
    first = next_fire(schedule, anchor)
    run: PendingRun | None
    if now - latest <= grace:
        run = PendingRun(integration_id, "scheduled", latest, due_at=latest)
        count -= 1
        last_missed = _previous_tick(schedule, anchor, latest) if count else None
    else:
        last_missed = latest
        run = (
            PendingRun(integration_id, "catch_up", latest, due_at=now)
            if catch_up == "once"
            else None
        )
    if count == 0:
        return Resumption(integration_id, 0, False, None, None, run, following)
    return Resumption(integration_id, count, more, first, last_missed, run, following)


def _previous_tick(schedule: Schedule, anchor: datetime, tick: datetime) -> datetime | None:
    return latest_at_or_before(schedule, anchor, tick - timedelta(microseconds=1))


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else "-"


# --- run bookkeeping -----------------------------------------------------------------------


@dataclass
class PendingRun:
    """A run waiting to start (or running): a scheduled tick, a catch-up, or a queued request."""

    integration_id: str
    trigger: str
    """scheduled | catch_up | manual | retry | retry_after_failure"""
    scheduled_for: datetime | None
    due_at: datetime
    job: Any = None
    """For queued operations: what to run instead of a scheduled sync (opaque to the book)."""
    requested_by: str | None = None
    started_at: datetime | None = None
    attempt: int = 1
    """For ``retry_after_failure`` runs: which attempt this is (the failed first run was 1)."""
    retry_of: int | None = None
    """For ``retry_after_failure`` runs: the failed run this one retries."""
    capabilities: tuple[str, ...] | None = None
    """Only these capabilities (a retry reruns the ones that failed); ``None``: all."""


@dataclass
class BookStats:
    launched: int = 0
    coalesced: int = 0
    """Ticks not run because the previous run of the same integration had not started or ended."""
    dropped: int = 0
    """Pending runs dropped because their integration was removed, disabled or paused."""
    retries_scheduled: int = 0
    retries_superseded: int = 0
    """Retries not run because another run of the integration started first."""
    last_lag_s: float = 0.0
    max_lag_s: float = 0.0


@dataclass
class RunBook:
    """Which integration runs next.

    A heap of next fire times (one live entry per scheduled integration; stale entries are
    skipped when popped), a priority queue of pending runs (queued requests first, then ticks by
    due time), and the set of running integrations: one run per integration at a time, at most
    ``max_concurrent`` runs launched by the book. Requests served in the caller's thread
    (``claim``) count toward the limit but never wait for it.
    """

    max_concurrent: int
    schedules: dict[str, Schedule] = field(default_factory=dict)
    running: dict[str, PendingRun] = field(default_factory=dict)
    stats: BookStats = field(default_factory=BookStats)
    _fires: list[tuple[datetime, int, str]] = field(default_factory=list)
    _next: dict[str, datetime] = field(default_factory=dict)
    _queue: list[tuple[int, datetime, int, PendingRun]] = field(default_factory=list)
    _pending_tick: dict[str, PendingRun] = field(default_factory=dict)
    _blocked: dict[str, list[PendingRun]] = field(default_factory=dict)
    _retries: dict[str, PendingRun] = field(default_factory=dict)
    """Per integration, the retry waiting for its backoff to pass (due_at in the future)."""
    _retry_queued: dict[str, PendingRun] = field(default_factory=dict)
    """Per integration, the retry whose backoff passed, waiting in the queue."""
    _seq: Iterator[int] = field(default_factory=itertools.count)

    # schedules

    def set_schedules(self, schedules: dict[str, Schedule], now: datetime) -> dict[str, list[str]]:
        """Adopt a new set of schedules; returns the ids added, removed and rescheduled."""
        added = [i for i in schedules if i not in self.schedules]
        removed = [i for i in self.schedules if i not in schedules]
        changed = [
            i for i in schedules if i in self.schedules and schedules[i] != self.schedules[i]
        ]
        for integration_id in removed:
            del self.schedules[integration_id]
            self._next.pop(integration_id, None)
            if self._pending_tick.pop(integration_id, None) is not None:
                self.stats.dropped += 1
            if self._drop_retry(integration_id):
                self.stats.dropped += 1
        for integration_id in (*added, *changed):
            self.schedules[integration_id] = schedules[integration_id]
            self._schedule_after(integration_id, now)
        return {"added": added, "removed": removed, "changed": changed}

    def start(self, resumptions: list[Resumption]) -> None:
        """Queue the runs decided at startup (late ticks, catch-ups)."""
        for resumption in resumptions:
            if resumption.run is not None and resumption.integration_id in self.schedules:
                self._enqueue_tick(resumption.run)

    def next_fire_at(self, integration_id: str) -> datetime | None:
        return self._next.get(integration_id)

    def next_wakeup(self) -> datetime | None:
        """When something next becomes due (``None``: nothing scheduled)."""
        retry = min((r.due_at for r in self._retries.values()), default=None)
        tick = self._next_tick()
        if retry is None or (tick is not None and tick < retry):
            return tick
        return retry

    def _next_tick(self) -> datetime | None:
        while self._fires:
            when, _, integration_id = self._fires[0]
            if self._next.get(integration_id) == when:
                return when
            heapq.heappop(self._fires)  # stale: rescheduled or removed
        return None

    # retries after a transient failure (see ``tether.daemon.retries``)

    def schedule_retry(self, run: PendingRun) -> bool:
        """Hold ``run`` until its ``due_at``; refused when the integration is not scheduled."""
        if run.integration_id not in self.schedules:
            return False
        self._drop_retry(run.integration_id)
        self._retries[run.integration_id] = run
        self.stats.retries_scheduled += 1
        return True

    def retries(self) -> list[PendingRun]:
        """Retries waiting (for their backoff, or in the queue), soonest first."""
        pending = [*self._retries.values(), *self._retry_queued.values()]
        return sorted(pending, key=lambda r: r.due_at)

    def _drop_retry(self, integration_id: str) -> bool:
        held = self._retries.pop(integration_id, None)
        queued = self._retry_queued.pop(integration_id, None)
        return held is not None or queued is not None

    def _schedule_after(self, integration_id: str, after: datetime) -> None:
        when = next_fire(self.schedules[integration_id], after)
        if when is None:
            self._next.pop(integration_id, None)
            return
        self._next[integration_id] = when
        heapq.heappush(self._fires, (when, next(self._seq), integration_id))

    # ticks and launches

    def collect_due(self, now: datetime) -> None:
        """Turn every tick due at ``now`` into a pending run; schedule each one's next tick."""
        for integration_id, retry in list(self._retries.items()):
            if retry.due_at <= now:
                del self._retries[integration_id]
                self._retry_queued[integration_id] = retry
                self._push(retry, priority=1)
        while (when := self._next_tick()) is not None and when <= now:
            _, _, integration_id = heapq.heappop(self._fires)
            del self._next[integration_id]
            self._schedule_after(integration_id, when)
            self._enqueue_tick(PendingRun(integration_id, "scheduled", when, due_at=when))

    def _enqueue_tick(self, run: PendingRun) -> None:
        if run.integration_id in self._pending_tick:
            self.stats.coalesced += 1  # an earlier tick is still waiting: one is enough
            return
        self._pending_tick[run.integration_id] = run
        self._push(run, priority=1)

    def queue_request(self, run: PendingRun) -> int:
        """Queue a request (manual sync, retry) behind the running run; returns its position."""
        self._push(run, priority=0)
        return sum(1 for r in self._requests() if r.integration_id == run.integration_id)

    def _requests(self) -> Iterator[PendingRun]:
        yield from (r for _, _, _, r in self._queue if r.job is not None)
        yield from (r for blocked in self._blocked.values() for r in blocked if r.job is not None)

    def _push(self, run: PendingRun, priority: int) -> None:
        heapq.heappush(self._queue, (priority, run.due_at, next(self._seq), run))

    def take_launchable(self, now: datetime) -> list[PendingRun]:
        """Pending runs to start now, marked running."""
        launches: list[PendingRun] = []
        while self._queue and len(self.running) < self.max_concurrent:
            _, _, _, run = heapq.heappop(self._queue)
            is_retry = run.job is None and run.trigger == RETRY_TRIGGER
            is_tick = run.job is None and not is_retry
            if is_tick and self._pending_tick.get(run.integration_id) is not run:
                continue  # dropped when its integration was unscheduled
            if is_retry and self._retry_queued.get(run.integration_id) is not run:
                continue  # superseded by another run, or its integration was unscheduled
            if run.integration_id in self.running:
                self._blocked.setdefault(run.integration_id, []).append(run)
                continue
            if is_tick:
                del self._pending_tick[run.integration_id]
            if is_retry:
                del self._retry_queued[run.integration_id]
            self._mark_running(run, now)
            launches.append(run)
        return launches

    def claim(self, integration_id: str, run: PendingRun, now: datetime) -> bool:
        """Start a request in the caller's thread, unless that integration is busy."""
        if integration_id in self.running:
            return False
        self._mark_running(run, now)
        return True

    def _mark_running(self, run: PendingRun, now: datetime) -> None:
        if run.trigger != RETRY_TRIGGER and self._drop_retry(run.integration_id):
            self.stats.retries_superseded += 1  # this run does the work the retry would have
        run.started_at = now
        self.running[run.integration_id] = run
        self.stats.launched += 1
        if run.job is None and run.trigger == "scheduled":
            lag = max(0.0, (now - run.due_at).total_seconds())
            self.stats.last_lag_s = lag
            self.stats.max_lag_s = max(self.stats.max_lag_s, lag)

    def finished(self, integration_id: str) -> None:
        """A run ended: requests that waited for it go back to the queue."""
        self.running.pop(integration_id, None)
        for run in self._blocked.pop(integration_id, []):
            self._push(run, priority=0 if run.job is not None else 1)

    def busy(self, integration_id: str) -> PendingRun | None:
        return self.running.get(integration_id)

    def waiting(self) -> list[PendingRun]:
        """Runs due but not started, oldest first."""
        runs = [r for _, _, _, r in self._queue if r.job is not None or self._live(r)]
        runs += [r for blocked in self._blocked.values() for r in blocked if self._live(r)]
        return sorted(runs, key=lambda r: r.due_at)

    def _live(self, run: PendingRun) -> bool:
        if run.job is not None:
            return True
        if run.trigger == RETRY_TRIGGER:
            return self._retry_queued.get(run.integration_id) is run
        return self._pending_tick.get(run.integration_id) is run

    def lag_s(self, now: datetime) -> float:
        """How far behind the scheduler is: the age of the oldest due tick not yet started."""
        ticks = [r for r in self._pending_tick.values() if r.trigger == "scheduled"]
        if not ticks:
            return 0.0
        return max(0.0, (now - min(r.due_at for r in ticks)).total_seconds())
