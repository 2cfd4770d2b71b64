"""The daemon's health watch: evaluate after every run and on a timer, record, alert.

After each run ends (``Dispatcher.after_run``) the integration's health is re-evaluated
(``HealthBook.evaluate``, one integration: one statement for its new executions) and the
change is handed to the ``Notifier``, whose thread records it in ``health_flags``, routes it
and delivers: the run's thread never waits for a write or a receiver. A timer
re-evaluates everyone every ``TIMER_S`` for ``overdue`` (a schedule falls behind with nothing
running). Routes are the applied ``alerts.yaml`` (``meta.alerts``), re-read after each apply;
destination URLs are decrypted from the SOPS file when first needed and kept in memory only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tether.config.project import Workspace
from tether.engine.alerts import (
    Notifier,
    Send,
    applied_alerts,
    apprise_send,
    config_from_doc,
    load_open,
)
from tether.engine.health import Change, HealthBook

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("tether.daemon.health")

TIMER_S = 60.0


class HealthWatch:
    def __init__(
        self,
        workspace: Workspace,
        con: duckdb.DuckDBPyConnection,
        clock: Callable[[], datetime],
        *,
        send: Send = apprise_send,
        changed: Callable[[], None] = lambda: None,
        timer_s: float = TIMER_S,
    ) -> None:
        self.workspace = workspace
        self.con = con
        self.clock = clock
        self.changed = changed
        self.timer_s = timer_s
        self.book = HealthBook(clock=clock)
        self.notifier = Notifier(con, None, self._destination_urls, send=send, clock=clock)
        self._urls: dict[str, str] | None = None
        self._urls_lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._eval_lock = threading.Lock()

    # lifecycle

    def start(self) -> None:
        self._configure()
        cur = self.con.cursor()
        try:
            self.book.restore(load_open(cur))
        finally:
            cur.close()
        self._apply(self._evaluate(None, "start"))
        self.notifier.start()
        self._timer = threading.Thread(target=self._tick_loop, name="health-timer", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        self.notifier.stop()

    def reload(self) -> None:
        """After an apply or SIGHUP: the applied alert routes, and everyone's health re-read
        (schedules, pauses, removed integrations)."""
        self._configure()
        self._apply(self._evaluate(None, "start"))

    def _configure(self) -> None:
        cur = self.con.cursor()
        try:
            config = config_from_doc(applied_alerts(cur))
        finally:
            cur.close()
        self.notifier.configure(config)
        with self._urls_lock:
            self._urls = None  # the destinations file may have changed too

    # evaluation

    def after_run(self, integration_id: str) -> None:
        self._apply(self._evaluate([integration_id], "execution"))

    def tick(self) -> list[Change]:
        changes = self._evaluate(None, "timer")
        self._apply(changes)
        return changes

    def _evaluate(self, only: list[str] | None, trigger: str) -> list[Change]:
        with self._eval_lock:  # one evaluation at a time keeps the open flags consistent
            cur = self.con.cursor()
            try:
                changes = self.book.evaluate(cur, only, trigger=trigger)
                changes = [c for c in changes if not c.empty or c.persisting]
            finally:
                cur.close()
        return changes

    def _apply(self, changes: list[Change]) -> None:
        if any(not c.empty for c in changes):
            self.changed()
        for change in changes:
            for flag in change.raised:
                log.warning(
                    "health flag raised",
                    extra={"fields": {"integration": change.integration_id, "flag": flag.key,
                                      "message": flag.message}},
                )  # fmt: skip
            for flag in change.resolved:
                log.info(
                    "health flag resolved",
                    extra={"fields": {"integration": change.integration_id, "flag": flag.key}},
                )
        self.notifier.notify(changes)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.timer_s):
            try:
                self.tick()
            except Exception:
                log.exception("health re-evaluation failed")

    # destinations

    def _destination_urls(self) -> Mapping[str, str]:
        with self._urls_lock:
            if self._urls is None:
                found = self._decrypt()
                if found is None:
                    return {}  # not cached: the next delivery (a retry) tries again
                self._urls = found
            return self._urls

    def _decrypt(self) -> dict[str, str] | None:
        from tether.config.secrets import decrypt
        from tether.errors import TetherError

        config = self.notifier.config
        if config is None:
            return {}
        try:
            return decrypt(
                self.workspace.resolve(config.destinations_ref), self.workspace.age_key_file
            )
        except TetherError as exc:
            log.error(
                "alert destinations not readable",
                extra={"fields": {"file": config.destinations_ref, "error": exc.message}},
            )
            return None

    def health(self) -> dict[str, Any]:
        doc = self.notifier.health()
        flagged = {iid: h for iid, h in self.book.snapshot().items() if h.flags}
        doc["integrations_flagged"] = len(flagged)
        return doc
