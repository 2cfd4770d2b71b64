"""Running a sync: one run per trigger, one execution per capability, one transaction per page.

Entry point for the CLI operations and the daemon::

    result = run_sync(con, workspace, "shopify_us", trigger="scheduled", scheduled_for=tick,
                      actor="scheduler", cancel=stop_event)

``con`` is a writable DuckDB connection (``ctx.state.write("sync")``). The rules it enforces:

* Each page the connector yields is mapped (``engine.mapping``) and committed with its items,
  item errors, statistics and the new cursor in **one transaction** (``SyncWriter.save_page``). A
  crash loses at most the page in flight; the next run resumes from the committed cursor, and
  executions left ``running`` by a dead process are marked ``interrupted``
  (``recover_interrupted``; the daemon calls it with ``everything=True`` when it starts).
* A manual sync first re-maps the stored payloads of open failed/partial items against today's
  mappings (``engine.retry``), so fixing a mapping and triggering a sync recovers old failures.
* Dry run: the same path, items recorded, execution marked ``dry_run``; no ``data.*`` row and no
  cursor written.
* Connector errors end the execution: ``RateLimitedError`` → ``partial`` (cursor kept, the next
  run resumes), ``AuthError`` → ``failed`` AUTH_FAILED, ``UnavailableError`` → ``failed``
  CONNECTION_TIMEOUT, ``DataError`` → ``failed`` SOURCE_ERROR.
* ``cancel`` set: the page in flight is committed, the execution is marked ``cancelled``, and the
  run stops.
* A scheduled tick is created once: a second run for the same ``(integration, scheduled_for)``
  raises ``DuplicateRunError`` before anything runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tether.config.project import Workspace
from tether.connectors.base import AGGREGATE_CAPABILITIES, Connector, Cursor, Page, Window
from tether.engine import retry
from tether.engine.mapping import CAPABILITY_TABLES, MappedPage, Mappings, map_page
from tether.engine.worker import FetchWorkerLost, fetch_pages
from tether.engine.writer import DuplicateRunError, Execution, SyncWriter, open_items
from tether.errors import (
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    SecretsError,
    StateError,
    TetherError,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DuplicateRunError",
    "Integration",
    "RunResult",
    "SyncInProgressError",
    "load_integration",
    "open_connector",
    "recover_interrupted",
    "run_sync",
]

Progress = Callable[[dict[str, Any]], None]
ConnectorFactory = Callable[[str], type[Connector]]

TRIGGERS = ("scheduled", "manual", "retry", "catch_up", "backfill", "retry_after_failure")


class SyncInProgressError(StateError):
    """Another live process (or thread) is running a sync of this integration."""


@dataclass(frozen=True)
class Integration:
    id: str
    name: str
    service: str
    enabled: bool
    dry_run: bool
    capabilities: list[str]
    settings: dict[str, Any]
    credentials_ref: str | None


@dataclass
class RunResult:
    run_id: int | None
    execution_ids: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    remapped: int = 0
    """Open items re-mapped from stored payloads before fetching (manual syncs, retries)."""
    loaded: int = 0
    """Of those, items now fully loaded."""
    cancelled: bool = False

    @property
    def failed(self) -> bool:
        return "failed" in self.statuses


def load_integration(con: duckdb.DuckDBPyConnection, integration_id: str) -> Integration:
    import orjson

    row = con.execute(
        "SELECT id, name, service, enabled, dry_run, capabilities, settings, credentials_ref "
        "FROM integrations WHERE id = ?",
        [integration_id],
    ).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT id FROM integrations ORDER BY id").fetchall()]
        raise NotFoundError(
            f"Unknown integration '{integration_id}'.",
            hint=f"Applied integrations: {', '.join(known)}."
            if known
            else "No integration is applied yet: run `tether plan` and `tether apply`.",
        )
    settings = row[6]
    return Integration(
        id=row[0],
        name=row[1],
        service=row[2],
        enabled=bool(row[3]),
        dry_run=bool(row[4]),
        capabilities=list(row[5]),
        settings=orjson.loads(settings) if isinstance(settings, str | bytes) else dict(settings),
        credentials_ref=row[7],
    )


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_interrupted(
    con: duckdb.DuckDBPyConnection,
    integration_id: str | None = None,
    *,
    everything: bool = False,
) -> list[int]:
    """Mark executions left ``running`` by a dead process as ``interrupted``; return their ids.

    ``everything=True`` (the daemon at start-up, when nothing can be running yet) marks every
    ``running`` execution, whatever its pid: in a container the daemon's pid repeats across
    restarts, so liveness alone cannot tell.
    """
    query = "SELECT id, pid FROM executions WHERE status = 'running'"
    params: list[Any] = []
    if integration_id is not None:
        query += " AND integration_id = ?"
        params.append(integration_id)
    rows = con.execute(query, params).fetchall()
    dead = [
        int(execution_id)
        for execution_id, pid in rows
        if everything or (pid != os.getpid() and not _pid_alive(pid))
    ]
    if dead:
        con.execute(
            "UPDATE executions SET status = 'interrupted', finished_at = now(), "
            "duration_s = epoch(now() - started_at), error = 'The process running this sync "
            "stopped before it finished; the next run resumes from the last committed page.' "
            f"WHERE id IN ({', '.join('?' * len(dead))})",
            dead,
        )
    return dead


def _running(con: duckdb.DuckDBPyConnection, integration_id: str) -> list[int]:
    return [
        int(r[0])
        for r in con.execute(
            "SELECT id FROM executions WHERE integration_id = ? AND status = 'running'",
            [integration_id],
        ).fetchall()
    ]


def load_mappings(con: duckdb.DuckDBPyConnection, integration_id: str) -> Mappings:
    rows = con.execute(
        "SELECT kind, integration_id, external_id, target FROM mappings "
        "WHERE integration_id IN ('', ?)",
        [integration_id],
    ).fetchall()
    return Mappings.from_rows(rows, integration_id)


def _choose_capabilities(integration: Integration, requested: list[str] | None) -> list[str]:
    if not requested:
        return list(integration.capabilities)
    unknown = [c for c in requested if c not in integration.capabilities]
    if unknown:
        raise TetherError(
            f"Integration '{integration.id}' has no capability {', '.join(map(repr, unknown))}.",
            hint=f"Its capabilities: {', '.join(integration.capabilities)}.",
        )
    return [c for c in integration.capabilities if c in requested]


def _connector(
    integration: Integration,
    workspace: Workspace,
    factory: ConnectorFactory,
    full: bool,
    window: Window | None = None,
) -> Connector:
    """Settings validated by the service's model, credentials decrypted with sops.

    ``window`` (a backfill) goes to ``__init__``; ``run_sync`` has checked that the connector
    takes it (``accepts_window``) before anything ran.
    """
    from pydantic import ValidationError

    from tether.config import secrets

    cls = factory(integration.service)
    try:
        settings = cls.spec.settings_model.model_validate(integration.settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConnectorError(
            f"Settings of integration '{integration.id}' are invalid: {problems}",
            hint="Fix integrations/<id>.yaml, then `tether plan` and `tether apply`.",
        ) from None
    credentials: dict[str, str] = {}
    if integration.credentials_ref:
        try:
            credentials = secrets.decrypt(
                workspace.resolve(integration.credentials_ref), workspace.age_key_file
            )
        except SecretsError as exc:
            error = _CredentialsError(
                f"Authentication failed: cannot read the credentials of '{integration.id}'. "
                f"{exc.message}",
                hint=exc.hint,
            )
            raise error from None
    if window is not None:
        return cls(settings, credentials, full=full, window=window)  # type: ignore[call-arg]
    return cls(settings, credentials, full=full)


def open_connector(
    integration: Integration,
    workspace: Workspace,
    connector_factory: ConnectorFactory | None = None,
) -> Connector:
    """The integration's connector as a sync builds it (``tether verify`` counts with it)."""
    if connector_factory is None:
        from tether.connectors.registry import connector_class

        connector_factory = connector_class
    return _connector(integration, workspace, connector_factory, False)


def _check_backfill(integration: Integration, cls: type[Connector], window: Window | None) -> None:
    if window is not None and not accepts_window(cls):
        raise TetherError(
            f"{cls.spec.display_name} cannot re-fetch a window: its connector reads only from "
            "its cursor.",
            hint=f"Run `tether sync {integration.id} --full` to re-read everything instead.",
        )


def accepts_window(cls: type[Connector]) -> bool:
    """Whether a connector supports backfills (``window=`` in ``__init__``, see ``Window``)."""
    import inspect

    return "window" in inspect.signature(cls.__init__).parameters


class _CredentialsError(ConnectorError):
    code = "AUTH_FAILED"


def run_sync(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    integration_id: str,
    *,
    capabilities: list[str] | None = None,
    trigger: str = "manual",
    scheduled_for: datetime | None = None,
    dry_run: bool | None = None,
    full: bool = False,
    actor: str = "system",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    connector_factory: ConnectorFactory | None = None,
    run_id: int | None = None,
    window: Window | None = None,
) -> RunResult:
    """Run one sync of ``integration_id``: one run, one execution per capability.

    ``window`` makes it a backfill (trigger ``backfill``): the connector re-fetches only that
    window, from no cursor, every fetched record is rewritten (even one whose content hash is
    unchanged, so a row lost from ``data.*`` comes back) and no cursor is saved — the next
    incremental run continues where the last one stopped.

    ``trigger`` is scheduled | manual | retry | catch_up | backfill; ``scheduled_for`` the cron
    tick for scheduled/catch_up runs (``DuplicateRunError`` if that tick already ran).
    ``dry_run=None`` uses the integration's setting. ``full`` ignores the committed cursors (a full re-sync).
    ``progress`` receives dict events (``execution_started``, ``page``, ``execution_finished``).
    ``connector_factory`` maps a service name to its connector class (default: the registry).
    ``run_id`` is a run already recorded in ``runs`` (the daemon claims due ticks in bulk, so
    the tick's uniqueness was checked then); only its audit row is written here.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    if (window is not None) != (trigger == "backfill"):
        raise ValueError("a backfill (trigger 'backfill') needs a window, and only it")
    if window is not None and full:
        raise TetherError(
            "A backfill re-reads a window; --full re-reads everything: choose one.",
            hint="Drop --full to re-fetch the window, or drop --since/--until for a full re-sync.",
        )
    if connector_factory is None:
        from tether.connectors.registry import connector_class

        connector_factory = connector_class
    integration = load_integration(con, integration_id)
    dry = integration.dry_run if dry_run is None else dry_run
    if not integration.enabled and not dry:
        raise TetherError(
            f"Integration '{integration.id}' is disabled (enabled: false).",
            hint="Enable it in its integrations/*.yaml and apply, or try it with --dry-run.",
        )
    chosen = _choose_capabilities(integration, capabilities)
    _check_backfill(integration, connector_factory(integration.service), window)
    recover_interrupted(con, integration.id)
    if _running(con, integration.id):
        raise SyncInProgressError(
            f"A sync of '{integration.id}' is already running.",
            hint="Wait for it to finish (`tether executions`), or cancel it in the daemon.",
        )
    mappings = load_mappings(con, integration.id)
    writer = SyncWriter(con, integration.id)
    audit: dict[str, Any] = {"trigger": trigger, "capabilities": chosen, "dry_run": dry,
                             "full": full}  # fmt: skip
    if window is not None:
        audit["window"] = {"since": _iso(window.since), "until": _iso(window.until)}
    if run_id is None:
        run_id = writer.start_run(trigger, scheduled_for, actor, audit)
    else:
        writer.audit(actor, "retry" if trigger == "retry" else "sync", {"run_id": run_id, **audit})
    result = RunResult(run_id)
    emit = progress or (lambda event: None)
    try:
        connector = _connector(integration, workspace, connector_factory, full, window)
    except ConnectorError as exc:
        for capability in chosen:
            execution = writer.start_execution(
                run_id, capability, trigger, dry_run=dry, full_resync=full
            )
            writer.finish_execution(execution, "failed", exc.code, exc.message)
            _record(result, execution, emit)
        return result
    memory_limit = _limit_buffer_pool(con)
    try:
        for capability in chosen:
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            _sync_capability(
                writer,
                connector,
                capability,
                result,
                trigger=trigger,
                dry_run=dry,
                full=full,
                mappings=mappings,
                emit=emit,
                cancel=cancel,
                backfill=window is not None,
            )
            if result.cancelled:
                break
    finally:
        connector.close()
        if memory_limit is not None:
            _checkpoint(con)
            con.execute(f"SET memory_limit = '{memory_limit}'")
    return result


SYNC_MEMORY_LIMIT = "64MB"
"""DuckDB's buffer pool while a sync writes: pages are written once and never read back, but
with the default limit (80% of RAM) DuckDB keeps every block it wrote, so RSS grew with the run
(measured peak RSS: 230 MB at 100k orders, 328 MB at 400k, ~400 MB at 1M; with this limit 218 MB,
254 MB and 334 MB, and the RSS left at the end is flat: 194 MB at 100k, 199 MB at 1M). Bigger
operations still work: DuckDB evicts written blocks and spills to its temporary directory."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _limit_buffer_pool(con: duckdb.DuckDBPyConnection) -> str | None:
    """Lower DuckDB's memory limit for the sync; return the one to restore (None: unchanged).

    The limit is the database's: with concurrent syncs (the daemon) only the one that lowered
    it restores it, so it never stays lowered.
    """
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    previous = str(row[0]) if row else ""
    if not _bytes(SYNC_MEMORY_LIMIT) < _bytes(previous) < float("inf"):
        return None
    con.execute(f"SET memory_limit = '{SYNC_MEMORY_LIMIT}'")
    return previous


def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Checkpoint what the sync wrote while the buffer pool is still limited.

    Otherwise the rows written since the last automatic checkpoint (up to 16 MB of WAL, plus
    the hashes of a first sync) are checkpointed later, at the latest when the connection
    closes, under the restored limit: that checkpoint alone took the peak RSS of a 1M-order
    sync from 260 MB to 299 MB (measured; 194 MB at 100k). A failure only defers it.
    """
    import duckdb

    with contextlib.suppress(duckdb.Error):
        con.execute("CHECKPOINT")


def _bytes(size: str) -> float:
    """'18.8 GiB', '128MB', '61.0 MiB' → bytes (unreadable → infinity, i.e. no limit)."""
    units = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20,
             "gib": 2**30, "tib": 2**40, "b": 1}  # fmt: skip
    number = size.rstrip("BbIiKkMmGgTt ")
    try:
        return float(number) * units[size[len(number) :].strip().lower()]
    except (KeyError, ValueError):
        return float("inf")


def _mapped(
    pages: Iterator[Page], capability: str, mappings: Mappings, dry_run: bool
) -> Iterator[tuple[Page, MappedPage | None]]:
    """Each fetched page with its mapping (closing this closes the connector's generator).

    Aggregate pages come without one (``None``): they are mapped column by column where they
    are written. Their decoding (a database driver's, mostly) is the fetch worker's bottleneck,
    and the column mapping is cheap next to it, while the writer of such a page has time to
    spare; an order page's mapping is row by row and stays in the fetch worker.
    """
    try:
        for page in pages:
            if capability in AGGREGATE_CAPABILITIES:
                yield page, None
                continue
            yield page, map_page(capability, page.records, mappings, dry_run=dry_run)
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


def _record(result: RunResult, execution: Execution, emit: Progress) -> None:
    result.execution_ids.append(execution.id)
    result.statuses.append(execution.status)
    emit({"event": "execution_finished", **_stats(execution)})


def _stats(e: Execution) -> dict[str, Any]:
    return {
        "execution_id": e.id,
        "domain_type": e.domain_type,
        "status": e.status,
        "dry_run": e.dry_run,
        "records_fetched": e.records_fetched,
        "success": e.success,
        "failed": e.failed,
        "skipped": e.skipped,
        "mapped": e.mapped,
        "partial_mapped": e.partial_mapped,
        "rate_limit_wait_s": e.rate_limit_wait_s,
        "pages": e.pages,
        "error_code": e.error_code,
        "error": e.error,
    }


def _sync_capability(
    writer: SyncWriter,
    connector: Connector,
    capability: str,
    result: RunResult,
    *,
    trigger: str,
    dry_run: bool,
    full: bool,
    mappings: Mappings,
    emit: Progress,
    cancel: threading.Event | None,
    backfill: bool = False,
) -> None:
    cursor = None if full or backfill else writer.cursor(capability)
    # The fetch worker starts at once: the service is read while the execution is set up and
    # old failures are re-mapped. Fetching and mapping run there (a child process) and overlap
    # the page writes here, which spend most of their time in DuckDB.
    pages = fetch_pages(
        lambda: _mapped(connector.fetch(capability, cursor), capability, mappings, dry_run)
    )
    try:
        _save_pages(writer, pages, capability, cursor, result, trigger=trigger, dry_run=dry_run,
                    mappings=mappings, emit=emit, cancel=cancel, backfill=backfill)  # fmt: skip
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


def _save_pages(
    writer: SyncWriter,
    pages: Iterator[tuple[Page, MappedPage | None]],
    capability: str,
    cursor: Cursor | None,
    result: RunResult,
    *,
    trigger: str,
    dry_run: bool,
    mappings: Mappings,
    emit: Progress,
    cancel: threading.Event | None,
    backfill: bool = False,
) -> None:
    """Record the execution of ``capability``: commit each page, then its outcome."""
    execution = writer.start_execution(
        result.run_id or 0,
        capability,
        trigger,
        dry_run=dry_run,
        full_resync=cursor is None and not backfill,
    )
    execution.rewrite = backfill
    emit({"event": "execution_started", **_stats(execution)})
    try:
        if not dry_run:
            execution.open_items = open_items(writer.con, writer.integration_id, capability)
            writer.track_fresh_tables(execution, CAPABILITY_TABLES[capability])
        if trigger == "manual" and not dry_run and execution.open_items:
            remapped, loaded = retry.remap_open_items(writer, execution, mappings, emit)
            result.remapped += remapped
            result.loaded += loaded
        for page, mapped in pages:
            if mapped is None:
                label = f"page-{execution.pages + 1}"
                mapped = map_page(capability, page.records, mappings, dry_run=dry_run, label=label)
            writer.save_page(
                execution,
                mapped,
                cursor=None if backfill else page.cursor,  # a backfill never moves the cursor
                records_fetched=len(page.records) if page.raw_count is None else page.raw_count,
                waited_s=page.waited_s,
            )
            emit({"event": "page", **_stats(execution)})
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
    except RateLimitedError as exc:
        writer.finish_execution(execution, "partial", exc.code, exc.message)
    except ConnectorError as exc:
        writer.finish_execution(execution, "failed", exc.code, exc.message)
    except FetchWorkerLost as exc:
        writer.finish_execution(execution, "failed", None, exc.message)
    except (KeyboardInterrupt, SystemExit):
        writer.finish_execution(execution, "cancelled", None, "Stopped by the user.")
        _record(result, execution, emit)
        raise
    except BaseException as exc:
        # A bug: record it on the execution, then let it surface with its traceback.
        writer.finish_execution(
            execution, "failed", None, f"Internal error: {type(exc).__name__}: {exc}"
        )
        _record(result, execution, emit)
        raise
    else:
        if result.cancelled:
            writer.finish_execution(
                execution, "cancelled", None, "Cancelled; committed pages are kept."
            )
        else:
            writer.finish_execution(execution, execution.outcome())
    _record(result, execution, emit)


def run_retry(
    con: duckdb.DuckDBPyConnection,
    integration_id: str,
    *,
    actor: str = "system",
    progress: Progress | None = None,
) -> RunResult:
    """Re-map the open failed/partial items of an integration against today's mappings.

    No source is called. One run (trigger ``retry``) with one execution per domain type that has
    open items; ``run_id`` is ``None`` when there is nothing to retry.
    """
    integration = load_integration(con, integration_id)
    if integration.dry_run:
        raise TetherError(
            f"Integration '{integration.id}' is in dry-run mode; a retry would load data.",
            hint="Set dry_run: false in its integrations/*.yaml and apply first.",
        )
    recover_interrupted(con, integration.id)
    if _running(con, integration.id):
        raise SyncInProgressError(
            f"A sync of '{integration.id}' is running; retry after it finishes.",
            hint="It re-maps open items itself if it is a manual sync.",
        )
    domain_types = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT s.domain_type FROM sync_items s "
            "JOIN executions e ON e.id = s.execution_id "
            "WHERE s.integration_id = ? AND s.resolved_by IS NULL AND s.payload IS NOT NULL "
            "AND s.status IN ('failed', 'partial_mapped') AND NOT e.dry_run ORDER BY 1",
            [integration.id],
        ).fetchall()
    ]
    if not domain_types:
        return RunResult(None)
    mappings = load_mappings(con, integration.id)
    writer = SyncWriter(con, integration.id)
    run_id = writer.start_run("retry", None, actor, {"domain_types": domain_types})
    result = RunResult(run_id)
    emit = progress or (lambda event: None)
    for domain_type in domain_types:
        execution = writer.start_execution(
            run_id, domain_type, "retry", dry_run=False, full_resync=False
        )
        emit({"event": "execution_started", **_stats(execution)})
        try:
            remapped, loaded = retry.remap_open_items(writer, execution, mappings, emit)
        except BaseException as exc:
            writer.finish_execution(
                execution, "failed", None, f"Internal error: {type(exc).__name__}: {exc}"
            )
            raise
        result.remapped += remapped
        result.loaded += loaded
        writer.finish_execution(execution, execution.outcome())
        _record(result, execution, emit)
    return result
