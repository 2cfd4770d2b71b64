"""The daemon process: ``tether daemon`` runs this in the foreground.

Start: take the state lock (operation "daemon") for the whole lifetime — from then on this is
the only process that opens the DuckDB file — migrate, mark executions left ``running`` by a dead
process ``interrupted``, decide missed ticks, then serve the socket and run the scheduler.

Stop (SIGTERM / SIGINT): stop launching, set the cancel event so each running sync commits its
page in flight and ends ``cancelled``, wait up to ``STOP_TIMEOUT_S``, release everything, exit 0.
After a kill -9 the next start marks the dead runs ``interrupted``; their next run resumes from
the committed cursor. SIGHUP re-reads tether.toml ([access]) and the applied schedules.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from tether import ops
from tether.config.project import Workspace, load_project
from tether.daemon.alerting import HealthWatch
from tether.daemon.dispatch import Dispatcher, Runner, Snapshot, utcnow
from tether.daemon.logs import configure_logging
from tether.daemon.retries import (
    RETRY_TRIGGER,
    ExecutionOutcome,
    RetryPlan,
    RetryPolicy,
    plan_retry,
)
from tether.daemon.scheduler import LATE_GRACE, PendingRun, Schedule
from tether.daemon.server import (
    STATUS_EVENTS,
    Api,
    DaemonServer,
    Generation,
    Peer,
    peer_credentials,
)
from tether.engine.sync import DuplicateRunError, recover_interrupted, run_sync
from tether.errors import TetherError

if TYPE_CHECKING:
    import duckdb

    from tether.daemon.metrics import MetricsListener
    from tether.state.db import StateLock

log = logging.getLogger("tether.daemon")

STOP_TIMEOUT_S = 8.0
"""How long running syncs get to finish their page after SIGTERM (the whole stop stays < 10 s)."""
OK_LAG_S = 60.0
SWITCH_INTERVAL_S = 0.0005
"""Health is not ok when a due tick has waited longer than this to start."""


SCHEDULER_ACTOR = "scheduler"

TickKey = tuple[str, datetime]


def _key(run: PendingRun) -> TickKey | None:
    if run.job is not None or run.scheduled_for is None:
        return None
    return run.integration_id, run.scheduled_for


class TickLedger:
    """Claims due ticks in ``runs`` in one statement when they are due: that is a run's start.

    The ``UNIQUE (integration_id, scheduled_for)`` constraint still decides: a tick recorded
    before (by an earlier daemon) is not claimed again, and its run is skipped. A claimed tick
    that is dropped before it launches (paused, removed, daemon stopping) is unclaimed (its
    empty ``runs`` row deleted), so it counts as not run; the daemon also deletes such rows left
    by a killed process when it starts (``forget_unstarted``).
    """

    ALREADY_RAN = -1

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._lock = threading.Lock()
        self._claimed: dict[TickKey, int] = {}
        self._launched: set[TickKey] = set()

    def claim(self, runs: list[PendingRun], at: datetime) -> None:
        with self._lock:
            fresh = {
                key: run
                for run in runs
                if (key := _key(run)) is not None and key not in self._claimed
            }
        if not fresh:
            return
        started = time.perf_counter()
        cur = self.con.cursor()
        try:
            rows = cur.execute(
                "INSERT INTO runs (integration_id, trigger, scheduled_for, requested_by, "
                "created_at) SELECT i, t, s, ?, ? FROM (SELECT unnest(?::VARCHAR[]) AS i, "
                "unnest(?::VARCHAR[]) AS t, unnest(?::TIMESTAMPTZ[]) AS s) "
                "ON CONFLICT DO NOTHING RETURNING id, integration_id",
                [
                    SCHEDULER_ACTOR,
                    at,
                    [k[0] for k in fresh],
                    [r.trigger for r in fresh.values()],
                    [k[1] for k in fresh],
                ],
            ).fetchall()
        finally:
            cur.close()
        # One pending tick per integration at a time, so the id names the tick.
        inserted = {str(integration): int(run_id) for run_id, integration in rows}
        log.info(
            "due ticks recorded",
            extra={"fields": {"runs": len(inserted), "already_ran": len(fresh) - len(inserted),
                              "ms": round((time.perf_counter() - started) * 1000, 1)}},
        )  # fmt: skip
        with self._lock:
            for key in fresh:
                self._claimed[key] = inserted.get(key[0], self.ALREADY_RAN)

    def launched(self, run: PendingRun) -> None:
        key = _key(run)
        with self._lock:
            if key in self._claimed:
                self._launched.add(key)

    def take(self, run: PendingRun) -> int | None:
        """The claimed run id of a launched tick (``ALREADY_RAN``; ``None``: not claimed)."""
        key = _key(run)
        if key is None:
            return None
        with self._lock:
            self._launched.discard(key)
            return self._claimed.pop(key, None)

    def retain(self, runs: list[PendingRun]) -> None:
        keep = {key for run in runs if (key := _key(run)) is not None}
        with self._lock:
            dropped = [
                self._claimed.pop(key)
                for key in list(self._claimed)
                if key not in keep and key not in self._launched
            ]
        ids = [run_id for run_id in dropped if run_id != self.ALREADY_RAN]
        if ids:
            cur = self.con.cursor()
            try:
                cur.execute(f"DELETE FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids)
            finally:
                cur.close()


def forget_unstarted(con: duckdb.DuckDBPyConnection) -> int:
    """Delete scheduler runs rows a killed daemon claimed but never started (no execution)."""
    cur = con.cursor()
    try:
        row = cur.execute(
            "DELETE FROM runs WHERE requested_by = ? AND trigger IN ('scheduled', 'catch_up') "
            "AND id NOT IN (SELECT run_id FROM executions) RETURNING id",
            [SCHEDULER_ACTOR],
        ).fetchall()
    finally:
        cur.close()
    return len(row)


def engine_runner(
    workspace: Workspace,
    con: duckdb.DuckDBPyConnection,
    ledger: TickLedger | None = None,
    changed: Callable[[], None] = lambda: None,
    jitter: Callable[[], float] = random.random,
) -> Runner:
    """Scheduled, catch-up and retry runs through the sync engine, each on its own cursor.

    A run that failed transiently returns the retry it needs (``"retry"``, a ``RetryPlan``);
    the dispatcher holds it until its backoff has passed.
    """

    def progress(event: dict[str, Any]) -> None:
        if event.get("event") in STATUS_EVENTS:
            changed()

    def skipped(pending: PendingRun) -> dict[str, Any]:
        log.info(
            "tick already ran; not running it twice",
            extra={"fields": {"integration": pending.integration_id,
                              "scheduled_for": _iso(pending.scheduled_for)}},
        )  # fmt: skip
        return {"skipped": "duplicate tick"}

    def run(pending: PendingRun, cancel: threading.Event) -> dict[str, Any]:
        run_id = ledger.take(pending) if ledger is not None else None
        if run_id == TickLedger.ALREADY_RAN:
            return skipped(pending)
        cur = con.cursor()
        try:
            result = run_sync(
                cur,
                workspace,
                pending.integration_id,
                capabilities=list(pending.capabilities) if pending.capabilities else None,
                trigger=pending.trigger,
                scheduled_for=pending.scheduled_for,
                actor=SCHEDULER_ACTOR,
                progress=progress,
                cancel=cancel,
                run_id=run_id,
            )
            retry = None
            if result.run_id is not None and not result.cancelled:
                retry = after_run(cur, pending, result.run_id, jitter)
        except DuplicateRunError:
            return skipped(pending)
        finally:
            cur.close()
        return {"run_id": result.run_id, "statuses": result.statuses,
                "cancelled": result.cancelled, "retry": retry}  # fmt: skip

    return run


def after_run(
    cur: duckdb.DuckDBPyConnection,
    pending: PendingRun,
    run_id: int,
    jitter: Callable[[], float],
) -> RetryPlan | None:
    """Record which attempt the run was; decide whether it needs a retry (``retries``)."""
    if pending.trigger == RETRY_TRIGGER:
        cur.execute(
            "UPDATE runs SET attempt = ?, retry_of = ? WHERE id = ?",
            [pending.attempt, pending.retry_of, run_id],
        )
    policy = cur.execute(
        "SELECT retry_attempts, retry_backoff_s FROM integrations WHERE id = ?",
        [pending.integration_id],
    ).fetchone()
    if policy is None:
        return None
    outcomes = [
        ExecutionOutcome(str(d), str(s), e)
        for d, s, e in cur.execute(
            "SELECT domain_type, status, error_code FROM executions WHERE run_id = ? ORDER BY id",
            [run_id],
        ).fetchall()
    ]
    return plan_retry(
        pending.integration_id,
        run_id,
        pending.trigger,
        pending.attempt,
        outcomes,
        RetryPolicy(int(policy[0] or 1), float(policy[1] or 0.0)),
        jitter,
    )


OWED_RETRIES_SQL = """
SELECT r.id, r.integration_id, r.trigger, coalesce(r.attempt, 1), max(e.finished_at),
       list([e.domain_type, e.status, e.error_code] ORDER BY e.id),
       any_value(i.retry_attempts), any_value(i.retry_backoff_s)
FROM runs r
JOIN executions e ON e.run_id = r.id
JOIN integrations i ON i.id = r.integration_id AND i.enabled AND NOT i.paused
WHERE r.id IN (SELECT max(run_id) FROM executions GROUP BY integration_id)
GROUP BY ALL
HAVING count(*) FILTER (WHERE e.finished_at IS NULL) = 0
"""


def owed_retries(
    con: duckdb.DuckDBPyConnection, jitter: Callable[[], float]
) -> list[tuple[RetryPlan, datetime]]:
    """Retries a stopped daemon still owed: the newest run of an integration failed
    transiently with attempts left. A restart then does not cost the failed run its retry."""
    cur = con.cursor()
    try:
        rows = cur.execute(OWED_RETRIES_SQL).fetchall()
    finally:
        cur.close()
    owed = []
    for run_id, iid, trigger, attempt, finished, outcomes, attempts, backoff in rows:
        plan = plan_retry(
            str(iid),
            int(run_id),
            str(trigger),
            int(attempt),
            [ExecutionOutcome(str(d), str(s), e) for d, s, e in outcomes],
            RetryPolicy(int(attempts or 1), float(backoff or 0.0)),
            jitter,
        )
        if plan is not None:
            owed.append((plan, finished.astimezone(UTC)))
    return owed


def load_snapshot(con: duckdb.DuckDBPyConnection) -> Snapshot:
    """The schedulable integrations, the applied serial, and each one's catch-up anchor."""
    cur = con.cursor()
    try:
        serial = cur.execute("SELECT value FROM meta WHERE key = 'serial'").fetchone()
        rows = cur.execute(
            "SELECT i.id, i.cron, i.timezone, coalesce(r.last_tick, i.created_at) "
            "FROM integrations i LEFT JOIN (SELECT integration_id, max(scheduled_for) AS "
            "last_tick FROM runs WHERE scheduled_for IS NOT NULL GROUP BY 1) r "
            "ON r.integration_id = i.id WHERE i.enabled AND NOT i.paused ORDER BY i.id"
        ).fetchall()
    finally:
        cur.close()
    return Snapshot(
        serial=int(serial[0]) if serial else None,
        schedules={r[0]: Schedule(r[1], r[2]) for r in rows},
        anchors={r[0]: r[3].astimezone(UTC) for r in rows if r[3] is not None},
    )


class Daemon:
    def __init__(
        self,
        workspace: Workspace,
        *,
        runner: Runner | None = None,
        socket_peer: Callable[[socket.socket], Peer] | None = None,
        clock: Callable[[], datetime] = utcnow,
        grace: timedelta = LATE_GRACE,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.workspace = workspace
        self._jitter = jitter
        self._runner = runner
        self._socket_peer = socket_peer
        self._clock = clock
        self._grace = grace
        self.started_at = datetime.now(UTC)
        self.stop_requested = threading.Event()
        self.lock: StateLock | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.dispatcher: Dispatcher | None = None
        self.server: DaemonServer | None = None
        self.api: Api | None = None
        self.generation = Generation()
        """Bumped after every change a cached ``status`` answer could miss."""
        self.metrics: MetricsListener | None = None
        """The Prometheus listener, when ``[daemon] metrics`` is set."""
        self.watch: HealthWatch | None = None
        """Health after every run and on a timer; alerts (``tether.daemon.alerting``)."""
        self.preloaded: list[str] = []
        """Connector modules imported at start, before any thread (see ``registry.preload``)."""

    def start(self) -> None:
        from tether.state.db import StateLock, connect, migrate

        path = self.workspace.state_path
        self.lock = StateLock(path, "daemon")
        self.lock.acquire()
        if self.lock.took_over is not None:
            log.warning(
                "took over the state lock of a dead process",
                extra={"fields": {"previous": self.lock.took_over.describe()}},
            )
        try:
            self.con = connect(path, read_only=False)
            migrate(self.con)
            self._recover()
            self.preloaded = _preload_connectors(self.con)
            settings = self.workspace.settings.daemon
            con = self.con
            generation = self.generation
            ledger = TickLedger(con)
            self.dispatcher = Dispatcher(
                max_concurrent=settings.max_concurrent_syncs,
                catch_up=settings.catch_up,
                runner=self._runner
                or engine_runner(self.workspace, con, ledger, generation.bump, self._jitter),
                load=lambda: load_snapshot(con),
                clock=self._clock,
                grace=self._grace,
                claims=ledger if self._runner is None else None,
                on_change=generation.bump,
            )
            self.api = Api(
                self.workspace,
                ops.SharedStateAccess(con),
                self.dispatcher,
                self.health,
                generation=generation,
            )
            self.watch = HealthWatch(self.workspace, con, self._clock, changed=generation.bump)
            self.dispatcher.after_run.append(self.watch.after_run)
            self.api.services["health"] = self.watch.book
            self.api.services["alerts"] = self.watch
            reload_schedules = self.api.services["on_apply"]
            watch = self.watch

            def on_apply(serial: int) -> None:
                reload_schedules(serial)
                watch.reload()

            self.api.services["on_apply"] = on_apply
            self.watch.start()
            self.server = DaemonServer(
                self.workspace.socket_path,
                self.api,
                socket_group=settings.socket_group,
                peer_of=self._socket_peer or peer_credentials,
            )
            self.metrics = self._start_metrics(settings.metrics)  # before any thread starts
            owed = owed_retries(con, self._jitter) if self._runner is None else []
            self.dispatcher.start(owed)
            self.server.serve_in_thread()
        except BaseException:
            self._release()
            raise
        log.info(
            "daemon ready",
            extra={"fields": {"pid": os.getpid(), "socket": str(self.workspace.socket_path),
                              "state": str(path), "serial": self.dispatcher.serial,
                              "catch_up": settings.catch_up}},
        )  # fmt: skip

    def _start_metrics(self, address: str | None) -> MetricsListener | None:
        """Serve /metrics on ``[daemon] metrics`` (HOST:PORT), or nothing when it is unset."""
        if address is None:
            return None
        from tether.config.project import metrics_address
        from tether.daemon.metrics import MetricsListener, SchedulerView, StateCollector

        assert self.con is not None and self.dispatcher is not None
        dispatcher = self.dispatcher
        book = self.watch.book if self.watch is not None else None
        view = SchedulerView(
            dispatcher.lag_s,
            dispatcher.pending_retries,
            self.started_at.timestamp(),
            health=book.snapshot if book is not None else None,
        )
        host, port = metrics_address(address)
        try:
            listener = MetricsListener(StateCollector(self.con, view), host, port)
        except OSError as exc:
            raise TetherError(
                f"Could not listen for metrics on {address}: {exc.strerror or exc}.",
                hint="Pick a free port in [daemon] metrics, or remove it to turn metrics off.",
            ) from None
        log.info("metrics listening", extra={"fields": {"url": listener.url}})
        return listener

    def _recover(self) -> None:
        assert self.con is not None
        cur = self.con.cursor()
        try:
            dead = recover_interrupted(cur, everything=True)
        finally:
            cur.close()
        unstarted = forget_unstarted(self.con)
        if unstarted:
            log.info(
                "forgot ticks a stopped process recorded but never started",
                extra={"fields": {"runs": unstarted}},
            )
        if dead:
            log.warning(
                "marked executions of a stopped process interrupted",
                extra={"fields": {"executions": dead}},
            )

    def health(self) -> dict[str, Any]:
        assert self.dispatcher is not None
        doc = self.dispatcher.health()
        doc.update(
            ok=not doc["stopping"] and doc["scheduler_lag_s"] <= OK_LAG_S,
            preloaded=self.preloaded,
            started_at=self.started_at.isoformat(),
            uptime_s=round((datetime.now(UTC) - self.started_at).total_seconds(), 1),
            serial=self.dispatcher.serial,
            metrics=self.metrics.url if self.metrics is not None else None,
        )
        if self.watch is not None:
            doc["alerts"] = self.watch.health()
        return doc

    def reload_config(self) -> None:
        """SIGHUP: re-read tether.toml for [access]; re-read the applied schedules."""
        try:
            fresh = load_project(self.workspace.root)
        except Exception as exc:
            log.error("tether.toml not reloaded", extra={"fields": {"error": str(exc)}})
            return
        self.workspace.settings.access = fresh.settings.access
        if self.dispatcher is not None:
            self.dispatcher.reload()
        if self.watch is not None:
            self.watch.reload()
        log.info("configuration reloaded", extra={"fields": {"admins": fresh.settings.access.admins,
                 "operators": fresh.settings.access.operators}})  # fmt: skip

    def stop(self) -> None:
        started = time.monotonic()
        if self.server is not None:
            self.server.close()  # no new requests; calls in progress finish
        left: list[PendingRun] = []
        if self.dispatcher is not None:
            left = self.dispatcher.stop(STOP_TIMEOUT_S)
        while self.api is not None and self.api.in_flight and time.monotonic() - started < 9:
            time.sleep(0.05)
        if left:
            self._cancel_leftovers(left)
        self._release()
        log.info(
            "daemon stopped", extra={"fields": {"seconds": round(time.monotonic() - started, 2)}}
        )

    def _cancel_leftovers(self, left: list[PendingRun]) -> None:
        """Runs stuck past the timeout (a page still in flight): record them as cancelled."""
        assert self.con is not None
        ids = [r.integration_id for r in left]
        log.warning("runs did not stop in time", extra={"fields": {"integrations": ids}})
        cur = self.con.cursor()
        try:
            cur.execute(
                "UPDATE executions SET status = 'cancelled', finished_at = now(), "
                "duration_s = epoch(now() - started_at), error = 'Stopped by a daemon shutdown "
                "before its page finished; the next run resumes from the last committed page.' "
                f"WHERE status = 'running' AND integration_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        except Exception:
            log.exception("could not record the stopped runs")
        finally:
            cur.close()
            self.generation.bump()

    def _release(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        if self.watch is not None:
            self.watch.stop()  # before the connection closes: it records deliveries
        if self.con is not None:
            try:
                self.con.close()
            except Exception:
                log.exception("closing the state file failed")
            self.con = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def run_daemon(workspace: Workspace, *, log_format: str = "text", log_level: str = "info") -> int:
    """Run in the foreground until SIGTERM/SIGINT; the process exit code."""
    configure_logging(log_format, log_level)
    daemon = Daemon(workspace)
    stop = daemon.stop_requested

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        stop.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=daemon.reload_config, name="reload", daemon=True).start()

    daemon.start()
    # Hand the GIL over more often than every 5 ms: an API call waiting behind busy sync
    # threads then answers in milliseconds (syncs lose a little throughput).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop),
                             (signal.SIGHUP, on_hup))
    }  # fmt: skip
    try:
        while not stop.wait(3600):
            pass
        daemon.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stderr.flush()
    return 0


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _preload_connectors(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Import the fetch-time modules of the services applied integrations use, while the
    daemon has one thread: each sync's fetch worker is forked with them already imported."""
    from tether.connectors.registry import preload

    services = [
        str(r[0]) for r in con.execute("SELECT DISTINCT service FROM integrations").fetchall()
    ]
    return preload(services)
