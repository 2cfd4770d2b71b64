"""Redshift connector: the warehouse query contract over the real ``redshift_connector`` driver.

Each enabled capability runs ``settings.queries.<capability>.sql``; the incremental cursor is
bound as the query parameter ``%(cursor)s`` (the driver's ``pyformat`` paramstyle, sent to the
server as ``$1`` — never formatted into the SQL text). On a first or full sync the cursor is the
smallest value of the cursor column's type, so ``WHERE updated_at > %(cursor)s`` reads everything.

Paging is server-side: the driver buffers a whole result set in memory, so the query runs as
``DECLARE … NO SCROLL CURSOR`` inside a read-only transaction and is read with
``FETCH FORWARD <page_size>``; one ``Page`` per batch. The query is wrapped as
``SELECT * FROM (<sql>) ORDER BY <cursor_column>`` so every page can carry a cursor that is safe
to commit: the largest cursor value whose rows have *all* been read (rows sharing the last value
of a page may continue on the next one and are re-read after a crash, which upserts).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, field_validator

from tether.connectors.base import (
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    Window,
)
from tether.connectors.warehouse import (
    WAREHOUSE_CAPABILITIES,
    WINDOW_COLUMNS,
    WarehouseQuery,
    WarehouseSettings,
    check_columns,
    columns_to_records,
    count_sql,
    windowed,
)
from tether.errors import AuthError, ConnectorError, DataError, UnavailableError

CURSOR_PLACEHOLDER = "%(cursor)s"
SERVICE = "Redshift"
_SERVER_CURSOR = "tether_fetch"

# PostgreSQL / Redshift type OIDs, grouped by the kinds the query contract checks.
_KINDS: dict[int, str] = {
    **dict.fromkeys((18, 19, 25, 705, 1042, 1043), "text"),
    **dict.fromkeys((20, 21, 23, 26, 700, 701, 1700), "number"),
    1082: "date",
    1114: "timestamp",
    1184: "timestamp",
}
_OTHER_TYPES = {16: "boolean", 17: "bytea", 114: "json", 1083: "time", 1266: "timetz",
                3000: "geometry", 3802: "jsonb", 4000: "super"}  # fmt: skip

# The smallest value of each cursor-column type: the cursor of a first or full sync.
_MINIMUM: dict[int, Any] = {
    **dict.fromkeys((20, 21, 23, 26), -(2**63) + 1),
    700: -1.0e308,
    701: -1.0e308,
    1700: Decimal("-1E+37"),
    1082: dt.date(1, 1, 1),
    1114: dt.datetime(1, 1, 1),
    1184: dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    **dict.fromkeys((18, 19, 25, 705, 1042, 1043), ""),
}


def column_kind(oid: int) -> str:
    """text | number | date | timestamp, or the type's name for anything else."""
    return _KINDS.get(oid) or _OTHER_TYPES.get(oid) or f"type oid {oid}"


class RedshiftSettings(WarehouseSettings):
    ssl: bool = True
    """Encrypt the connection (Redshift's default). Only a local test server needs ``false``."""
    timeout_s: int = Field(default=120, ge=1, le=3600)
    """Seconds to wait for the connection and for each page (the first page may wait for the
    cluster to run the whole query)."""

    @field_validator("base_url")
    @classmethod
    def _no_base_url(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(
                "base_url does not apply to Redshift: the endpoint is the host and port in the "
                "credentials file; remove base_url"
            )
        return value


class RedshiftConnector:
    preload: ClassVar[tuple[str, ...]] = ("redshift_connector",)
    """Modules fetching imports, imported ahead by the daemon (``registry.preload``)."""
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="redshift",
        display_name="Redshift",
        description="AWS data warehouse for sales history and other data",
        capabilities=WAREHOUSE_CAPABILITIES,
        credential_fields=(
            CredentialField(
                "host",
                "Host",
                type="string",
                required=True,
                secret=False,
                placeholder="cluster.abc123.us-east-1.redshift.amazonaws.com",
                help="The cluster or workgroup endpoint, without port",
            ),
            CredentialField(
                "port",
                "Port",
                type="integer",
                required=True,
                secret=False,
                placeholder="5439",
                help="Usually 5439",
            ),
            CredentialField(
                "database",
                "Database",
                type="string",
                required=True,
                secret=False,
                placeholder="analytics",
                help="",
            ),
            CredentialField(
                "user",
                "User",
                type="string",
                required=True,
                secret=False,
                placeholder="tether_reader",
                help="A user with SELECT on the tables the queries read",
            ),
            CredentialField(
                "password",
                "Password",
                type="password",
                required=True,
                secret=True,
                placeholder="",
                help="",
            ),
        ),
        settings_model=RedshiftSettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        window: Window | None = None,
    ) -> None:
        assert isinstance(settings, RedshiftSettings)
        self.settings = settings
        self.full = full
        self.window = window
        """A backfill: only rows whose window column is in it, from the lowest cursor, and
        pages without a cursor (``warehouse.WINDOW_COLUMNS``)."""
        self._credentials = dict(credentials)
        self._connection: Any = None
        port = str(credentials.get("port", "")).strip()
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise AuthError(
                f"Redshift credentials: port {port!r} is not a TCP port number.",
                hint="Set 'port' in the credentials file to the cluster's port, usually 5439.",
            )
        self.port = int(port)
        self.where = f"Redshift {credentials.get('host')}:{self.port}/{credentials.get('database')}"

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        query = self._query(capability)
        if self.full or (cursor or {}).get("column") != query.cursor_column:
            cursor = None  # first sync, full re-sync, or the cursor column was changed
        if self.window is not None:
            cursor = None  # a backfill reads its window from the lowest cursor
        self._connection = self._connect()
        try:
            pages = self._pages(capability, query, cursor)
            if self.window is None:
                yield from pages
            else:
                yield from (Page(p.records, None, p.raw_count, p.waited_s, p.notes) for p in pages)
        finally:
            self.close()

    def window_field(self, capability: str) -> str | None:
        """The record field a window filters on (``warehouse.WINDOW_COLUMNS``)."""
        return WINDOW_COLUMNS.get(capability)

    def count(self, capability: str, window: Window | None) -> int | None:
        """``COUNT(*)`` of the distinct records the capability's query yields over ``window``,
        from the lowest cursor (as a full sync reads), in one read-only statement."""
        query = self._query(capability)
        sql, params = self._windowed(capability, query, window)
        self._connection = self._connect()
        try:
            db = self._connection.cursor()
            db.paramstyle = "pyformat"
            column = query.cursor_column
            if column is not None:
                self._run(db, f"SELECT * FROM ({sql}\n) AS tether_query LIMIT 0", params)
                described = {str(d[0]): int(d[1]) for d in db.description or ()}
                if column in described:
                    params["cursor"] = self._minimum(capability, column, described[column])
            self._run(db, count_sql(sql, capability), params)
            row = db.fetchone()
        finally:
            self.close()
        return int(row[0]) if row else 0

    def _query(self, capability: str) -> WarehouseQuery:
        query = self.settings.queries.get(capability)
        if query is None:
            raise DataError(
                f"Redshift capability {capability} has no query.",
                hint=f"Add settings.queries.{capability}.sql (and cursor_column) to the integration.",
            )
        for other in ("@cursor", ":cursor"):  # BigQuery's / other drivers' spelling
            if other in query.sql:
                raise DataError(
                    f"Redshift query for {capability} uses {other}; Redshift queries reference "
                    f"the cursor as {CURSOR_PLACEHOLDER}.",
                    hint=f"Write e.g. 'WHERE updated_at > {CURSOR_PLACEHOLDER}' in "
                    f"settings.queries.{capability}.sql.",
                )
        return query

    def _windowed(
        self, capability: str, query: WarehouseQuery, window: Window | None
    ) -> tuple[str, dict[str, Any]]:
        """The query (without its trailing ``;``) restricted to ``window``, and its parameters."""
        sql = query.sql.strip().rstrip(";")
        params: dict[str, Any] = {"cursor": None}
        if window is None or capability not in WINDOW_COLUMNS:
            return sql, params
        until = None if window.until is None else "%(window_until)s"
        params["window_since"] = _naive_utc(window.since)
        if window.until is not None:
            params["window_until"] = _naive_utc(window.until)
        return windowed(sql, capability, "%(window_since)s", until), params

    def check(self, capabilities: Sequence[str]) -> str:
        """Log in, and describe each capability's query with ``LIMIT 0`` (no row is read)."""
        self._connection = self._connect()
        try:
            db = self._connection.cursor()
            db.paramstyle = "pyformat"
            for capability in capabilities:
                query = self.settings.queries.get(capability)
                if query is None:
                    raise DataError(
                        f"Redshift capability {capability} has no query.",
                        hint=f"Add settings.queries.{capability}.sql to the integration.",
                    )
                sql = query.sql.strip().rstrip(";")
                self._run(db, f"SELECT * FROM ({sql}\n) AS tether_query LIMIT 0", {"cursor": None})
                self._describe(
                    [(str(d[0]), int(d[1])) for d in db.description or ()],
                    capability,
                    query.cursor_column,
                )
        finally:
            self.close()
        return f"login accepted; {len(capabilities)} queries described with LIMIT 0"

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.rollback()  # read-only work: nothing to keep, ends the cursor too
            with contextlib.suppress(Exception):
                connection.close()

    # -- internals ------------------------------------------------------------------------------

    def _connect(self) -> Any:
        import redshift_connector

        c = self._credentials
        try:
            return redshift_connector.connect(
                host=c.get("host"),
                port=self.port,
                database=c.get("database"),
                user=c.get("user"),
                password=c.get("password"),
                ssl=self.settings.ssl,
                timeout=self.settings.timeout_s,
                application_name="tether",
                numeric_to_float=True,  # DECIMAL → float: the state stores DOUBLE
            )
        except Exception as exc:
            raise self._error(exc, "connecting") from None

    def _pages(
        self, capability: str, query: WarehouseQuery, cursor: Cursor | None
    ) -> Iterator[Page]:
        sql, params = self._windowed(capability, query, self.window)
        column = query.cursor_column
        db = self._connection.cursor()
        db.paramstyle = "pyformat"
        # Describe the query (no rows): its columns are checked before any row is read, and the
        # cursor column's type gives a first sync its starting value.
        self._run(db, f"SELECT * FROM ({sql}\n) AS tether_query LIMIT 0", params)
        described = [(str(d[0]), int(d[1])) for d in db.description or ()]
        names, cursor_index = self._describe(described, capability, column)
        value = None if cursor is None else cursor.get("value")
        if column is not None and value is None:
            value = self._minimum(capability, column, dict(described)[column])
        self._run(
            db,
            f"DECLARE {_SERVER_CURSOR} NO SCROLL CURSOR FOR {_select(sql, described, column)}",
            {**params, "cursor": value},
        )
        size = self.settings.page_size
        parsers = [_TEXT_PARSERS.get(oid) for _, oid in described]
        batch = self._fetch(db, size)
        done: Any = None  # the largest cursor value read completely; None keeps the stored one
        while batch:
            following = self._fetch(db, size) if len(batch) == size else []
            if cursor_index is not None:
                done = _completed_value(batch, cursor_index, done, last_page=not following)
            yield Page(
                records=columns_to_records(capability, _columns(names, batch, parsers)),
                cursor=None if done is None else {"column": column, "value": done},
                raw_count=len(batch),
            )
            batch = following
        self._run(db, f"CLOSE {_SERVER_CURSOR}", None)

    def _minimum(self, capability: str, column: str, oid: int) -> Any:
        """The smallest value of the cursor column's type: where a first sync starts."""
        if oid not in _MINIMUM:
            raise DataError(
                f"Redshift query for {capability}: cursor_column '{column}' is {column_kind(oid)}; "
                "it must be a timestamp, date, number or text column.",
                hint=f"Choose another settings.queries.{capability}.cursor_column.",
            )
        return _MINIMUM[oid]

    def _describe(
        self, described: list[tuple[str, int]], capability: str, column: str | None
    ) -> tuple[list[str], int | None]:
        """Check the result's columns; return their names and the cursor column's index."""
        check_columns(capability, {name: column_kind(oid) for name, oid in described}, SERVICE)
        names = [name for name, _ in described]
        if column is not None and column not in names:
            raise DataError(
                f"Redshift query for {capability} does not return its cursor_column '{column}' "
                f"(got: {', '.join(names)}).",
                hint=f"Select '{column}' in settings.queries.{capability}.sql or change "
                "cursor_column.",
            )
        return names, None if column is None else names.index(column)

    def _fetch(self, db: Any, size: int) -> list[list[Any]]:
        # merge_socket_read: the driver reads each row's body and the next header in one call
        self._run(db, f"FETCH FORWARD {size} FROM {_SERVER_CURSOR}", None, merge_socket_read=True)
        return list(db.fetchall())

    def _run(
        self, db: Any, sql: str, params: dict[str, Any] | None, *, merge_socket_read: bool = False
    ) -> None:
        try:
            db.execute(sql, params, merge_socket_read=merge_socket_read)
        except Exception as exc:
            raise self._error(exc, "running the query") from None

    def _error(self, exc: Exception, doing: str) -> ConnectorError:
        """Translate a driver error; the server's message is kept, the password never appears."""
        from redshift_connector.error import InterfaceError, OperationalError

        info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        code = str(info.get("C", ""))
        message = str(info.get("M") or (exc.args[0] if exc.args else exc) or type(exc).__name__)
        if info.get("D"):
            message += f" ({info['D']})"
        password = self._credentials.get("password")
        if password:
            message = message.replace(password, "***")
        text = f"{self.where}: {message}"
        if code == "42501":
            return AuthError(
                f"{text} while {doing}.",
                hint=f"Grant user '{self._credentials.get('user')}' USAGE on the schema and SELECT "
                "on the tables the queries read.",
            )
        if code.startswith("28"):
            return AuthError(
                f"{text} while {doing}.",
                hint="Check user and password in the credentials file.",
            )
        unreachable = (OSError, InterfaceError, OperationalError)
        if code[:2] in ("08", "53", "57") or (not code and isinstance(exc, unreachable)):
            cause = exc.args[1] if len(exc.args) > 1 else None
            detail = f" ({cause})" if isinstance(cause, Exception) else ""
            return UnavailableError(
                f"{text}{detail} while {doing}.",
                hint="Check host and port in the credentials file, that the cluster is running "
                "and reachable from here (security group / VPN), and settings.ssl.",
            )
        return DataError(
            f"{text} while {doing}.",
            hint="Fix the SQL in settings.queries, or check the database name in the credentials.",
        )


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """A window bound as the server compares it: UTC, without a zone (``CAST(… AS TIMESTAMP)``)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _completed_value(batch: list[list[Any]], index: int, done: Any, *, last_page: bool) -> Any:
    """The largest cursor value all of whose rows have been read once ``batch`` is consumed.

    Rows arrive ordered by the cursor column; on all but the last page the rows sharing the
    page's last value may continue on the next page, so that value is not complete yet.
    """
    last = batch[-1][index]
    if last_page:
        return done if last is None else last
    for row in reversed(batch):
        value = row[index]
        if value is not None and value != last:
            return value
    return done


def _select(sql: str, described: list[tuple[str, int]], column: str | None) -> str:
    """The user's query, ordered by its cursor column, with dates, timestamps and decimals sent
    as text.

    The driver decodes every value in Python, and its date, timestamp and decimal decoders cost
    2-6x its text decoder. Decimals are parsed here in bulk; dates and timestamps stay ISO text,
    which canonical records allow and the mapper reads (``_TEXT_PARSERS``).
    Ordering is by the typed column, so text cursor values keep the column's order, and a text
    cursor binds back untyped: the server reads it as the column's type.
    """
    selected = ", ".join(
        f"CAST(tether_query.{quote_identifier(name)} AS VARCHAR) AS {quote_identifier(name)}"
        if oid in _TEXT_PARSERS
        else f"tether_query.{quote_identifier(name)}"
        for name, oid in described
    )
    ordered = f"SELECT {selected} FROM ({sql}\n) AS tether_query"
    if column is not None:
        ordered += f" ORDER BY tether_query.{quote_identifier(column)}"
    return ordered


def _columns(
    names: list[str], batch: list[list[Any]], parsers: list[Callable[[list[Any]], list[Any]] | None]
) -> dict[str, list[Any]]:
    """The fetched rows as columns, text-sent values parsed back (see ``_select``)."""
    transposed = map(list, zip(*batch, strict=True))
    return {
        name: values if parse is None else parse(values)
        for name, values, parse in zip(names, transposed, parsers, strict=True)
    }


def _floats(values: list[Any]) -> list[Any]:
    return [None if v is None else float(v) for v in values]


_TEXT_PARSERS: dict[int, Callable[[list[Any]], list[Any]] | None] = {
    1082: None,  # dates stay 'YYYY-MM-DD' and timestamps ISO text, as canonical records allow
    1114: None,
    1184: None,
    1700: _floats,
}
"""Types sent as text (see ``_select``) and how their text becomes values again."""
