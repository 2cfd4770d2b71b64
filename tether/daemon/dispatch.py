"""The scheduler thread: sleeps until the next fire time, launches runs, keeps one per integration.

``RunBook`` (pure, in ``scheduler.py``) decides *what* runs; this module adds the clock, the
threads and the lock. It never polls: the thread waits on a condition until the earliest fire
time, and is woken early by a reload (apply, pause, resume), a finished run or a queued request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tether.daemon.retries import RETRY_TRIGGER, RetryPlan
from tether.daemon.scheduler import (
    LATE_GRACE,
    CatchUp,
    PendingRun,
    Resumption,
    RunBook,
    Schedule,
    resume,
)
from tether.errors import TetherError

log = logging.getLogger("tether.daemon.scheduler")

Runner = Callable[[PendingRun, threading.Event], Any]
"""Runs one scheduled or catch-up sync (blocking); the event is set when the daemon stops."""

SYNC_NICE = 10
"""Niceness of sync threads (API threads keep the daemon's own)."""

MAX_SLEEP_S = 60.0
"""Re-read the wall clock at least this often, so a clock step (NTP) cannot delay a tick long."""


@dataclass(frozen=True)
class Snapshot:
    """The schedulable part of the applied state."""

    serial: int | None
    schedules: dict[str, Schedule]
    """Enabled, unpaused integrations."""
    anchors: dict[str, datetime]
    """Per integration: the latest recorded tick, or when it was applied if it never ran."""


@dataclass(frozen=True)
class Queued:
    """A request that waits behind a running run of the same integration."""

    position: int
    running: PendingRun


class Claims(Protocol):
    """Records due ticks in state the moment they are due (the run's start), in bulk.

    ``claim`` is called from the scheduler thread with every pending tick (it skips the ones it
    holds already); ``retain`` forgets claimed ticks that will no longer launch (paused, removed;
    at stop, all of them) so their ``runs`` rows do not claim ticks that never ran.
    """

    def claim(self, runs: list[PendingRun], at: datetime) -> None: ...

    def retain(self, runs: list[PendingRun]) -> None: ...

    def launched(self, run: PendingRun) -> None:
        """``run`` was handed to a sync thread: its claim is kept whatever happens next."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        *,
        max_concurrent: int,
        catch_up: CatchUp,
        runner: Runner,
        load: Callable[[], Snapshot],
        clock: Callable[[], datetime] = utcnow,
        grace: timedelta = LATE_GRACE,
        claims: Claims | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.book = RunBook(max_concurrent)
        self.claims = claims
        self.on_change = on_change or (lambda: None)
        """Called when what ``next_sync`` reports may have changed (reload, ticks collected)."""
        self.catch_up = catch_up
        self.runner = runner
        self.load = load
        self.clock = clock
        self.grace = grace
        self.cancel = threading.Event()
        """Set when the daemon stops: running syncs finish their page and end ``cancelled``."""
        self.serial: int | None = None
        self.resumptions: list[Resumption] = []
        self.failures = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._claim_pending = True
        self.after_run: list[Callable[[str], None]] = []
        """Called with the integration id after each run (scheduled or requested) ends, on the
        run's thread: health evaluation and alerts (keep them quick; they must not raise)."""

    # lifecycle

    def start(self, retries: Sequence[tuple[RetryPlan, datetime]] = ()) -> list[Resumption]:
        """Load the schedules, decide the missed ticks, and start the scheduler thread.

        ``retries`` are the retries a stopped daemon still owed (with when each failed run
        ended): they are held again, due when their backoff ends (now, if it already has).
        """
        snapshot = self.load()
        now = self.clock()
        with self._cond:
            self.serial = snapshot.serial
            self.book.set_schedules(snapshot.schedules, now)
            self.resumptions = [
                resume(i, s, snapshot.anchors.get(i), now, self.catch_up, self.grace)
                for i, s in snapshot.schedules.items()
            ]
            self.book.start(self.resumptions)
        for plan, failed_at in retries:
            self._schedule_retry(plan, after=failed_at)
        for r in self.resumptions:
            if r.missed:
                log.warning(
                    "missed ticks while the daemon was down",
                    extra={"fields": {"integration": r.integration_id, "detail": r.describe(),
                                      "missed": r.missed, "catch_up": self.catch_up}},
                )  # fmt: skip
        log.info(
            "scheduler started",
            extra={"fields": {"serial": snapshot.serial, "scheduled": len(snapshot.schedules),
                              "max_concurrent_syncs": self.book.max_concurrent}},
        )  # fmt: skip
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self.resumptions

    def stop(self, timeout: float) -> list[PendingRun]:
        """Stop launching, ask running syncs to stop; returns the runs still going at timeout."""
        with self._cond:
            self._stopping = True
            self.cancel.set()
            self._cond.notify_all()
            if self.claims is not None:
                self.claims.retain([])  # ticks claimed but not launched did not run
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.book.running and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return list(self.book.running.values())

    @property
    def stopping(self) -> bool:
        return self._stopping

    # reload after apply / pause / resume

    def reload(self) -> dict[str, list[str]]:
        """Adopt the applied state's schedules now (new serial, pauses); wakes the thread."""
        snapshot = self.load()
        with self._cond:
            changes = self.book.set_schedules(snapshot.schedules, self.clock())
            old, self.serial = self.serial, snapshot.serial
            if self.claims is not None and changes["removed"]:
                self.claims.retain(self._pending_ticks())
            self._cond.notify_all()
        self.on_change()
        if any(changes.values()) or old != snapshot.serial:
            log.info(
                "schedules reloaded",
                extra={"fields": {"serial": snapshot.serial, "previous_serial": old,
                                  "scheduled": len(snapshot.schedules), **changes}},
            )  # fmt: skip
        return changes

    # requests from the API (manual sync, retry)

    def request(
        self,
        integration_id: str,
        trigger: str,
        actor: str,
        now_fn: Callable[[], Any],
        later_fn: Callable[[threading.Event], Any] | None,
    ) -> tuple[Queued | None, Any]:
        """Run ``now_fn`` now as the integration's one run (waiting for it), or queue ``later_fn``.

        Returns ``(None, result)`` when it ran, ``(Queued, None)`` when another run of the
        integration was in progress and the request will run after it. Without ``later_fn``
        (reset, delete) a busy integration is refused instead.
        """
        run = PendingRun(integration_id, trigger, None, due_at=self.clock(), requested_by=actor)
        with self._cond:
            if self._stopping:
                raise TetherError("The daemon is shutting down.", hint="Try again when it is back.")
            if not self.book.claim(integration_id, run, self.clock()):
                running = self.book.running[integration_id]
                if later_fn is None:
                    raise TetherError(
                        f"'{integration_id}' is running a {running.trigger} sync "
                        f"(since {_iso(running.started_at)}).",
                        hint=f"Wait for it to finish, or `tether pause {integration_id}` "
                        "and try again when it has ended.",
                    )
                run.job = later_fn
                position = self.book.queue_request(run)
                log.info(
                    "request queued behind a running run",
                    extra={"fields": {"integration": integration_id, "trigger": trigger,
                                      "requested_by": actor, "position": position}},
                )  # fmt: skip
                return Queued(position, running), None
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append((True, now_fn()))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                self._finished(integration_id)

        worker = _sync_thread(work, f"request-{integration_id}")
        worker.join()
        ok, value = outcome[0]
        if not ok:
            raise value
        return None, value

    def wake(self) -> None:
        """Re-read the clock now (tests that drive a fake clock; a clock step)."""
        with self._cond:
            self._cond.notify_all()

    def busy(self, integration_id: str) -> PendingRun | None:
        with self._cond:
            return self.book.busy(integration_id)

    # the thread

    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = self.clock()
                due = self.book.next_wakeup()
                if due is not None and due <= now:
                    self.book.collect_due(now)
                    self._claim_pending = True
                    self.on_change()
                if self._claim_pending and self.claims is not None:
                    self._claim(now)
                self._claim_pending = False
                for run in self.book.take_launchable(now):
                    self._launch(run)
                wake = self.book.next_wakeup()
                timeout = MAX_SLEEP_S
                if wake is not None:
                    timeout = min(MAX_SLEEP_S, max(0.0, (wake - self.clock()).total_seconds()))
                self._cond.wait(timeout)

    def _pending_ticks(self) -> list[PendingRun]:
        return [r for r in self.book.waiting() if r.job is None]

    def _claim(self, now: datetime) -> None:
        """Record every pending tick as started, in one statement (before any is launched)."""
        assert self.claims is not None
        try:
            self.claims.claim(self._pending_ticks(), now)
        except Exception:
            # Unclaimed ticks still run: each run records itself when it starts.
            log.exception("could not record the due ticks")

    def _launch(self, run: PendingRun) -> None:
        if self.claims is not None and run.job is None:
            self.claims.launched(run)
        _sync_thread(lambda: self._execute(run), f"run-{run.integration_id}")

    def _execute(self, run: PendingRun) -> None:
        fields: dict[str, Any] = {"integration": run.integration_id, "trigger": run.trigger}
        if run.scheduled_for is not None:
            fields["scheduled_for"] = run.scheduled_for.isoformat()
        if run.started_at is not None and run.trigger == "scheduled":
            fields["lag_s"] = round((run.started_at - run.due_at).total_seconds(), 3)
        log.info("run started", extra={"fields": fields})
        started = time.monotonic()
        try:
            outcome = run.job(self.cancel) if run.job is not None else self.runner(run, self.cancel)
        except TetherError as exc:
            self.failures += 1
            log.warning(
                "run not started",
                extra={"fields": {**fields, "error": type(exc).__name__, "message": exc.message}},
            )
        except Exception:
            self.failures += 1
            log.exception("run crashed", extra={"fields": fields})
        else:
            summary = dict(outcome) if isinstance(outcome, dict) else {}
            retry = summary.pop("retry", None)
            log.info(
                "run finished",
                extra={"fields": {**fields, **summary,
                                  "duration_s": round(time.monotonic() - started, 3)}},
            )  # fmt: skip
            if isinstance(retry, RetryPlan):
                self._schedule_retry(retry)
        finally:
            self._finished(run.integration_id)

    def _schedule_retry(self, plan: RetryPlan, after: datetime | None = None) -> None:
        """Hold the retry until its backoff has passed on the daemon's clock."""
        now = self.clock()
        due = max(now, (after or now) + timedelta(seconds=plan.delay_s))
        retry = PendingRun(
            plan.integration_id,
            RETRY_TRIGGER,
            None,
            due_at=due,
            requested_by="scheduler",
            attempt=plan.attempt,
            retry_of=plan.retry_of,
            capabilities=plan.capabilities,
        )
        with self._cond:
            held = not self._stopping and self.book.schedule_retry(retry)
            self._cond.notify_all()
        fields = {"integration": plan.integration_id, "attempt": plan.attempt,
                  "attempts": plan.attempts, "retry_of": plan.retry_of, "reason": plan.reason,
                  "capabilities": list(plan.capabilities), "due_at": _iso(due),
                  "delay_s": round(plan.delay_s, 1)}  # fmt: skip
        if held:
            log.warning(
                "run failed on a transient error; retry scheduled", extra={"fields": fields}
            )
        else:
            log.info(
                "retry not scheduled: integration no longer scheduled", extra={"fields": fields}
            )
        self.on_change()

    def _finished(self, integration_id: str) -> None:
        with self._cond:
            self.book.finished(integration_id)
            self._cond.notify_all()
        for hook in self.after_run:
            try:
                hook(integration_id)
            except Exception:  # a hook's bug must not take the scheduler's threads with it
                log.exception(
                    "after-run hook failed", extra={"fields": {"integration": integration_id}}
                )

    # reporting

    def next_sync(self, integration_id: str) -> str | None:
        with self._cond:
            when = self.book.next_fire_at(integration_id)
        return when.isoformat() if when is not None else None

    def lag_s(self) -> float:
        with self._cond:
            return self.book.lag_s(self.clock())

    def pending_retries(self) -> dict[str, int]:
        """Per integration, how many retries wait (0 or 1: one chain per integration)."""
        with self._cond:
            retries = self.book.retries()
        return {r.integration_id: 1 for r in retries}

    def health(self) -> dict[str, Any]:
        now = self.clock()
        with self._cond:
            book = self.book
            running = [_describe(r, now) for r in book.running.values()]
            waiting = [_describe(r, now) for r in book.waiting()]
            lag = book.lag_s(now)
            stats = book.stats
            upcoming = book.next_wakeup()
            scheduled = len(book.schedules)
            retries = [_describe(r, now) for r in book.retries()]
        missed = [
            {"integration": r.integration_id, "missed": r.missed, "more": r.missed_more,
             "first_missed": _iso(r.first_missed), "last_missed": _iso(r.last_missed),
             "action": r.describe()}
            for r in self.resumptions if r.missed
        ]  # fmt: skip
        return {
            "scheduler_lag_s": round(lag, 3),
            "scheduled": scheduled,
            "next_fire": _iso(upcoming),
            "running": running,
            "waiting": waiting[:50],
            "waiting_count": len(waiting),
            "max_concurrent_syncs": self.book.max_concurrent,
            "launched": stats.launched,
            "coalesced": stats.coalesced,
            "failures": self.failures,
            "last_launch_lag_s": round(stats.last_lag_s, 3),
            "max_launch_lag_s": round(stats.max_lag_s, 3),
            "catch_up": {
                "mode": self.catch_up,
                "integrations": len(missed),
                "missed_ticks": sum(m["missed"] for m in missed),
                "missed": missed,
            },
            "retries": {
                "pending": retries,
                "scheduled": stats.retries_scheduled,
                "superseded": stats.retries_superseded,
            },
            "stopping": self._stopping,
        }


def _sync_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a thread for a sync, at a lower CPU priority than the API threads.

    Syncs are throughput work; API calls are someone waiting at a terminal. On a busy machine
    the kernel then prefers the API (Linux applies nice per thread).
    """

    def run() -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SYNC_NICE)
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def _describe(run: PendingRun, now: datetime) -> dict[str, Any]:
    return {
        "integration": run.integration_id,
        "trigger": run.trigger,
        "scheduled_for": _iso(run.scheduled_for),
        "due_at": _iso(run.due_at),
        "started_at": _iso(run.started_at),
        "running_s": round((now - run.started_at).total_seconds(), 3) if run.started_at else None,
        "requested_by": run.requested_by,
        **(
            {"attempt": run.attempt, "retry_of": run.retry_of}
            if run.trigger == RETRY_TRIGGER
            else {}
        ),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
