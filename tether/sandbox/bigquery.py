"""A local BigQuery REST server that the real ``google-cloud-bigquery`` client talks to.

Point the client at it with ``client_options={"api_endpoint": server.url}`` and
``AnonymousCredentials()``. It speaks the three calls a query makes:

* ``POST /bigquery/v2/projects/{p}/jobs`` (jobs.insert): runs ``configuration.query.query``
  (standard SQL, named ``@params`` bound from ``queryParameters``) for real against an in-memory
  DuckDB holding the deterministic dataset ``sales`` (tables below);
* ``GET /bigquery/v2/projects/{p}/queries/{jobId}`` (jobs.getQueryResults): one page of the
  result per call (``maxResults``, ``pageToken``), typed schema, rows as ``{"f": [{"v": …}]}``,
  TIMESTAMP cells as int64 microseconds when ``formatOptions.useInt64Timestamp`` is set;
* ``GET /bigquery/v2/projects/{p}/jobs/{jobId}`` (jobs.get).

Tables of dataset ``sales``: ``daily`` (sales history), ``order_lines``, ``inventory``,
``products``, ``channels``, ``prices``, ``forecast_versions``, ``forecasts``. A query result is
kept as a DuckDB table and served a page at a time, so a large result never exists as JSON in
memory all at once. Failures answer in BigQuery's error format (``invalidQuery`` 400,
``accessDenied`` 403, ``notFound`` 404, ``backendError`` 503).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler

if TYPE_CHECKING:
    import duckdb

DATASET = "sales"
CHANNELS = {"online_store": "Online Store", "pos": "Point of Sale", "wholesale": "Wholesale"}
WAREHOUSES = ("WH-EAST", "WH-WEST")
LAST_DAY = dt.date(2025, 12, 31)
"""The newest ``order_date`` in ``sales.daily``: fixed, so the data never depend on the clock."""

MAX_KEPT_JOBS = 32
"""Finished query results kept for paging; older ones are dropped (their pages answer 404)."""


@dataclass
class Scenario:
    rows: int = 2_000
    """Rows in ``sales.daily`` (the sales_history source), spread over ≥ 60 days."""
    skus: int = 50
    """Catalogue size: SKU-00000 … SKU-{skus-1:05d}."""
    unmapped_skus: int = 3
    """Extra source SKUs outside the demo mapping (UNMAPPED-001 …) mixed into every table."""
    orders: int = 300
    """Orders in ``sales.order_lines`` (1–3 lines each; about a tenth are pending)."""
    seed: int = 7
    deny_access: bool = False
    """Every API call answers 403 accessDenied."""
    error_rate_5xx: float = 0.0
    """Share of API calls answered 503 backendError (1.0: every call)."""
    slow_ms: int = 0
    """Delay added to every API call."""
    malformed: bool = False
    """getQueryResults answers 200 with a body that is not JSON."""


@dataclass
class _Job:
    job_id: str
    project: str
    configuration: dict[str, Any]
    created_ms: int
    table: str | None = None
    schema: list[dict[str, str]] = field(default_factory=list)
    total_rows: int = 0
    error: dict[str, Any] | None = None


class BigQuerySandbox(SandboxServer):
    """The server plus its database; ``touch()`` simulates late corrections in the source."""

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(_Handler, scenario, host, port)
        self.db = _build_database(scenario)
        self.jobs: dict[str, _Job] = {}
        self.requests: list[tuple[str, str]] = []
        """(method, path-with-query) of every call, for probing what the client sends."""
        self._lock = threading.Lock()
        self._random = random.Random(scenario.seed)

    def touch(self, table: str = "daily", rows: int = 5) -> list[dict[str, Any]]:
        """Update ``rows`` rows of ``sales.<table>`` one hour past its newest ``updated_at``.

        Returns the touched rows, as a later incremental query should see them.
        """
        cur = self.db.cursor()
        target = f"{DATASET}.{_identifier(table)}"
        cur.execute(
            f"UPDATE {target} SET updated_at = (SELECT max(updated_at) FROM {target}) "
            f"+ INTERVAL 1 HOUR WHERE rowid IN (SELECT rowid FROM {target} "
            f"ORDER BY hash(rowid, {int(self.scenario.seed)}) LIMIT {int(rows)})"
        )
        result = cur.execute(
            f"SELECT * FROM {target} WHERE updated_at = (SELECT max(updated_at) FROM {target})"
        )
        names = [d[0] for d in result.description or []]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]

    def roll_5xx(self) -> bool:
        rate = self.scenario.error_rate_5xx
        if rate <= 0:
            return False
        with self._lock:
            return bool(self._random.random() < rate)

    def add_job(self, job: _Job) -> None:
        with self._lock:
            self.jobs[job.job_id] = job
            while len(self.jobs) > MAX_KEPT_JOBS:
                oldest = next(iter(self.jobs))
                dropped = self.jobs.pop(oldest)
                if dropped.table:
                    self.db.cursor().execute(f"DROP TABLE IF EXISTS {dropped.table}")


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> BigQuerySandbox:
    return BigQuerySandbox(scenario or Scenario(), host, port)


# --------------------------------------------------------------------------- the data


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a table name: {name!r}")
    return name


def _step_coprime(n: int) -> int:
    for step in (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        if n % step:
            return step
    return 1


def _build_database(s: Scenario) -> duckdb.DuckDBPyConnection:
    import duckdb

    db = duckdb.connect(":memory:")
    db.execute(f"CREATE SCHEMA {DATASET}")
    _build_daily(db, s)
    _build_small_tables(db, s)
    return db


def _build_daily(db: duckdb.DuckDBPyConnection, s: Scenario) -> None:
    """Sales history: unique (order_date, sku, channel) rows spread evenly over the days.

    Built by DuckDB from ``range()`` and ``hash(i, seed)`` so millions of rows cost seconds and
    no Python objects; SKUs past the catalogue are the UNMAPPED-00x ones.
    """
    n = max(0, s.rows)
    keys = (s.skus + s.unmapped_skus) * len(CHANNELS)
    days = max(60, -(-n * 3 // (keys * 2)) if keys else 60)
    step = _step_coprime(keys)
    channel_list = ", ".join(f"'{c}'" for c in CHANNELS)
    first_day = LAST_DAY - dt.timedelta(days=days - 1)
    db.execute(
        f"""
        CREATE TABLE {DATASET}.daily AS
        WITH g AS (
            SELECT i, i * {days} // {max(n, 1)} AS d FROM range({n}) t(i)
        ), k AS (
            SELECT i, d, ((i - (d * {n} + {days} - 1) // {days}) * {step} + d * 13) % {keys} AS c
            FROM g
        ), r AS (
            SELECT i, d, c // {len(CHANNELS)} AS s, c % {len(CHANNELS)} AS ch,
                   1 + hash(i, {s.seed}, 'q') % 20 AS q FROM k
        )
        SELECT
            DATE '{first_day.isoformat()}' + d::INTEGER AS order_date,
            CASE WHEN s < {s.skus} THEN 'SKU-' || lpad(s::VARCHAR, 5, '0')
                 ELSE 'UNMAPPED-' || lpad((s - {s.skus} + 1)::VARCHAR, 3, '0') END AS sku,
            [{channel_list}][ch + 1] AS channel,
            q::BIGINT AS quantity,
            round(q * (5 + (s % 40) * 1.25), 2)::DOUBLE AS revenue,
            (DATE '{first_day.isoformat()}' + d::INTEGER + INTERVAL 1 DAY)::TIMESTAMP
                + to_microseconds((hash(i, {s.seed}, 'u') % 86400000000)::BIGINT) AS updated_at
        FROM r
        ORDER BY i
        """
    )


def _sku(rnd: random.Random, s: Scenario) -> str:
    if s.unmapped_skus and rnd.random() < 0.05:
        return f"UNMAPPED-{rnd.randint(1, s.unmapped_skus):03d}"
    return f"SKU-{rnd.randrange(max(1, s.skus)):05d}"


def _build_small_tables(db: duckdb.DuckDBPyConnection, s: Scenario) -> None:
    import pyarrow as pa

    rnd = random.Random(s.seed)
    epoch = dt.datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day) - dt.timedelta(days=60)
    skus = [f"SKU-{i:05d}" for i in range(s.skus)] + [
        f"UNMAPPED-{i:03d}" for i in range(1, s.unmapped_skus + 1)
    ]

    def price_of(sku_index: int) -> Decimal:
        return Decimal(5 + (sku_index % 40) * 1.25).quantize(Decimal("0.01"))

    lines: list[dict[str, Any]] = []
    for o in range(s.orders):
        ordered = epoch + dt.timedelta(seconds=rnd.randrange(60 * 86400))
        status = "pending" if rnd.random() < 0.1 else "paid"
        channel = rnd.choice(list(CHANNELS))
        for li in range(rnd.randint(1, 3)):
            sku = _sku(rnd, s)
            lines.append(
                {
                    "order_id": f"ORD-{o + 1:06d}",
                    "line_id": f"ORD-{o + 1:06d}-{li + 1}",
                    "ordered_at": ordered,
                    "updated_at": ordered + dt.timedelta(minutes=rnd.randrange(1, 600)),
                    "channel": channel,
                    "sku": sku,
                    "quantity": rnd.randint(1, 5),
                    "unit_price": float(price_of(rnd.randrange(40))),
                    "currency": "USD",
                    "financial_status": status,
                    "warehouse": rnd.choice(WAREHOUSES),
                }
            )
    as_of = epoch + dt.timedelta(days=60)
    inventory = [
        {
            "warehouse": wh,
            "sku": sku,
            "on_hand": (on_hand := rnd.randint(0, 500)),
            "available": max(0, on_hand - rnd.randint(0, 20)),
            "as_of": as_of,
            "updated_at": as_of,
        }
        for wh in WAREHOUSES
        for sku in skus
    ]
    products = [
        {
            "sku": sku,
            "title": f"Product {sku}",
            "price": float(price_of(i)),
            "updated_at": epoch + dt.timedelta(hours=i),
        }
        for i, sku in enumerate(skus)
    ]
    channels = [{"channel": c, "name": name, "updated_at": epoch} for c, name in CHANNELS.items()]
    prices = [
        {
            "sku": sku,
            "channel": c,
            "price": price_of(i),
            "currency": "USD",
            "valid_from": epoch.date(),
            "updated_at": epoch,
        }
        for i, sku in enumerate(skus)
        for c in CHANNELS
    ]
    versions = [
        {
            "version": f"v{m}",
            "name": f"Plan {m}",
            "created_at": epoch + dt.timedelta(days=30 * k),
            "updated_at": epoch + dt.timedelta(days=30 * k),
        }
        for k, m in enumerate(("2025-11", "2025-12"))
    ]
    forecasts = [
        {
            "version": v["version"],
            "date": LAST_DAY + dt.timedelta(days=7 * w),
            "sku": sku,
            "channel": c,
            "quantity": rnd.randint(0, 80),
            "updated_at": v["updated_at"],
        }
        for v in versions
        for w in range(1, 5)
        for sku in skus[:10]
        for c in CHANNELS
    ]
    tables = {
        "order_lines": lines,
        "inventory": inventory,
        "products": products,
        "channels": channels,
        "prices": prices,
        "forecast_versions": versions,
        "forecasts": forecasts,
    }
    for name, rows in tables.items():
        arrow = pa.Table.from_pylist(rows)  # noqa: F841 - read by DuckDB's replacement scan
        db.execute(f"CREATE TABLE {DATASET}.{name} AS SELECT * FROM arrow")
    db.execute(f"ALTER TABLE {DATASET}.prices ALTER price TYPE DECIMAL(12, 2)")


# --------------------------------------------------------------------------- SQL dialect


_LITERAL_OR_TOKEN = re.compile(r"""('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")|`([^`]*)`|@@?(\w+)""")


def translate_sql(sql: str) -> str:
    """BigQuery standard SQL → DuckDB, enough for the queries users point Tether at.

    Backtick paths drop their project (```p.sales.daily``` → ``sales.daily``), named parameters
    become DuckDB's (``@cursor`` → ``$cursor``); string literals are left alone.
    """

    def replace(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        if m.group(2) is not None:
            parts = [p for p in re.split(r"[.`]+", m.group(2)) if p]
            if len(parts) == 3:
                parts = parts[1:]
            return ".".join(f'"{p}"' for p in parts)
        if m.group(0).startswith("@@"):
            return m.group(0)
        return f"${m.group(3)}"

    out = _LITERAL_OR_TOKEN.sub(replace, sql)
    # Unquoted project.dataset.table (project ids may not contain '-' unquoted anyway).
    return re.sub(rf"\b[A-Za-z][\w]*\.({DATASET})\.(\w+)\b", r"\1.\2", out)


def _parameter_value(param: dict[str, Any]) -> Any:
    kind = str(param.get("parameterType", {}).get("type", "STRING")).upper()
    raw = (param.get("parameterValue") or {}).get("value")
    if raw is None:
        return None
    if kind in ("INT64", "INTEGER"):
        return int(raw)
    if kind in ("FLOAT64", "FLOAT"):
        return float(raw)
    if kind in ("NUMERIC", "BIGNUMERIC"):
        return Decimal(raw)
    if kind in ("BOOL", "BOOLEAN"):
        return str(raw).lower() == "true"
    if kind == "DATE":
        return dt.date.fromisoformat(raw)
    if kind in ("TIMESTAMP", "DATETIME"):
        value = dt.datetime.fromisoformat(str(raw).replace(" UTC", "+00:00").replace("Z", "+00:00"))
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if kind == "STRING":
        return str(raw)
    raise _ApiError(400, "invalidQuery", f"Unsupported query parameter type {kind}")


def _bq_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t in ("VARCHAR", "UUID") or t.startswith("ENUM"):
        return "STRING"
    if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "INTEGER"
    if t in ("USMALLINT", "UTINYINT"):
        return "INTEGER"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return "FLOAT"
    if t.startswith("DECIMAL"):
        scale = int(re.findall(r"\d+", t)[1]) if len(re.findall(r"\d+", t)) > 1 else 0
        return "NUMERIC" if scale <= 9 else "BIGNUMERIC"
    if t == "BOOLEAN":
        return "BOOLEAN"
    if t == "DATE":
        return "DATE"
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    if t == "TIME":
        return "TIME"
    if t == "BLOB":
        return "BYTES"
    return "STRING"


def _cell_sql(column: str, bq_type: str, int64_timestamps: bool) -> str:
    col = f'"{column}"'
    if bq_type == "TIMESTAMP":
        if int64_timestamps:
            return f"epoch_us({col})::VARCHAR"
        return f"printf('%.6f', epoch_us({col}) / 1e6)"
    if bq_type == "BOOLEAN":
        return f"CASE WHEN {col} THEN 'true' WHEN NOT {col} THEN 'false' END"
    if bq_type == "BYTES":
        return f"to_base64({col})"
    return f"{col}::VARCHAR"


# --------------------------------------------------------------------------- HTTP


_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
}


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
                "status": _STATUS.get(self.code, "UNAVAILABLE"),
            }
        }

    def result(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "location": "query"}


_ROUTE = re.compile(r"^/bigquery/v2/projects/([^/]+)/(jobs|queries)(?:/([^/]+))?$")


class _Handler(SandboxHandler):
    server: BigQuerySandbox
    disable_nagle_algorithm = False  # as it always ran; the other sandboxes turn Nagle off
    content_type = "application/json; charset=UTF-8"
    content_type_header = "content-type"
    content_length_header = "content-length"  # lowercase, as this sandbox always wrote them

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        self.server.requests.append((method, self.path))
        s: Scenario = self.server.scenario
        try:
            if s.slow_ms:
                time.sleep(s.slow_ms / 1000)
            if self.server.roll_5xx():
                self._json(503, _backend_error())
                return
            parts = urlsplit(self.path)
            match = _ROUTE.match(parts.path)
            if match is None:
                raise _ApiError(404, "notFound", f"Not found: URL {parts.path}")
            project, collection, job_id = match.groups()
            if s.deny_access:
                raise _ApiError(
                    403,
                    "accessDenied",
                    f"Access Denied: Project {project}: User does not have bigquery.jobs.create "
                    f"permission in project {project}.",
                )
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if method == "POST" and collection == "jobs" and job_id is None:
                self._json(200, self._insert(project, json.loads(body or b"{}")))
            elif method == "GET" and collection == "jobs" and job_id:
                self._json(200, _job_resource(self._job(job_id)))
            elif method == "GET" and collection == "queries" and job_id:
                if s.malformed:
                    self._send(200, b'{"kind": "bigquery#getQueryResultsResponse", "rows": [')
                    return
                self._json(200, self._results(self._job(job_id), query))
            else:
                raise _ApiError(404, "notFound", f"Not found: {method} {parts.path}")
        except _ApiError as exc:
            self._json(exc.code, exc.body())
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, _ApiError(400, "invalid", f"Invalid request: {exc}").body())

    def _job(self, job_id: str) -> _Job:
        job = self.server.jobs.get(job_id)
        if job is None:
            raise _ApiError(404, "notFound", f"Not found: Job {job_id}")
        return job

    def _insert(self, project: str, resource: dict[str, Any]) -> dict[str, Any]:
        reference = resource.get("jobReference") or {}
        job_id = reference.get("jobId") or f"job_{uuid.uuid4().hex}"
        if job_id in self.server.jobs:
            raise _ApiError(409, "duplicate", f"Already Exists: Job {project}:US.{job_id}")
        configuration = resource.get("configuration") or {}
        job = _Job(job_id, project, configuration, int(time.time() * 1000))
        query = configuration.get("query") or {}
        if configuration.get("dryRun"):
            return self._dry_run(job, query)
        try:
            if query.get("useLegacySql"):
                raise _ApiError(400, "invalidQuery", "The sandbox speaks standard SQL only.")
            _run_query(self.server, job, str(query.get("query") or ""), query)
        except _ApiError as exc:
            job.error = {"code": exc.code, **exc.result(), "body": exc.body()}
        self.server.add_job(job)
        return _job_resource(job)

    def _dry_run(self, job: _Job, query: dict[str, Any]) -> dict[str, Any]:
        """``configuration.dryRun``: validate and estimate, run nothing, keep no job.

        As in BigQuery, a query that would fail fails the insert itself (HTTP 4xx), and a valid
        one comes back DONE with ``statistics.query.totalBytesProcessed`` and the schema.
        """
        if query.get("useLegacySql"):
            raise _ApiError(400, "invalidQuery", "The sandbox speaks standard SQL only.")
        _run_query(self.server, job, str(query.get("query") or ""), query)
        cur = self.server.db.cursor()
        try:
            cur.execute(f"DROP TABLE IF EXISTS {job.table}")
        finally:
            cur.close()
        resource = _job_resource(job)
        width = max(1, len(job.schema))
        resource["statistics"]["query"].update(
            totalBytesProcessed=str(job.total_rows * width * 8),
            schema={"fields": job.schema},
        )
        return resource

    def _results(self, job: _Job, query: dict[str, str]) -> dict[str, Any]:
        if job.error is not None:
            raise _ApiError(job.error["code"], job.error["reason"], job.error["message"])
        try:
            offset = int(query.get("pageToken") or query.get("startIndex") or 0)
        except ValueError:
            raise _ApiError(400, "invalid", "Invalid page token") from None
        limit = int(query.get("maxResults") or 10_000)
        int64 = query.get("formatOptions.useInt64Timestamp", "").lower() == "true"
        response: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "etag": job.job_id,
            "schema": {"fields": job.schema},
            "jobReference": _reference(job),
            "totalRows": str(job.total_rows),
            "totalBytesProcessed": "0",
            "jobComplete": True,
            "cacheHit": False,
        }
        if limit > 0 and offset < job.total_rows and job.table:
            response["rows"] = _RawJson(_page_json(self.server, job, offset, limit, int64))
            if offset + limit < job.total_rows:
                response["pageToken"] = str(offset + limit)
        return response

    def _encode(self, payload: Any) -> bytes:
        return _dumps(payload).encode()


class _RawJson(str):
    """Pre-encoded JSON spliced into a response as is (the rows, rendered by DuckDB)."""


def _dumps(payload: dict[str, Any]) -> str:
    raw = {k: v for k, v in payload.items() if isinstance(v, _RawJson)}
    rest = {k: v for k, v in payload.items() if not isinstance(v, _RawJson)}
    text = json.dumps(rest)
    for key, value in raw.items():
        text = f'{text[:-1]}, "{key}": {value}}}'
    return text


def _backend_error() -> dict[str, Any]:
    exc = _ApiError(
        503, "backendError", "Error encountered during execution. Retrying may solve the problem."
    )
    return exc.body()


def _reference(job: _Job) -> dict[str, str]:
    return {"projectId": job.project, "jobId": job.job_id, "location": "US"}


def _job_resource(job: _Job) -> dict[str, Any]:
    status: dict[str, Any] = {"state": "DONE"}
    if job.error is not None:
        result = {k: job.error[k] for k in ("reason", "message", "location")}
        status = {"state": "DONE", "errorResult": result, "errors": [result]}
    return {
        "kind": "bigquery#job",
        "id": f"{job.project}:US.{job.job_id}",
        "jobReference": _reference(job),
        "configuration": job.configuration,
        "status": status,
        "statistics": {
            "creationTime": str(job.created_ms),
            "startTime": str(job.created_ms),
            "endTime": str(job.created_ms),
            "query": {"totalBytesProcessed": "0", "statementType": "SELECT"},
        },
        "user_email": "sandbox@tether.invalid",
    }


def _run_query(server: BigQuerySandbox, job: _Job, sql: str, query: dict[str, Any]) -> None:
    import duckdb

    params = {
        str(p["name"]): _parameter_value(p)
        for p in query.get("queryParameters") or []
        if p.get("name")
    }
    translated = translate_sql(sql)
    used = set(re.findall(r"\$(\w+)", _LITERAL_OR_TOKEN.sub("", translated)))
    for name in sorted(used - set(params)):
        raise _ApiError(400, "invalidQuery", f"Query parameter '{name}' not found")
    # BigQuery ignores parameters the query does not use; DuckDB would refuse them.
    params = {k: v for k, v in params.items() if k in used}
    table = f"job_{uuid.uuid4().hex}"
    cur = server.db.cursor()
    try:
        cur.execute(f"CREATE TABLE {table} AS {translated}", params or None)
    except duckdb.CatalogException as exc:
        missing = re.search(r"Table with name (\S+) does not exist", str(exc))
        if missing:
            name = missing.group(1)
            raise _ApiError(
                404,
                "notFound",
                f"Not found: Table {job.project}:{DATASET}.{name} was not found in location US",
            ) from None
        raise _ApiError(400, "invalidQuery", _first_line(exc)) from None
    except duckdb.Error as exc:
        raise _ApiError(400, "invalidQuery", _first_line(exc)) from None
    described = cur.execute(f"DESCRIBE {table}").fetchall()
    job.table = table
    job.schema = [
        {"name": str(row[0]), "type": _bq_type(str(row[1])), "mode": "NULLABLE"}
        for row in described
    ]
    count = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
    job.total_rows = int(count[0]) if count else 0


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _page_json(server: BigQuerySandbox, job: _Job, offset: int, limit: int, int64: bool) -> str:
    cells = ", ".join(f"{{'v': {_cell_sql(f['name'], f['type'], int64)}}}" for f in job.schema)
    rows = (
        server.db.cursor()
        .execute(
            f"SELECT to_json({{'f': [{cells}]}})::VARCHAR FROM {job.table} "
            f"WHERE rowid >= {offset} AND rowid < {offset + limit} ORDER BY rowid"
        )
        .fetchall()
    )
    return "[" + ",".join(r[0] for r in rows) + "]"
