"""Alerts: health changes become messages, routed by ``alerts.yaml``, delivered with apprise.

Deduplication is the health book's: a problem (a flag key) alerts once when it is raised, once
when it resolves, and once more as ``escalated`` when it has lasted ``escalate_after``
executions; new unmapped keys while the problem lasts are one more message listing them. So
100 failed items are one message, and a nightly failure is not a message every night.

Delivery never blocks a sync: messages go on a queue that one thread drains; a destination
that fails is retried with exponential backoff (``retry.attempts``, ``retry.backoff_s``) and
every attempt is recorded in ``alert_deliveries`` (which ``tether daemon health`` summarises).
The destination URLs come from the SOPS file and live only in this process's memory: rows,
logs and errors name the destination, never its URL.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from tether.config.alerts import AlertsConfig, Route
from tether.engine.health import ERROR_FLAGS, Change, HealthFlag

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("tether.alerts")

MAX_KEYS_LISTED = 10


# ------------------------------------------------------------------------ what plan shows


def alerts_change(
    applied: Mapping[str, Any] | None, desired: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The plan entry for alerts.yaml: route by route what changes (``None``: nothing)."""
    before = {r["name"]: r for r in (applied or {}).get("routes", [])}
    after = {r["name"]: r for r in (desired or {}).get("routes", [])}
    routes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        action = "create" if old is None else "delete" if new is None else "update"
        routes.append({"action": action, "name": name, "before": old, "after": new})
    same_secret = (applied or {}).get("destinations_fingerprint") == (desired or {}).get(
        "destinations_fingerprint"
    )
    same_rest = {k: v for k, v in (applied or {}).items() if k != "routes"} == {
        k: v for k, v in (desired or {}).items() if k != "routes"
    }
    if not routes and same_rest:
        return None
    return {
        "routes": routes,
        "destinations_changed": not same_secret,
        "after": dict(desired) if desired is not None else None,
    }


# ------------------------------------------------------------------------- the messages


@dataclass(frozen=True)
class Alert:
    event: str
    integration_id: str | None
    title: str
    body: str
    flag_key: str | None = None
    severity: str = "warning"  # error | warning | success | info
    repeats: int = 0


def alerts_for(change: Change) -> list[Alert]:
    """The messages one health change is worth (before routing)."""
    iid = change.integration_id
    out: list[Alert] = []
    if change.trigger == "removed":  # destroyed by an apply: its problems went with it
        return out
    for flag in change.raised:
        if flag.code in ERROR_FLAGS:
            out.append(_alert("execution_failed", iid, flag, "error", f"{iid}: sync failed"))
        elif flag.code == "unmapped":
            out.append(_unmapped(iid, flag, flag.keys))
        else:
            out.append(_alert("flag_raised", iid, flag, "warning", f"{iid}: {_short(flag)}"))
    for flag, new_keys in change.grown:
        out.append(_unmapped(iid, flag, new_keys))
    for flag in change.resolved:
        if flag.code in ERROR_FLAGS:
            title, body = f"{iid}: sync recovered", f"Resolved: {flag.message}"
            out.append(Alert("sync_recovered", iid, title, body, flag.key, "success"))
        else:
            title, body = f"{iid}: {_short(flag)} resolved", f"Resolved: {flag.message}"
            out.append(Alert("flag_resolved", iid, title, body, flag.key, "success"))
    for flag, repeats in change.persisting if change.trigger == "execution" else ():
        title = f"{iid}: still {_short(flag)} after {repeats} syncs"
        out.append(Alert("escalated", iid, title, flag.message, flag.key, flag.severity, repeats))
    return out


def _alert(event: str, iid: str, flag: HealthFlag, severity: str, title: str) -> Alert:
    return Alert(event, iid, title, flag.message, flag.key, severity)


def _short(flag: HealthFlag) -> str:
    from tether.engine.health import SHORT

    return SHORT.get(flag.code, flag.code)


def _unmapped(iid: str, flag: HealthFlag, keys: Sequence[str]) -> Alert:
    listed = ", ".join(keys[:MAX_KEYS_LISTED])
    more = f" and {len(keys) - MAX_KEYS_LISTED:,} more" if len(keys) > MAX_KEYS_LISTED else ""
    body = (
        f"{flag.message}. New: {listed}{more}. Map them in mappings/*.csv, apply, then "
        f"`tether retry {iid}` re-maps the failed items."
    )
    title = f"{iid}: {len(keys):,} new unmapped {'key' if len(keys) == 1 else 'keys'}"
    return Alert("unmapped", iid, title, body, flag.key, "warning")


def routed(alert: Alert, routes: Iterable[Route]) -> list[Route]:
    """The routes that want this message (an escalation only at the route's own threshold)."""
    wanted = []
    for route in routes:
        if not route.wants(alert.event, alert.integration_id):
            continue
        if alert.event == "escalated" and alert.repeats != route.escalate_after:
            continue
        wanted.append(route)
    return wanted


# ------------------------------------------------------------------------------ delivery

Send = Callable[[str, str, str, str], None]
"""(url, title, body, severity) -> None; raises ``DeliveryFailed`` when the receiver refuses."""


class DeliveryFailed(Exception):
    pass


def apprise_send(url: str, title: str, body: str, severity: str) -> None:
    """Deliver through apprise (Slack, Teams, email, PagerDuty, json:// webhooks, …)."""
    import apprise

    _quiet_url_loggers()
    types = {"error": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING,
             "success": apprise.NotifyType.SUCCESS}  # fmt: skip
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryFailed("apprise does not understand this destination URL")
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(
            title=title, body=body, notify_type=types.get(severity, apprise.NotifyType.INFO)
        )
    if not ok:
        raise DeliveryFailed(_reason(captured.getvalue(), url))


def _quiet_url_loggers() -> None:
    """apprise and urllib3 log the full URL (with its token) at DEBUG and INFO; a daemon run
    with ``--log-level debug`` must still not print it, so they only ever log warnings."""
    for name in ("apprise", "urllib3.connectionpool"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _reason(logged: str, url: str) -> str:
    """apprise's own complaint, without anything from the URL (it holds the token)."""
    lines = [line.strip() for line in logged.splitlines() if line.strip()]
    reason = lines[-1] if lines else "the receiver did not accept the message"
    return scrub(reason, [url])


def scrub(text: str, urls: Iterable[str]) -> str:
    """Remove every URL and each of its parts long enough to be a token."""
    import re
    from urllib.parse import urlsplit

    for url in urls:
        text = text.replace(url, "<destination>")
        parts = urlsplit(url)
        pieces = re.split(r"[/?&=:@#]", f"{parts.netloc}{parts.path}?{parts.query}")
        for piece in sorted({p for p in pieces if len(p) >= 6}, key=len, reverse=True):
            if not piece.replace(".", "").isdigit():  # hosts and ports say nothing secret
                text = text.replace(piece, "•••")
    return text


@dataclass(order=True)
class _Attempt:
    due: float
    seq: int
    delivery_id: int = field(compare=False)
    route: str = field(compare=False)
    destination: str = field(compare=False)
    alert: Alert = field(compare=False)
    attempts: int = field(compare=False, default=0)


@dataclass
class DeliveryStats:
    queued: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    last_error: str | None = None
    last_error_at: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Notifier:
    """Routes alerts and delivers them on its own thread, with retries and a record of each."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        config: AlertsConfig | None,
        urls: Callable[[], Mapping[str, str]],
        *,
        send: Send = apprise_send,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.con = con
        self.config = config
        self._urls = urls
        self._send = send
        self._clock = clock
        self._monotonic = monotonic or time.monotonic
        self._queue: list[_Attempt] = []
        self._inbox: list[list[Change]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.stats = DeliveryStats()

    # configuration

    def configure(self, config: AlertsConfig | None) -> None:
        with self._cond:
            self.config = config

    @property
    def routes(self) -> list[Route]:
        return list(self.config.routes.values()) if self.config is not None else []

    # intake (any thread; never blocks on a receiver)

    def notify(self, changes: Iterable[Change]) -> None:
        """Hand these health changes over (cheap: the caller is a sync's thread). The delivery
        thread records them in ``health_flags``, routes them and queues the messages."""
        batch = list(changes)
        if not batch:
            return
        with self._cond:
            self._inbox.append(batch)
            self._cond.notify_all()

    def _route(self, changes: Iterable[Change]) -> int:
        count = 0
        for change in changes:
            for alert in alerts_for(change):
                for route in routed(alert, self.routes):
                    count += self.enqueue(route, alert)
        return count

    def enqueue(self, route: Route, alert: Alert) -> int:
        count = 0
        for destination in route.to:
            delivery_id = self._record_new(route.name, destination, alert)
            attempt = _Attempt(self._monotonic(), next(self._seq), delivery_id, route.name,
                               destination, alert)  # fmt: skip
            with self._cond:
                heapq.heappush(self._queue, attempt)
                self.stats.queued += 1
                self._cond.notify_all()
            count += 1
        log.info(
            "alert queued",
            extra={"fields": {"route": route.name, "event": alert.event,
                              "integration": alert.integration_id, "flag": alert.flag_key}},
        )  # fmt: skip
        return count

    # the thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop; deliveries still due in ``timeout`` are attempted, later retries are dropped
        (their rows stay ``retrying``: the record shows they were not delivered)."""
        deadline = self._monotonic() + timeout
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - self._monotonic()))

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._inbox and not self._busy

    _busy = False

    def _take_inbox(self) -> list[Change]:
        with self._cond:
            batches, self._inbox = self._inbox, []
            self._busy = bool(batches)
        return [c for batch in batches for c in batch]

    def _intake(self) -> None:
        changes = self._take_inbox()
        if not changes:
            return
        try:
            cur = self.con.cursor()
            try:
                save_changes(cur, changes, self._clock())
            finally:
                cur.close()
            self._route(changes)
        except Exception:
            log.exception("health changes not recorded")
        finally:
            with self._cond:
                self._busy = False

    def drain(self) -> None:
        """Record and route what ``notify`` handed over, now (what the thread does first)."""
        self._intake()

    def _loop(self) -> None:
        attempt: _Attempt | None
        while True:
            self._intake()
            with self._cond:
                while True:
                    now = self._monotonic()
                    if self._inbox:
                        attempt = None
                        break
                    if self._queue and self._queue[0].due <= now:
                        attempt = heapq.heappop(self._queue)
                        self._busy = True
                        break
                    if self._stopping:
                        return
                    wait = self._queue[0].due - now if self._queue else None
                    self._cond.wait(wait)
            if attempt is None:
                continue
            try:
                self._deliver(attempt)
            except Exception:  # a bug here must not kill the thread that delivers the rest
                log.exception("alert delivery crashed", extra={"fields": {"route": attempt.route}})
            finally:
                with self._cond:
                    self._busy = False

    def _deliver(self, attempt: _Attempt) -> None:
        attempt = replace(attempt, attempts=attempt.attempts + 1)
        alert = attempt.alert
        url = self._urls().get(attempt.destination)
        config = self.config
        attempts = config.attempts if config is not None else 1
        try:
            if url is None:
                raise DeliveryFailed(f"destination '{attempt.destination}' is not in the file")
            self._send(url, alert.title, alert.body, alert.severity)
        except Exception as exc:
            reason = scrub(str(exc) or type(exc).__name__, self._urls().values())
            final = attempt.attempts >= attempts
            status = "failed" if final else "retrying"
            self._record(attempt, status, reason)
            with self._cond:
                self.stats.last_error = f"{attempt.route}/{attempt.destination}: {reason}"
                self.stats.last_error_at = self._clock().isoformat()
                if final:
                    self.stats.failed += 1
                else:
                    self.stats.retried += 1
                    backoff = (config.backoff_s if config else 1.0) * 2 ** (attempt.attempts - 1)
                    heapq.heappush(
                        self._queue,
                        replace(attempt, due=self._monotonic() + backoff, seq=next(self._seq)),
                    )
            log.warning(
                "alert not delivered" + ("; giving up" if final else "; will retry"),
                extra={"fields": {"route": attempt.route, "destination": attempt.destination,
                                  "event": alert.event, "attempt": attempt.attempts,
                                  "error": reason}},
            )  # fmt: skip
            return
        self._record(attempt, "delivered", None)
        with self._cond:
            self.stats.delivered += 1
        log.info(
            "alert delivered",
            extra={"fields": {"route": attempt.route, "destination": attempt.destination,
                              "event": alert.event, "attempt": attempt.attempts}},
        )  # fmt: skip

    # the record

    def _record_new(self, route: str, destination: str, alert: Alert) -> int:
        cur = self.con.cursor()
        try:
            row = cur.execute(
                "INSERT INTO alert_deliveries (route, destination, event, integration_id, "
                "flag_key, title, body, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?) RETURNING id",
                [route, destination, alert.event, alert.integration_id, alert.flag_key,
                 alert.title, alert.body, self._clock()],
            ).fetchone()  # fmt: skip
        finally:
            cur.close()
        assert row is not None
        return int(row[0])

    def _record(self, attempt: _Attempt, status: str, error: str | None) -> None:
        cur = self.con.cursor()
        try:
            cur.execute(
                "UPDATE alert_deliveries SET status = ?, attempts = ?, last_error = ?, "
                "delivered_at = CASE WHEN ? = 'delivered' THEN ? END WHERE id = ?",
                [status, attempt.attempts, error, status, self._clock(), attempt.delivery_id],
            )
        finally:
            cur.close()

    def health(self) -> dict[str, Any]:
        """For ``tether daemon health``: routes, what is pending, the last failure."""
        with self._cond:
            pending = len(self._queue)
            doc = self.stats.to_doc()
        doc.update(routes=[r.name for r in self.routes], pending=pending)
        return doc


# -------------------------------------------------------------------- health flags in state


def save_changes(con: duckdb.DuckDBPyConnection, changes: Iterable[Change], now: datetime) -> None:
    """Keep ``health_flags`` in step with the book: raised rows, repeats, resolutions."""
    cur = con.cursor()
    try:
        for change in changes:
            iid = change.integration_id
            for flag in change.raised:
                cur.execute(
                    "INSERT INTO health_flags (integration_id, flag_key, code, domain_type, "
                    "severity, message, keys, raised_at, last_seen_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [iid, flag.key, flag.code, flag.domain_type, flag.severity, flag.message,
                     list(flag.keys), now, now],
                )  # fmt: skip
            for flag, repeats in change.persisting:
                cur.execute(
                    "UPDATE health_flags SET message = ?, keys = ?, repeats = ?, "
                    "last_seen_at = ? WHERE integration_id = ? AND flag_key = ? "
                    "AND resolved_at IS NULL",
                    [flag.message, list(flag.keys), repeats, now, iid, flag.key],
                )
            for flag in change.resolved:
                cur.execute(
                    "UPDATE health_flags SET resolved_at = ? WHERE integration_id = ? "
                    "AND flag_key = ? AND resolved_at IS NULL",
                    [now, iid, flag.key],
                )
    finally:
        cur.close()


def load_open(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, tuple[HealthFlag, int]]]:
    """The flags a previous daemon left open (``HealthBook.restore``)."""
    rows = con.execute(
        "SELECT integration_id, flag_key, code, domain_type, message, keys, repeats "
        "FROM health_flags WHERE resolved_at IS NULL"
    ).fetchall()
    found: dict[str, dict[str, tuple[HealthFlag, int]]] = {}
    for iid, key, code, domain, message, keys, repeats in rows:
        flag = HealthFlag(code, message, domain, tuple(keys or ()))
        found.setdefault(iid, {})[key] = (flag, int(repeats))
    return found


def applied_alerts(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The alerts configuration the last apply wrote (``meta.alerts``)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'alerts'").fetchone()
    return orjson.loads(row[0]) if row and row[0] else None


def config_from_doc(doc: Mapping[str, Any] | None) -> AlertsConfig | None:
    if not doc:
        return None
    routes = {
        r["name"]: Route(
            r["name"],
            tuple(r["events"]),
            tuple(r["integrations"]),
            tuple(r["to"]),
            int(r["escalate_after"]),
        )
        for r in doc.get("routes", [])
    }
    retry = doc.get("retry") or {}
    return AlertsConfig(
        source_path=str(doc.get("source_path") or "alerts.yaml"),
        destinations_ref=str(doc["destinations"]),
        destinations_fingerprint=doc.get("destinations_fingerprint"),
        routes=routes,
        attempts=int(retry.get("attempts", 5)),
        backoff_s=float(retry.get("backoff_s", 2.0)),
    )
