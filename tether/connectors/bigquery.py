"""BigQuery connector: one user-written query per capability, fetched incrementally.

``settings.queries.<capability>`` holds the SQL and its ``cursor_column``. The cursor travels as
the query parameter ``@cursor`` (a ``ScalarQueryParameter`` of ``cursor_type``, TIMESTAMP by
default), never formatted into the SQL; the first or a full sync binds the lowest value of that
type (1970-01-01 for time types), so ``WHERE updated_at > @cursor`` returns everything. After
each result page the cursor is the largest ``cursor_column`` value seen so far, so the query
should ``ORDER BY`` the cursor column for a crash mid-result to resume without gaps.

Results are read a page at a time (``job.result(page_size=…)`` over ``.pages``, page tokens on
the wire); each page becomes one ``Page`` of canonical records (``warehouse.columns_to_records``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tether.connectors.base import (
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    Window,
)
from tether.connectors.http import check_base_url
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
from tether.errors import (
    AuthError,
    ConnectorError,
    DataError,
    RateLimitedError,
    TetherError,
    UnavailableError,
)
from tether.prefetch import prefetch

if TYPE_CHECKING:
    from google.cloud import bigquery

CursorType = Literal["TIMESTAMP", "DATETIME", "DATE", "INT64", "NUMERIC", "STRING"]

SERVICE = "BigQuery"

KINDS = {
    "STRING": "text",
    "INTEGER": "number",
    "INT64": "number",
    "FLOAT": "number",
    "FLOAT64": "number",
    "NUMERIC": "number",
    "BIGNUMERIC": "number",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "DATETIME": "timestamp",
}
"""BigQuery result types → the kinds ``warehouse.check_columns`` speaks."""

STANDARD_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
"""Legacy type names in REST schemas → the standard SQL names of query parameters."""

LOWEST: dict[str, Any] = {
    "TIMESTAMP": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    "DATETIME": dt.datetime(1970, 1, 1),
    "DATE": dt.date(1970, 1, 1),
    "INT64": -(2**63),
    "NUMERIC": Decimal("-99999999999999999999999999999.999999999"),
    "STRING": "",
}
"""The first (or full) sync binds these, so ``col > @cursor`` matches every row."""


class BigQueryQuery(WarehouseQuery):
    cursor_type: CursorType = "TIMESTAMP"
    """BigQuery type of ``cursor_column``: the type ``@cursor`` is bound as."""


class BigQuerySettings(WarehouseSettings):
    queries: dict[str, BigQueryQuery] = Field(default_factory=dict)  # type: ignore[assignment]
    location: str | None = None
    """Where the dataset lives (e.g. ``US``, ``EU``); ``None`` lets BigQuery decide."""
    retry_deadline_s: float = Field(default=120.0, gt=0, le=3600)
    """How long the client keeps retrying 5xx / connection errors before the sync fails."""


class BigQueryConnector:
    preload: ClassVar[tuple[str, ...]] = ("google.cloud.bigquery", "google.auth.credentials")
    """Modules fetching imports, imported ahead by the daemon (``registry.preload``)."""
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="bigquery",
        display_name="BigQuery",
        description="Google Cloud data warehouse for sales history and other data",
        capabilities=WAREHOUSE_CAPABILITIES,
        credential_fields=(
            CredentialField(
                "project_id",
                "Project ID",
                type="string",
                required=True,
                secret=False,
                placeholder="my-gcp-project",
                help="The Google Cloud project that runs the queries",
            ),
            CredentialField(
                "service_account_json",
                "Service Account JSON",
                type="json",
                required=True,
                secret=True,
                placeholder='{"type": "service_account", …}',
                help="A key of a service account with BigQuery Job User + Data Viewer",
            ),
        ),
        settings_model=BigQuerySettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        window: Window | None = None,
    ) -> None:
        assert isinstance(settings, BigQuerySettings)
        self.settings = settings
        self.credentials = credentials
        self.full = full
        self.window = window
        """A backfill: only rows whose window column is in it, from the lowest cursor, and
        pages without a cursor (``warehouse.WINDOW_COLUMNS``)."""
        self._client: bigquery.Client | None = None

    # ------------------------------------------------------------------ fetch

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        query = self._query(capability)
        client = self.client()
        column = query.cursor_column
        if column is not None and cursor and not self.full and self.window is None:
            kind: str = str(cursor.get("type") or query.cursor_type)
            start = _cursor_value(kind, cursor.get("value"), capability)
        else:
            kind, start = query.cursor_type, LOWEST[query.cursor_type]
        try:
            pages = self._pages(client, capability, query, kind, start)
            if self.window is None:
                yield from pages
            else:
                yield from (Page(p.records, None, p.raw_count, p.waited_s, p.notes) for p in pages)
        except TetherError:
            raise
        except Exception as exc:
            raise _translate(exc, capability) from exc

    def window_field(self, capability: str) -> str | None:
        """The record field a window filters on (``warehouse.WINDOW_COLUMNS``)."""
        return WINDOW_COLUMNS.get(capability)

    def count(self, capability: str, window: Window | None) -> int | None:
        """``COUNT(*)`` of the distinct records the capability's query yields over ``window``
        (from the lowest ``@cursor``, as a full sync reads), run as one BigQuery job."""
        from google.cloud import bigquery

        query = self._query(capability)
        params = self._window_params(capability, window)
        if query.cursor_column is not None:
            kind = query.cursor_type
            params.append(bigquery.ScalarQueryParameter("cursor", kind, LOWEST[kind]))
        sql = count_sql(self._sql(capability, query, window), capability, quote_id="`")
        try:
            job = self.client().query(
                sql,
                job_config=bigquery.QueryJobConfig(query_parameters=params, use_legacy_sql=False),
                location=self.settings.location,
                job_retry=None,
            )
            rows = list(job.result())
        except TetherError:
            raise
        except Exception as exc:
            raise _translate(exc, capability) from exc
        return int(rows[0][0]) if rows else 0

    def _sql(self, capability: str, query: BigQueryQuery, window: Window | None) -> str:
        if window is None:
            return query.sql
        until = None if window.until is None else "@window_until"
        return windowed(query.sql, capability, "@window_since", until, quote_id="`")

    def _window_params(self, capability: str, window: Window | None) -> list[Any]:
        """``@window_since`` / ``@window_until`` as TIMESTAMPs, when the query uses them."""
        from google.cloud import bigquery

        if window is None or capability not in WINDOW_COLUMNS:
            return []
        params = [bigquery.ScalarQueryParameter("window_since", "TIMESTAMP", window.since)]
        if window.until is not None:
            params.append(bigquery.ScalarQueryParameter("window_until", "TIMESTAMP", window.until))
        return params

    def _pages(
        self,
        client: bigquery.Client,
        capability: str,
        query: BigQueryQuery,
        kind: str,
        start: Any,
    ) -> Iterator[Page]:
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        deadline = self.settings.retry_deadline_s
        retry = DEFAULT_RETRY.with_timeout(deadline)
        params = self._window_params(capability, self.window)
        if query.cursor_column is not None:
            params.append(bigquery.ScalarQueryParameter("cursor", kind, start))
        job = client.query(
            self._sql(capability, query, self.window),
            job_config=bigquery.QueryJobConfig(query_parameters=params, use_legacy_sql=False),
            location=self.settings.location,
            retry=retry,
            # Requests are retried (5xx, connection errors) up to the deadline; a failed job is
            # not re-run here: the sync fails and its next run starts from the committed cursor.
            job_retry=None,
        )
        result = job.result(page_size=self.settings.page_size, retry=retry, job_retry=None)
        names = [f.name for f in result.schema]
        check_columns(capability, _kinds(result.schema), SERVICE)
        cursor_index = self._cursor_index(capability, query, kind, result.schema)
        converters = [_converter(f) for f in result.schema]
        high = start
        # The page's raw JSON, decoded column by column: the client's per-row ``Row`` objects
        # cost ~10x more (a deepcopy per row, strptime per date). The next page is fetched in a
        # thread while this one is decoded, hiding the round trip.
        raw_pages = ((page.raw_page or {}).get("rows") or [] for page in result.pages)
        for raw in prefetch(raw_pages, depth=1, name="bigquery-prefetch"):
            if not raw:
                continue
            cells = [c["v"] for r in raw for c in r["f"]]
            if len(cells) != len(raw) * len(names):
                raise DataError(
                    f"Malformed response from {SERVICE} for {capability}: rows do not have "
                    f"{len(names)} cells like the schema.",
                    hint="The service sent an unexpected body; retry later or contact its support.",
                )
            width = len(names)
            columns = [_column(cells[i::width], convert) for i, convert in enumerate(converters)]
            page_cursor: Cursor | None = None
            if cursor_index is not None:
                seen = [v for v in columns[cursor_index] if v is not None]
                if seen:
                    high = max(high, *seen)
                page_cursor = {"value": _cursor_json(high), "type": kind}
            records = columns_to_records(capability, dict(zip(names, columns, strict=True)))
            yield Page(records=records, cursor=page_cursor)

    def check(self, capabilities: Sequence[str]) -> str:
        """A dry run of each capability's query: credentials, access and SQL, no bytes billed."""
        from google.cloud import bigquery

        client = self.client()
        estimated = 0
        for capability in capabilities:
            query = self._query(capability)
            params = []
            if query.cursor_column is not None:
                kind = query.cursor_type
                params.append(bigquery.ScalarQueryParameter("cursor", kind, LOWEST[kind]))
            config = bigquery.QueryJobConfig(
                query_parameters=params, use_legacy_sql=False, dry_run=True, use_query_cache=False
            )
            try:
                job = client.query(query.sql, job_config=config, location=self.settings.location)
            except TetherError:
                raise
            except Exception as exc:
                raise _translate(exc, capability) from exc
            estimated += int(job.total_bytes_processed or 0)
        return (
            f"dry run of {len(capabilities)} queries accepted "
            f"(a full sync would process about {estimated:,} bytes)"
        )

    def _cursor_index(
        self,
        capability: str,
        query: BigQueryQuery,
        kind: str,
        schema: list[bigquery.SchemaField],
    ) -> int | None:
        column = query.cursor_column
        if column is None:
            return None
        for index, f in enumerate(schema):
            if f.name == column:
                got = STANDARD_TYPES.get(f.field_type, f.field_type)
                if got != kind:
                    raise DataError(
                        f"{SERVICE} query for {capability}: cursor column '{column}' is {got}, "
                        f"but the cursor is bound as {kind}.",
                        hint=f"Set settings.queries.{capability}.cursor_type: {got} "
                        "(after a type change, `tether reset` starts a full re-sync).",
                    )
                return index
        raise DataError(
            f"{SERVICE} query for {capability} does not return its cursor column '{column}'.",
            hint=f"Select '{column}' in settings.queries.{capability}.sql or change cursor_column.",
        )

    def _query(self, capability: str) -> BigQueryQuery:
        query = self.settings.queries.get(capability)
        if query is None:
            raise TetherError(
                f"{SERVICE}: capability '{capability}' is enabled but has no query.",
                hint=f"Add settings.queries.{capability} with `sql:` and `cursor_column:` to the "
                "integration file (see docs/bigquery.md).",
            )
        return query

    # ------------------------------------------------------------------ client

    def client(self) -> bigquery.Client:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> bigquery.Client:
        from google.cloud import bigquery

        project = str(self.credentials.get("project_id") or "").strip()
        if not project:
            raise AuthError(
                f"{SERVICE} credentials have no project_id.",
                hint="Add project_id to the credentials file (sops edit) and apply.",
            )
        if self.settings.base_url:
            from google.auth.credentials import AnonymousCredentials

            return bigquery.Client(
                project=project,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": check_base_url(self.settings.base_url)},
            )
        return bigquery.Client(project=project, credentials=self._service_account())

    def _service_account(self) -> Any:
        from google.oauth2 import service_account

        raw: Any = self.credentials.get("service_account_json")
        hint = (
            "Paste the service account's JSON key as service_account_json in the credentials "
            "file (sops edit), then apply."
        )
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                # The message names the position only; the secret itself is never echoed.
                where = f"line {exc.lineno} column {exc.colno}"
                raise AuthError(
                    f"{SERVICE} credentials: service_account_json is not valid JSON ({where}).",
                    hint=hint,
                ) from None
        if not isinstance(raw, dict):
            raise AuthError(
                f"{SERVICE} credentials: service_account_json is missing or not a JSON object.",
                hint=hint,
            )
        try:
            return service_account.Credentials.from_service_account_info(raw)  # type: ignore[no-untyped-call]
        except (ValueError, KeyError):
            missing = ", ".join(
                k for k in ("client_email", "token_uri", "private_key") if k not in raw
            )
            detail = f"missing {missing}" if missing else "the private key could not be read"
            raise AuthError(
                f"{SERVICE} credentials: service_account_json is not a usable service account "
                f"key ({detail}).",
                hint=hint,
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None


# ---------------------------------------------------------------------- helpers


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _timestamp(value: str) -> dt.datetime:
    """TIMESTAMP cells: int64 microseconds (``useInt64Timestamp``) or float seconds."""
    try:
        return _EPOCH + dt.timedelta(microseconds=int(value))
    except ValueError:
        return _EPOCH + dt.timedelta(microseconds=round(float(value) * 1_000_000))


def _identity(value: Any) -> Any:
    return value


_DATE = dt.date.fromisoformat


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "STRING": str,
    "INTEGER": int,
    "INT64": int,
    "FLOAT": float,
    "FLOAT64": float,
    "NUMERIC": Decimal,
    "BIGNUMERIC": Decimal,
    "BOOLEAN": lambda v: str(v).lower() == "true",
    "BOOL": lambda v: str(v).lower() == "true",
    "DATE": _DATE,
    "DATETIME": dt.datetime.fromisoformat,
    "TIME": dt.time.fromisoformat,
    "TIMESTAMP": _timestamp,
}
"""REST cell strings → Python values. Nested / repeated / JSON cells pass through raw."""


def _column(values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    if convert is str or convert is _identity:
        return values
    if convert is _DATE:  # a page of daily rows holds a few distinct days: convert each once
        memo = {v: None if v is None else _DATE(v) for v in set(values)}
        return [memo[v] for v in values]
    if None in values:
        return [None if v is None else convert(v) for v in values]
    return list(map(convert, values))


def _converter(f: bigquery.SchemaField) -> Callable[[Any], Any]:
    if f.mode == "REPEATED":
        return _identity
    return CONVERTERS.get(f.field_type, _identity)


def _kinds(schema: list[bigquery.SchemaField]) -> dict[str, str]:
    return {f.name: KINDS.get(f.field_type, f.field_type.lower()) for f in schema}


def _cursor_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cursor_value(kind: str, value: Any, capability: str) -> Any:
    parse: dict[str, Callable[[Any], Any]] = {
        "TIMESTAMP": lambda v: dt.datetime.fromisoformat(str(v).replace("Z", "+00:00")),
        "DATETIME": lambda v: dt.datetime.fromisoformat(str(v)),
        "DATE": lambda v: dt.date.fromisoformat(str(v)),
        "INT64": int,
        "NUMERIC": lambda v: Decimal(str(v)),
        "STRING": str,
    }
    if kind not in parse:
        raise DataError(
            f"{SERVICE}: stored cursor for {capability} has an unknown type {kind!r}.",
            hint="Reset the integration (`tether reset`) to start a full re-sync.",
        )
    if value is None:
        return LOWEST[kind]
    try:
        return parse[kind](value)
    except (ValueError, ArithmeticError):
        raise DataError(
            f"{SERVICE}: stored cursor for {capability} is not a valid {kind} ({value!r}).",
            hint="Reset the integration (`tether reset`) to start a full re-sync.",
        ) from None


def _translate(exc: Exception, capability: str) -> ConnectorError:
    """Map client exceptions to the error a user can act on."""
    import concurrent.futures

    import requests
    from google.api_core import exceptions as gexc

    where = f"{SERVICE} query for {capability}"
    if isinstance(exc, gexc.RetryError):
        cause = exc.cause
        detail = _message(cause) if isinstance(cause, gexc.GoogleAPICallError) else str(cause)
        return UnavailableError(
            f"{where} kept failing until the retry deadline: {detail}.",
            hint="The service or network is having trouble; the next sync retries "
            "(settings.retry_deadline_s sets how long to keep trying).",
        )
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return DataError(
            f"Malformed response from {SERVICE} for {capability}: the body is not JSON ({exc}).",
            hint="The service sent an unexpected body; retry later or contact its support.",
        )
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError):
        return UnavailableError(
            f"Could not connect to {SERVICE} for {capability}: {exc}.",
            hint="Check settings.base_url / the network; the next sync retries.",
        )
    if isinstance(exc, concurrent.futures.TimeoutError):
        return UnavailableError(
            f"{where} timed out.", hint="The next sync retries; simplify the query if it persists."
        )
    if isinstance(exc, gexc.GoogleAPICallError):
        reasons = {str(e.get("reason")) for e in exc.errors or [] if isinstance(e, dict)}
        message = _message(exc)
        if reasons & {"rateLimitExceeded", "quotaExceeded", "jobRateLimitExceeded"}:
            return RateLimitedError(
                f"{where} hit a BigQuery quota or rate limit: {message}",
                hint="The next sync resumes where this one stopped.",
            )
        if isinstance(exc, gexc.Unauthorized | gexc.Forbidden):
            return AuthError(
                f"{where} was denied ({exc.code}): {message}",
                hint="Grant the service account BigQuery Job User on the project and Data Viewer "
                "on the dataset, or update the credentials file (sops edit) and apply.",
            )
        if isinstance(exc, gexc.NotFound):
            return DataError(
                f"{where} failed: {message}",
                hint=f"Check the dataset/table names in settings.queries.{capability}.sql and "
                "settings.location.",
            )
        if isinstance(exc, gexc.BadRequest):
            return DataError(
                f"{where} is invalid: {message}",
                hint=f"Fix settings.queries.{capability}.sql (try it in the BigQuery console "
                "with @cursor set).",
            )
        if isinstance(exc, gexc.ServerError):
            return UnavailableError(
                f"{where} failed on the BigQuery side ({exc.code}): {message}",
                hint="The service is having trouble; the next sync retries.",
            )
        return DataError(f"{where} failed ({exc.code}): {message}")
    if isinstance(exc, ValueError | KeyError | TypeError | IndexError):
        return DataError(
            f"Malformed response from {SERVICE} for {capability}: {type(exc).__name__}: "
            f"{str(exc)[:160]}",
            hint="The service sent an unexpected body; retry later or contact its support.",
        )
    raise exc


def _message(exc: Any) -> str:
    """The server's own message, without the client's job-id footer."""
    errors = getattr(exc, "errors", None) or []
    for e in errors:
        if isinstance(e, dict) and e.get("message"):
            return str(e["message"])
    return str(getattr(exc, "message", exc)).split("\n\nLocation:")[0]
