"""Completeness: does the state hold what the source holds? (``tether verify``)

Per capability, the source's count over a window (``Countable.count``) is compared with the
state's count over the same window. "Equal" means::

    source count == loaded + failed

* **loaded**: distinct records of the integration in the capability's ``data.*`` table whose
  window field (the record field the connector's window filters on: ``updated_at`` for Shopify
  and TrackStar orders, ``ordered_at`` for Brewman and warehouse orders, ``date`` for sales
  history, ...) is in the window;
* **failed**: records fetched but not loaded (open failed items, e.g. an order from an
  unmapped channel, and the rows an aggregate page could not map), dated in the window by
  their stored payload: the state knows about them, and they are already reported as
  failures, so they are not "missing".

More at the source is **missing** (a window a sync never read, a row lost from the state):
``tether sync --since`` re-fetches the window. More in the state is **extra** (records deleted
at the source, or re-dated there). Snapshot capabilities (inventory, products of a catalogue,
channels) have no window field and are counted whole on both sides.

Each check is recorded in ``verify_runs`` (one row per capability), which the monitor and the
health checks read (``v_verify_latest``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tether.connectors.base import AGGREGATE_CAPABILITIES, Connector, Window
from tether.engine.window import iso
from tether.errors import TetherError
from tether.state.store import transaction

if TYPE_CHECKING:
    import duckdb

STATE_TABLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # capability: (data table, key column, fields the table keeps that a window can filter on)
    "sales_orders": ("sales_orders", "external_id", ("ordered_at", "updated_at")),
    "pending_sales": ("pending_sales", "order_external_id", ("ordered_at",)),
    "sales_history": ("sales_history", "external_id", ("date",)),
    "warehouse_inventory": ("inventory_levels", "external_id", ("as_of",)),
    "products": ("products", "external_id", ("updated_at",)),
    "channels": ("channels", "external_id", ()),
    "pricing": ("prices", "external_id", ("valid_from",)),
    "forecast_versions": ("forecast_versions", "external_id", ("created_at",)),
    "sales_forecast": ("sales_forecasts", "external_id", ("date",)),
}

DATE_FIELDS = frozenset({"date", "valid_from"})
"""Window fields that are calendar dates (compared at midnight UTC), not instants."""

DEFAULT_WINDOW_FIELDS = {"sales_orders": "updated_at", "pending_sales": "updated_at"}
"""For a connector that does not say (no ``window_field``): orders updated in the window, as
``Window`` documents."""


@dataclass
class CapabilityCheck:
    capability: str
    status: str
    """match | missing | extra | not_countable | error"""
    window_field: str | None = None
    source: int | None = None
    state: int | None = None
    loaded: int | None = None
    failed: int | None = None
    message: str = ""
    hint: str = ""
    note: str = ""
    """How this capability was counted when it differs from the window asked for."""

    @property
    def difference(self) -> int | None:
        if self.source is None or self.state is None:
            return None
        return self.source - self.state

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "difference": self.difference}


# ------------------------------------------------------------------------------ source side


def window_field(connector: Connector, capability: str) -> str | None:
    """The record field the connector's window filters on for ``capability`` (None: whole)."""
    ask: Callable[[str], str | None] | None = getattr(connector, "window_field", None)
    if ask is None:
        return DEFAULT_WINDOW_FIELDS.get(capability)
    return ask(capability)


def count_source(
    connector: Connector, capabilities: list[str], window: Window | None
) -> dict[str, CapabilityCheck]:
    """Ask the source for each capability's count; a failure is that capability's result."""
    from tether.errors import ConnectorError

    count = getattr(connector, "count", None)
    checks: dict[str, CapabilityCheck] = {}
    for capability in capabilities:
        field = window_field(connector, capability)
        check = CapabilityCheck(capability, "pending", window_field=field)
        checks[capability] = check
        table, _, kept = STATE_TABLES[capability]
        if field is not None and field not in kept:
            # The state cannot date these records the way the source does: compare the
            # whole set (pending orders are a current set anyway) and say so.
            check.window_field = field = None
            check.note = (
                f"Counted whole: data.{table} keeps no {window_field(connector, capability)}."
            )
        if count is None:
            check.status = "not_countable"
            check.message = "This service's connector cannot count what the source holds."
            continue
        try:
            check.source = count(capability, window if field else None)
        except ConnectorError as exc:
            check.status = "error"
            check.message = f"{exc.code}: {exc.message}"
            check.hint = exc.hint or "Check the integration (`tether sync` shows the same error)."
            continue
        if check.source is None:
            check.status = "not_countable"
            check.message = f"The service offers no way to count {capability}."
    return checks


# ------------------------------------------------------------------------------- state side


def count_state(
    con: duckdb.DuckDBPyConnection,
    integration_id: str,
    capability: str,
    field: str | None,
    window: Window | None,
) -> tuple[int, int]:
    """(loaded, failed) records of ``capability`` in the state over ``window`` on ``field``."""
    table, key, fields = STATE_TABLES[capability]
    if field is not None and field not in fields:
        raise TetherError(
            f"The state keeps no {field} for {capability} (data.{table}), so it cannot be "
            "counted over a window on it.",
            hint="Verify without a window on this capability, or report this as a bug.",
        )
    where, where_failed = "", ""
    params: list[Any] = []
    failed_params: list[Any] = []
    if field is not None and window is not None:
        where, params = _window_sql(field, window, f"d.{field}")
        payload_field = f"json_extract_string(r, '$.{field}')"
        where_failed, failed_params = _window_sql(field, window, payload_field, text=True)
    loaded_sql = (
        f"SELECT DISTINCT d.{key} AS k FROM data.{table} d WHERE d.integration_id = ?{where}"
    )
    loaded_row = con.execute(f"SELECT count(*) FROM ({loaded_sql})", [integration_id, *params])
    loaded = int((loaded_row.fetchone() or (0,))[0])
    aggregate = capability in AGGREGATE_CAPABILITIES
    records = (
        "SELECT s.id, unnest(from_json(s.payload, '[\"json\"]')) AS r FROM open_items s"
        if aggregate
        else "SELECT s.id, s.payload AS r FROM open_items s"
    )
    ident = "json_extract_string(r, '$.external_id')"
    failed_sql = (
        "WITH open_items AS (SELECT s.id, s.payload FROM sync_items s "
        "JOIN executions e ON e.id = s.execution_id WHERE s.integration_id = ? "
        "AND s.domain_type = ? AND s.status IN ('failed', 'partial_mapped') "
        "AND s.resolved_by IS NULL "
        "AND s.payload IS NOT NULL AND NOT e.dry_run), "
        f"records AS ({records}) "
        f"SELECT count(DISTINCT {ident}) FROM records WHERE {ident} IS NOT NULL{where_failed} "
        f"AND {ident} NOT IN (SELECT k FROM ({loaded_sql}))"
    )
    failed_row = con.execute(
        failed_sql,
        [integration_id, capability, *failed_params, integration_id, *params],
    ).fetchone()
    return loaded, int((failed_row or (0,))[0])


def _window_sql(
    field: str, window: Window, expression: str, *, text: bool = False
) -> tuple[str, list[Any]]:
    """`` AND <expression> in [since, until)`` and its parameters.

    Dates compare at midnight UTC (as the warehouses' ``CAST(date AS TIMESTAMP)``), instants as
    instants. ``text``: the expression is ISO text from a stored payload.
    """
    bounds: list[datetime] = [window.since] + ([] if window.until is None else [window.until])
    if field in DATE_FIELDS:
        value = f"CAST(TRY_CAST({expression} AS DATE) AS TIMESTAMP)"
        params: list[Any] = [b.astimezone(UTC).replace(tzinfo=None) for b in bounds]
    else:
        value = f"TRY_CAST({expression} AS TIMESTAMPTZ)" if text else expression
        params = list(bounds)
    sql = f" AND {value} >= ?"
    if window.until is not None:
        sql += f" AND {value} < ?"
    return sql, params


# ------------------------------------------------------------------------------ comparison


def compare(
    con: duckdb.DuckDBPyConnection,
    integration_id: str,
    checks: Mapping[str, CapabilityCheck],
    window: Window | None,
) -> list[CapabilityCheck]:
    """Fill in the state's side of each counted check, and its verdict and what to do."""
    for check in checks.values():
        if check.status != "pending":
            continue
        bounded = window if check.window_field else None
        try:
            check.loaded, check.failed = count_state(
                con, integration_id, check.capability, check.window_field, bounded
            )
        except TetherError as exc:
            check.status, check.message, check.hint = "error", exc.message, exc.hint or ""
            continue
        check.state = check.loaded + check.failed
        _verdict(check, integration_id, bounded)
        if check.status == "missing" and not _synced(con, integration_id, check.capability):
            check.hint = (
                f"'{integration_id}' is in dry-run mode: its syncs save nothing. Set dry_run: "
                "false in its integrations/*.yaml, apply, then sync."
                if _dry_run(con, integration_id)
                else f"Nothing of it was synced yet: run `tether sync {integration_id}`."
            )
    return list(checks.values())


def _synced(con: duckdb.DuckDBPyConnection, integration_id: str, capability: str) -> bool:
    row = con.execute(
        "SELECT EXISTS (SELECT 1 FROM executions WHERE integration_id = ? AND domain_type = ? "
        "AND NOT dry_run)",
        [integration_id, capability],
    ).fetchone()
    return bool(row and row[0])


def _dry_run(con: duckdb.DuckDBPyConnection, integration_id: str) -> bool:
    row = con.execute("SELECT dry_run FROM integrations WHERE id = ?", [integration_id]).fetchone()
    return bool(row and row[0])


def _verdict(check: CapabilityCheck, integration_id: str, window: Window | None) -> None:
    assert check.source is not None and check.state is not None
    scope = (
        f"with {check.window_field} in the window"
        if window is not None
        else "in all (a snapshot, counted whole)"
        if check.window_field is None
        else "in all history"
    )
    failed = f" ({check.failed} of them fetched but not loaded)" if check.failed else ""
    if check.source == check.state:
        check.status = "match"
        check.message = (
            f"{check.source} at the source, {check.state} in the state{failed}, {scope}."
        )
        if check.failed:
            check.hint = f"See the failures with `tether errors {integration_id}`."
        return
    difference = check.source - check.state
    if difference > 0:
        check.status = "missing"
        check.message = (
            f"{difference} record(s) at the source are not in the state: {check.source} at the "
            f"source, {check.state} in the state{failed}, {scope}."
        )
        check.hint = _backfill_hint(integration_id, check.capability, window)
    else:
        check.status = "extra"
        check.message = (
            f"The state has {-difference} record(s) the source no longer counts: "
            f"{check.source} at the source, {check.state} in the state{failed}, {scope}."
        )
        check.hint = (
            "Records deleted (or re-dated) at the source stay in the state. If they must go, "
            f"`tether reset {integration_id}` and a full sync rebuild it (docs/verify.md)."
        )


def _backfill_hint(integration_id: str, capability: str, window: Window | None) -> str:
    if window is None:
        return f"Re-read everything with `tether sync {integration_id} -c {capability} --full`."
    until = "" if window.until is None else f" --until {iso(window.until)}"
    return (
        f"Re-fetch the window without moving the cursor: `tether sync {integration_id} "
        f"-c {capability} --since {iso(window.since)}{until}`, then verify again."
    )


# ------------------------------------------------------------------------------- recording


def record(
    con: duckdb.DuckDBPyConnection,
    integration_id: str,
    checks: list[CapabilityCheck],
    window: Window | None,
    *,
    actor: str,
    now: datetime,
) -> int | None:
    """Save the checks as one ``verify_runs`` row per capability; return the check's id."""
    check_id: int | None = None
    with transaction(con):
        for check in checks:
            row = con.execute("SELECT nextval('verify_run_id_seq')").fetchone()
            assert row is not None
            row_id = int(row[0])
            check_id = row_id if check_id is None else check_id
            windowed = window is not None and check.window_field is not None
            con.execute(
                "INSERT INTO verify_runs (id, check_id, integration_id, domain_type, "
                "window_since, window_until, window_field, source_count, state_count, loaded, "
                "failed, status, message, checked_at, actor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row_id,
                    check_id,
                    integration_id,
                    check.capability,
                    window.since if windowed and window else None,
                    window.until if windowed and window else None,
                    check.window_field,
                    check.source,
                    check.state,
                    check.loaded,
                    check.failed,
                    check.status,
                    check.message,
                    now,
                    actor,
                ],
            )
    return check_id


def outcome(checks: list[CapabilityCheck]) -> str:
    """match (everything counted agrees) | mismatch | error (something could not be counted)."""
    statuses = {c.status for c in checks}
    if statuses & {"missing", "extra"}:
        return "mismatch"
    if "error" in statuses:
        return "error"
    return "match"
