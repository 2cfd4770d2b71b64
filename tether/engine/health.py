"""One definition of an integration's health (seed 001 "Monitoring Sync Health"), for everyone.

The daemon evaluates it after every execution and on a timer (for ``overdue``); ``status``,
``status --json``, the monitor, ``tether doctor``, metrics and alerts all read the same
``Health`` value. ``assess`` is the rule, a pure function on plain data; ``read_health`` gathers
its inputs from the state for many integrations in a few statements; ``HealthBook`` is the
daemon's incremental evaluator (one integration after each of its executions).

| flag               | needs attention when                                                      |
|--------------------|---------------------------------------------------------------------------|
| ``failed``         | the newest finished execution of a capability failed                      |
| ``auth_failed``    | it failed because the service rejected the credentials (``AUTH_FAILED``)   |
| ``rate_limited``   | the last ``RATE_LIMITED_RUNS`` executions of a capability were throttled   |
| ``rising_failures``| failed items rose over the last three executions of a capability          |
| ``records_low``    | the newest execution fetched far less than usual (< 10 % of the median)   |
| ``slow``           | the newest execution took far longer than usual (≥ 3× the median)         |
| ``unmapped``       | the newest execution left SKUs / channels / warehouses unmapped           |
| ``verify_mismatch``| the newest ``tether verify`` found the source and the state disagree      |
| ``overdue``        | the last sync is older than the schedule implies                          |

Numeric checks compare executions of the same domain type (orders and products differ in volume)
and need a little history (three earlier finished executions) so a new integration is not flagged.
Every flag has a ``key`` (code + capability): alerts deduplicate on it, so a problem that lasts
ten runs is one problem, not ten.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from tether.engine.schedule import Schedule, next_fire, previous_fire

if TYPE_CHECKING:
    import duckdb

FINISHED = ("success", "partial", "failed")
HISTORY = 10
"""Executions per capability the checks look at."""
MIN_HISTORY = 3
SLOW_FACTOR = 3.0
SLOW_MIN_SECONDS = 5.0
LOW_FRACTION = 0.1
"""``records_low`` when the newest execution fetched less than this share of the median."""
RATE_LIMITED_RUNS = 3
OVERDUE_GRACE = timedelta(minutes=5)
UNMAPPED_CODES = {"UNMAPPED_SKU": "SKU", "UNMAPPED_CHANNEL": "channel",
                  "UNMAPPED_WAREHOUSE": "warehouse"}  # fmt: skip
UNMAPPED_FILES = {"UNMAPPED_SKU": "mappings/skus.csv", "UNMAPPED_CHANNEL": "mappings/channels.csv",
                  "UNMAPPED_WAREHOUSE": "mappings/warehouses.csv"}  # fmt: skip
VERIFY_MISMATCH = ("missing", "extra")
ERROR_FLAGS = frozenset({"failed", "auth_failed"})
"""Flags that mean syncs are not happening (the rest: they happen, but something is off)."""

SHORT = {
    "failed": "failed",
    "auth_failed": "auth failed",
    "rate_limited": "rate limited",
    "rising_failures": "failures rising",
    "records_low": "low volume",
    "slow": "slow",
    "unmapped": "unmapped",
    "verify_mismatch": "verify mismatch",
    "overdue": "overdue",
}


@dataclass(frozen=True)
class HealthFlag:
    code: str
    message: str
    domain_type: str | None = None
    keys: tuple[str, ...] = ()
    """What the flag is about, when it lists things (the unmapped SKUs, …)."""

    @property
    def key(self) -> str:
        """What alerts deduplicate on: the same problem keeps its key while it lasts."""
        return f"{self.code}:{self.domain_type or ''}"

    @property
    def severity(self) -> str:
        return "error" if self.code in ERROR_FLAGS else "warning"

    def to_doc(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "domain_type": self.domain_type,
            "message": self.message,
            "keys": list(self.keys),
        }


@dataclass(frozen=True)
class Health:
    integration_id: str
    flags: tuple[HealthFlag, ...]
    evaluated_at: datetime

    @property
    def ok(self) -> bool:
        return not self.flags

    @property
    def summary(self) -> str:
        return summary(self.flags)

    def to_doc(self) -> dict[str, Any]:
        """What ``status --json`` carries per integration (and the monitor renders). No
        evaluation time: the answer is the same with and without a daemon."""
        return {
            "ok": self.ok,
            "summary": self.summary,
            "flags": [f.to_doc() for f in self.flags],
        }


@dataclass(frozen=True)
class Inputs:
    """Everything ``assess`` needs about one integration, read from the state."""

    executions: Sequence[Mapping[str, Any]] = ()
    """Newest first: id, domain_type, status, records_fetched, failed, duration_s, error_code,
    error, rate_limit_wait_s (at most ``HISTORY`` per capability)."""
    unmapped: Sequence[tuple[str, str, str, int]] = ()
    """(domain_type, code, key, items) in the newest live execution of each capability."""
    verify: Sequence[Mapping[str, Any]] = ()
    """The newest verify result per capability (domain_type, status, message)."""
    overdue: bool = False
    schedule: tuple[bool, str, str, datetime] | None = None
    """(active, cron, timezone, created_at): what ``overdue`` is computed from."""


# ------------------------------------------------------------------------------------ the rule


def assess(inputs: Inputs) -> list[HealthFlag]:
    """The flags of one integration, most urgent first."""
    by_domain: dict[str, list[Mapping[str, Any]]] = {}
    for execution in inputs.executions:
        if execution.get("status") in FINISHED:
            by_domain.setdefault(str(execution.get("domain_type")), []).append(execution)
    flags = _failure_flags(by_domain)
    for domain, runs in by_domain.items():
        flags.extend(_numeric_flags(domain, list(reversed(runs))))
    flags.extend(_unmapped_flags(inputs.unmapped))
    for row in inputs.verify:
        if row.get("status") in VERIFY_MISMATCH:
            domain = str(row.get("domain_type"))
            detail = row.get("message") or f"source and state disagree ({row.get('status')})"
            flags.append(HealthFlag("verify_mismatch", f"{domain}: {detail}", domain))
    if inputs.overdue:
        flags.append(HealthFlag("overdue", "last sync is older than the schedule implies"))
    return flags


def _failure_flags(by_domain: Mapping[str, list[Mapping[str, Any]]]) -> list[HealthFlag]:
    """One flag per failing capability; a rejected credential is one flag for the integration."""
    auth: list[str] = []
    auth_error = ""
    flags: list[HealthFlag] = []
    for domain, runs in by_domain.items():  # runs: newest first
        latest = runs[0]
        if latest.get("status") != "failed":
            continue
        if latest.get("error_code") == "AUTH_FAILED":
            auth.append(domain)
            auth_error = auth_error or str(latest.get("error") or "")
            continue
        streak = next((n for n, r in enumerate(runs) if r.get("status") != "failed"), len(runs))
        what = "last sync failed" if streak == 1 else f"last {streak} syncs failed"
        error = _first_line(latest.get("error"))
        code = latest.get("error_code")
        reason = f": {code + ' ' if code else ''}{error}".rstrip() if error or code else ""
        flags.append(HealthFlag("failed", f"{domain}: {what}{reason}", domain))
    if auth:
        detail = _first_line(auth_error) or "the service rejected the credentials"
        flags.insert(
            0,
            HealthFlag(
                "auth_failed",
                f"credentials rejected (AUTH_FAILED) in {', '.join(sorted(auth))}: {detail}",
                keys=tuple(sorted(auth)),
            ),
        )
    return flags


def _numeric_flags(domain: str, runs: list[Mapping[str, Any]]) -> list[HealthFlag]:
    """Trends of one capability; ``runs`` oldest first."""
    flags: list[HealthFlag] = []
    failed = [int(r.get("failed") or 0) for r in runs]
    if len(failed) >= 3 and failed[-1] > 0 and failed[-3] < failed[-2] < failed[-1]:
        trend = " → ".join(f"{n:,}" for n in failed[-3:])
        flags.append(
            HealthFlag("rising_failures", f"{domain}: failed items rising {trend}", domain)
        )
    limited = [r for r in runs[-RATE_LIMITED_RUNS:] if _rate_limited(r)]
    if len(runs) >= RATE_LIMITED_RUNS and len(limited) == RATE_LIMITED_RUNS:
        waited = sum(float(r.get("rate_limit_wait_s") or 0) for r in limited)
        flags.append(
            HealthFlag(
                "rate_limited",
                f"{domain}: rate limited in the last {RATE_LIMITED_RUNS} syncs "
                f"({_duration(waited)} waited)",
                domain,
            )
        )
    if len(runs) <= MIN_HISTORY:
        return flags
    latest, history = runs[-1], runs[:-1]
    if latest.get("status") != "failed":  # a failed run is flagged as failed, not as "low"
        usual = median(int(r.get("records_fetched") or 0) for r in history)
        got = int(latest.get("records_fetched") or 0)
        if usual > 0 and got < LOW_FRACTION * usual:
            what = "no records fetched" if got == 0 else f"fetched {got:,} records"
            flags.append(
                HealthFlag("records_low", f"{domain}: {what} (usually {round(usual):,})", domain)
            )
    durations = [float(r["duration_s"]) for r in history if r.get("duration_s") is not None]
    took = latest.get("duration_s")
    if durations and took is not None:
        usual_s = median(durations)
        if float(took) >= max(SLOW_FACTOR * usual_s, SLOW_MIN_SECONDS):
            flags.append(
                HealthFlag(
                    "slow",
                    f"{domain}: took {_duration(float(took))} (usually {_duration(usual_s)})",
                    domain,
                )
            )
    return flags


def _rate_limited(run: Mapping[str, Any]) -> bool:
    return run.get("error_code") == "RATE_LIMITED" or float(run.get("rate_limit_wait_s") or 0) > 0


def _unmapped_flags(rows: Iterable[tuple[str, str, str, int]]) -> list[HealthFlag]:
    by_domain: dict[str, list[tuple[str, str, int]]] = {}
    for domain, code, key, items in rows:
        by_domain.setdefault(domain, []).append((code, key, items))
    flags = []
    for domain, found in sorted(by_domain.items()):
        parts = []
        for code in UNMAPPED_CODES:
            mine = [(k, n) for c, k, n in found if c == code]
            if mine:
                noun = UNMAPPED_CODES[code] + ("s" if len(mine) > 1 else "")
                items = sum(n for _, n in mine)
                parts.append(f"{len(mine):,} unmapped {noun} ({items:,} items)")
        keys = tuple(sorted(f"{UNMAPPED_CODES[c]}:{k}" for c, k, _ in found))
        flags.append(HealthFlag("unmapped", f"{domain}: {', '.join(parts)}", domain, keys))
    return flags


def summary(flags: Sequence[HealthFlag]) -> str:
    """The dashboard cell: 'ok', or the first flag and how many more."""
    if not flags:
        return "ok"
    first = SHORT.get(flags[0].code, flags[0].code)
    return first if len(flags) == 1 else f"{first} +{len(flags) - 1}"


def overdue(
    cron: str, timezone: str, last: datetime | None, created: datetime, now: datetime
) -> bool:
    """Last sync older than the schedule implies (seed 000, "Data not syncing")."""
    previous = _previous_tick(cron, timezone, now)
    if previous < created:
        return False
    reference = last or created
    return bool(reference < previous - OVERDUE_GRACE)


_TICKS: dict[tuple[str, str], tuple[datetime, datetime]] = {}
"""(cron, timezone) -> (previous tick, next tick) last computed: a tick costs ~1 ms of croniter,
and 1,000 integrations usually share a handful of schedules."""

_NEVER = datetime.min.replace(tzinfo=UTC)
_FOREVER = datetime.max.replace(tzinfo=UTC)


def _previous_tick(cron: str, timezone: str, now: datetime) -> datetime:
    known = _TICKS.get((cron, timezone))
    if known is not None and known[0] <= now < known[1]:
        return known[0]
    schedule = Schedule(cron, timezone)
    previous = previous_fire(schedule, now) or _NEVER
    following = next_fire(schedule, now) or _FOREVER
    if len(_TICKS) > 10_000:
        _TICKS.clear()
    _TICKS[(cron, timezone)] = (previous, following)
    return previous


def _first_line(text: Any) -> str:
    return str(text or "").strip().splitlines()[0][:300] if text else ""


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# ------------------------------------------------------------------------- reading the state

EXECUTION_COLUMNS = ("integration_id", "id", "domain_type", "status", "records_fetched", "failed",
                     "duration_s", "error_code", "error", "rate_limit_wait_s", "partial_mapped",
                     "started_at")  # fmt: skip

_HISTORY_SQL = f"""
SELECT {", ".join(EXECUTION_COLUMNS)} FROM executions
WHERE {{where}}
QUALIFY row_number() OVER (PARTITION BY integration_id, domain_type ORDER BY id DESC) <= {HISTORY}
ORDER BY integration_id, id DESC
"""

_SCHEDULE_SQL = """
SELECT i.id, i.enabled AND NOT i.paused, i.cron, i.timezone, i.created_at
FROM integrations i WHERE {where}
"""
_UNMAPPED_SQL = """
SELECT x.integration_id, x.domain_type, e.code, coalesce(e.sku, e.channel, e.warehouse),
       count(DISTINCT e.item_id)
FROM sync_item_errors e JOIN executions x ON x.id = e.execution_id
WHERE e.execution_id IN (SELECT unnest(?::BIGINT[]))
  AND e.code IN ('UNMAPPED_SKU', 'UNMAPPED_CHANNEL', 'UNMAPPED_WAREHOUSE')
GROUP BY ALL ORDER BY ALL
"""


def _where(column: str, only: Sequence[str] | None) -> tuple[str, list[Any]]:
    if only is None:
        return "true", []
    return f"{column} IN (SELECT unnest(?::VARCHAR[]))", [list(only)]


def read_inputs(
    con: duckdb.DuckDBPyConnection, now: datetime, only: Sequence[str] | None = None
) -> dict[str, Inputs]:
    """The ``Inputs`` of every applied integration (or of ``only``), in four statements."""
    where, params = _where("i.id", only)
    schedules = con.execute(_SCHEDULE_SQL.format(where=where), params).fetchall()
    where, params = _where("integration_id", only)
    history: dict[str, list[dict[str, Any]]] = {}
    for row in con.execute(_HISTORY_SQL.format(where=where), params).fetchall():
        history.setdefault(row[0], []).append(dict(zip(EXECUTION_COLUMNS, row, strict=True)))
    latest = [
        int(e["id"])
        for runs in history.values()
        for e in _newest_per_domain(runs)
        if e["status"] != "running"
    ]
    unmapped = read_unmapped(con, latest)
    verify = read_verify(con, only)
    result = {}
    for iid, active, cron, tz, created in schedules:
        runs = history.get(iid, [])
        schedule = (bool(active), str(cron), str(tz), created)
        result[iid] = Inputs(runs, unmapped.get(iid, []), verify.get(iid, []),
                             _overdue_of(schedule, runs, now), schedule)  # fmt: skip
    return result


def read_unmapped(
    con: duckdb.DuckDBPyConnection, execution_ids: Sequence[int]
) -> dict[str, list[tuple[str, str, str, int]]]:
    """Unmapped keys (domain_type, code, key, items) recorded in these executions."""
    unmapped: dict[str, list[tuple[str, str, str, int]]] = {}
    if execution_ids:
        for iid, domain, code, key, items in con.execute(
            _UNMAPPED_SQL, [list(execution_ids)]
        ).fetchall():
            unmapped.setdefault(iid, []).append((domain, code, str(key), int(items)))
    return unmapped


def _overdue_of(
    schedule: tuple[bool, str, str, datetime], runs: Sequence[Mapping[str, Any]], now: datetime
) -> bool:
    active, cron, tz, created = schedule
    last = max((r["started_at"] for r in runs if r.get("started_at") is not None), default=None)
    return active and overdue(cron, tz, last, created, now)


def _trim(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most ``HISTORY`` executions per capability, newest first."""
    seen: dict[str, int] = {}
    kept = []
    for run in runs:
        domain = str(run["domain_type"])
        seen[domain] = seen.get(domain, 0) + 1
        if seen[domain] <= HISTORY:
            kept.append(run)
    return kept


def _newest_per_domain(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for run in runs:  # newest first
        seen.setdefault(str(run["domain_type"]), run)
    return list(seen.values())


def read_verify(
    con: duckdb.DuckDBPyConnection, only: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The newest ``tether verify`` result per capability (``v_verify_latest``, migration 005).

    Without that view (a state from before verify existed) there is nothing to read: no flag.
    """
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'v_verify_latest'"
    ).fetchone()
    if not found or not found[0]:
        return {}
    where, params = _where("integration_id", only)
    rows = con.execute(
        f"SELECT integration_id, domain_type, status, message FROM v_verify_latest WHERE {where}",
        params,
    ).fetchall()
    result: dict[str, list[dict[str, Any]]] = {}
    for iid, domain, status, message in rows:
        result.setdefault(iid, []).append(
            {"domain_type": domain, "status": status, "message": message}
        )
    return result


def read_health(
    con: duckdb.DuckDBPyConnection, now: datetime, only: Sequence[str] | None = None
) -> dict[str, Health]:
    """The health of every applied integration (or of ``only``), evaluated now."""
    return {
        iid: Health(iid, tuple(assess(inputs)), now)
        for iid, inputs in read_inputs(con, now, only).items()
    }


# ------------------------------------------------------------------ the daemon's evaluation


@dataclass(frozen=True)
class Change:
    """How one integration's health moved in one evaluation (what alerts are made of)."""

    integration_id: str
    raised: tuple[HealthFlag, ...] = ()
    persisting: tuple[tuple[HealthFlag, int], ...] = ()
    """Flags still up, with how many evaluations in a row (after executions) they have been."""
    resolved: tuple[HealthFlag, ...] = ()
    grown: tuple[tuple[HealthFlag, tuple[str, ...]], ...] = ()
    """Persisting flags that list things, with the things that are new (new unmapped SKUs)."""
    trigger: str = "execution"  # execution | timer | start | removed (no longer applied)

    @property
    def empty(self) -> bool:
        return not (self.raised or self.resolved or self.grown)


@dataclass
class _Open:
    flag: HealthFlag
    repeats: int = 1


@dataclass
class HealthBook:
    """The daemon's last evaluation of every integration, updated incrementally.

    ``evaluate(con, [id])`` after an execution re-reads that integration only (a few indexed
    statements) and diffs its flags against the previous evaluation; ``tick`` re-checks
    ``overdue`` for everyone (a schedule can fall behind with nothing executing). Readers
    (``status``, metrics, doctor) call ``get``/``snapshot`` and never touch the state.
    """

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _health: dict[str, Health] = field(default_factory=dict)
    _inputs: dict[str, Inputs] = field(default_factory=dict)
    """What each integration was last assessed from (the incremental path extends it)."""
    _open: dict[str, dict[str, _Open]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def restore(self, open_flags: Mapping[str, Mapping[str, tuple[HealthFlag, int]]]) -> None:
        """Adopt the flags a previous daemon left open (so a restart does not re-alert)."""
        with self._lock:
            for iid, flags in open_flags.items():
                self._open[iid] = {k: _Open(f, n) for k, (f, n) in flags.items()}

    def evaluate(
        self,
        con: duckdb.DuckDBPyConnection,
        only: Sequence[str] | None = None,
        *,
        trigger: str = "execution",
    ) -> list[Change]:
        now = self.clock()
        inputs: dict[str, Inputs] = {}
        if only is not None and trigger == "execution":
            for iid in only:
                found = self._incremental(con, iid, now)
                if found is not None:
                    inputs[iid] = found
        elif only is None and trigger == "timer" and self._inputs:
            inputs = self._refreshed(con, now)
        rest = None if only is None else [i for i in only if i not in inputs]
        if only is None and inputs:
            rest = [i for i in self._schedule_ids if i not in inputs]
        if rest is None or rest:
            inputs.update(read_inputs(con, now, rest))
        with self._lock:
            changes = []
            if only is None:  # integrations no longer applied: forget them, nothing to alert
                for gone in (set(self._health) | set(self._open)) - set(inputs):
                    self._health.pop(gone, None)
                    self._inputs.pop(gone, None)
                    closed = tuple(o.flag for o in self._open.pop(gone, {}).values())
                    if closed:
                        changes.append(Change(gone, resolved=closed, trigger="removed"))
            for iid, found in inputs.items():
                health = Health(iid, tuple(assess(found)), now)
                self._inputs[iid] = found
                self._health[iid] = health
                change = self._diff(
                    iid, health.flags, counts=trigger == "execution", trigger=trigger
                )
                changes.append(change)
            return changes

    _schedule_ids: list[str] = field(default_factory=list)

    def _refreshed(self, con: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, Inputs]:
        """The timer's pass: schedules and verify results re-read (two statements), executions
        as the incremental path keeps them (every run is evaluated when it ends)."""
        schedules = con.execute(_SCHEDULE_SQL.format(where="true")).fetchall()
        verify = read_verify(con)
        self._schedule_ids = [str(r[0]) for r in schedules]
        with self._lock:
            known = dict(self._inputs)
        fresh = {}
        for iid, active, cron, tz, created in schedules:
            before = known.get(iid)
            if before is None:
                continue  # applied since the last full pass: read in full below
            schedule = (bool(active), str(cron), str(tz), created)
            late = _overdue_of(schedule, before.executions, now)
            fresh[iid] = Inputs(before.executions, before.unmapped, verify.get(iid, []), late,
                                schedule)  # fmt: skip
        return fresh

    def _incremental(
        self, con: duckdb.DuckDBPyConnection, iid: str, now: datetime
    ) -> Inputs | None:
        """The last inputs plus what changed since: executions newer than the last one seen
        (and those that were still running), in one statement; the unmapped keys only of new
        executions that failed items. ``None``: read it in full (first time, a reset)."""
        with self._lock:
            known = self._inputs.get(iid)
        if known is None or known.schedule is None:
            return None
        ids = [int(e["id"]) for e in known.executions]
        running = [int(e["id"]) for e in known.executions if e["status"] == "running"]
        since = min(running) - 1 if running else max(ids, default=0)
        new = [
            dict(zip(EXECUTION_COLUMNS, r, strict=True))
            for r in con.execute(
                f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM executions "
                "WHERE id > ? AND integration_id = ? ORDER BY id DESC",
                [since, iid],
            ).fetchall()
        ]
        if not new:
            return None  # a run that recorded nothing new: history may have been reset
        merged = _trim([*new, *(dict(e) for e in known.executions if int(e["id"]) <= since)])
        newest = _newest_per_domain(merged)
        changed = {int(e["id"]) for e in new}
        kept = {str(e["domain_type"]) for e in newest if int(e["id"]) not in changed}
        unmapped = [u for u in known.unmapped if u[0] in kept]
        suspects = [
            int(e["id"])
            for e in newest
            if int(e["id"]) in changed
            and e["status"] != "running"
            and (e.get("failed") or e.get("partial_mapped"))  # no failed item: nothing unmapped
        ]
        unmapped += read_unmapped(con, suspects).get(iid, [])
        # The schedule (and verify results) as last read in full: an apply, a pause or the
        # timer re-reads everyone (``evaluate(con)``), so they are at most one timer period old.
        schedule = known.schedule
        return Inputs(merged, sorted(unmapped), known.verify, _overdue_of(schedule, merged, now),
                      schedule)  # fmt: skip

    def tick(self, con: duckdb.DuckDBPyConnection) -> list[Change]:
        """The timer's re-evaluation (``overdue`` moves with the clock, not with executions)."""
        return [c for c in self.evaluate(con, trigger="timer") if not c.empty]

    def _diff(self, iid: str, flags: Sequence[HealthFlag], *, counts: bool, trigger: str) -> Change:
        before = self._open.get(iid, {})
        after: dict[str, _Open] = {}
        raised, persisting, grown = [], [], []
        for flag in flags:
            old = before.get(flag.key)
            if old is None:
                after[flag.key] = _Open(flag)
                raised.append(flag)
                continue
            repeats = old.repeats + (1 if counts else 0)
            after[flag.key] = _Open(flag, repeats)
            persisting.append((flag, repeats))
            new_keys = tuple(k for k in flag.keys if k not in set(old.flag.keys))
            if new_keys and flag.code == "unmapped":
                grown.append((flag, new_keys))
        resolved = [o.flag for key, o in before.items() if key not in after]
        if after:
            self._open[iid] = after
        else:
            self._open.pop(iid, None)
        return Change(iid, tuple(raised), tuple(persisting), tuple(resolved), tuple(grown),
                      trigger)  # fmt: skip

    def get(self, integration_id: str) -> Health | None:
        with self._lock:
            return self._health.get(integration_id)

    def snapshot(self) -> dict[str, Health]:
        with self._lock:
            return dict(self._health)

    def open_flags(self) -> dict[str, dict[str, tuple[HealthFlag, int]]]:
        with self._lock:
            return {
                iid: {k: (o.flag, o.repeats) for k, o in flags.items()}
                for iid, flags in self._open.items()
            }
