"""NetSuite: one SuiteQL query per capability, over SuiteTalk REST, on the declarative REST core.

Like BigQuery and Redshift (``warehouse.py``), each enabled capability is a query the user writes
in ``settings.queries.<capability>`` with an incremental ``cursor_column`` — for sales history a
default query ships (``DEFAULT_QUERIES``). The REST core does the HTTP: token-based auth (OAuth
1.0a HMAC-SHA256 with the account id as ``realm``, ``auth/oauth1.py``), ``POST
/services/rest/query/v1/suiteql`` with ``Prefer: transient``, ``limit``/``offset`` paging until
``hasMore`` is false, the shared retry/429/error policy. What no spec can say lives here:

* SuiteQL over REST has no bind parameters, so ``:cursor`` in the query is replaced by a literal
  Tether writes itself — ``TO_TIMESTAMP('2026-01-02 03:04:05', 'YYYY-MM-DD HH24:MI:SS')`` built
  from a parsed timestamp, never from text the service sent.
* NetSuite leaves NULL columns out of each row and lower-cases column names; rows become
  columns with ``None`` where a row lacks one.
* One query can be paged through for at most 100,000 rows; past that the query is asked again
  from the newest cursor value seen (so it must ``ORDER BY`` its cursor column).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from tether.connectors.base import CredentialField, Cursor, Page, ServiceSettings, ServiceSpec
from tether.connectors.rest.auth.oauth1 import OAuth1Auth
from tether.connectors.rest.connector import SpecConnector
from tether.connectors.rest.paginate import Pager, PageRequest
from tether.connectors.rest.records import RecordMapper
from tether.connectors.rest.spec import ApiSpec, OffsetPaginator, Resource
from tether.connectors.warehouse import (
    REQUIRED_COLUMNS,
    WAREHOUSE_CAPABILITIES,
    WarehouseQuery,
    columns_to_records,
)
from tether.errors import DataError, TetherError

SERVICE = "NetSuite"
PATH = "/services/rest/query/v1/suiteql"
MAX_LIMIT = 1000
ROW_CAP = 100_000
"""SuiteTalk REST pages through at most this many rows of one query."""
PLACEHOLDER = ":cursor"
LOWEST = datetime(1970, 1, 1, tzinfo=UTC)
TIME_FORMAT = "YYYY-MM-DD HH24:MI:SS"

DEFAULT_QUERIES = {
    "sales_history": WarehouseQuery(
        sql=(
            "SELECT TO_CHAR(t.trandate, 'YYYY-MM-DD') AS date, i.itemid AS sku, "
            "COALESCE(t.custbody_channel, 'netsuite') AS channel, "
            "SUM(-tl.quantity) AS quantity, SUM(-tl.netamount) AS revenue, "
            "TO_CHAR(MAX(t.lastmodifieddate), 'YYYY-MM-DD HH24:MI:SS') AS lastmodified "
            "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
            "JOIN item i ON i.id = tl.item "
            "WHERE t.type = 'SalesOrd' AND t.status NOT IN ('A', 'C') "
            "AND tl.mainline = 'F' AND tl.taxline = 'F' "
            "AND t.trandate IN (SELECT m.trandate FROM transaction m "
            "WHERE m.type = 'SalesOrd' AND m.lastmodifieddate > :cursor) "
            "GROUP BY t.trandate, i.itemid, t.custbody_channel ORDER BY lastmodified"
        ),
        cursor_column="lastmodified",
    )
}
"""Sales orders' item lines (not pending approval, not cancelled) per day, item and channel.
Each run re-adds up every day in which some sales order changed since the cursor, so a day's
row is always its whole total, never the sum of only the orders that changed. Item lines of a
sales order carry negative quantities and amounts in NetSuite, hence the minus signs.
``custbody_channel`` is the sandbox's (and a common) custom body field; use the account's own."""


class NetSuiteSettings(ServiceSettings):
    account_id: str = Field(pattern=r"^[0-9A-Za-z_]+$")
    """The account id as Setup › Company › Company Information shows it: ``1234567`` or, for a
    sandbox account, ``1234567_SB1``. It is the OAuth ``realm`` and names the REST host."""
    queries: dict[str, WarehouseQuery] = Field(default_factory=dict)
    page_size: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    wait_budget_s: float = Field(default=60.0, ge=0)
    """Seconds one capability may wait on 429s (concurrency limit) before stopping."""
    row_cap: int = Field(default=ROW_CAP, ge=1, le=ROW_CAP)
    """Rows one query may be paged through (SuiteTalk REST's 100,000); lower only to test."""


class NetSuiteConnector(SpecConnector):
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="netsuite",
        display_name="NetSuite",
        description="Oracle NetSuite ERP: a SuiteQL query per capability (sales history by "
        "default) over SuiteTalk REST",
        capabilities=WAREHOUSE_CAPABILITIES,
        credential_fields=(
            CredentialField(
                "consumer_key",
                "Consumer key",
                type="password",
                secret=True,
                help="Setup › Integration › Manage Integrations › New (Token-based "
                "authentication checked): shown once on saving",
            ),
            CredentialField(
                "consumer_secret",
                "Consumer secret",
                type="password",
                secret=True,
                help="Shown once with the consumer key",
            ),
            CredentialField(
                "token_id",
                "Token ID",
                type="password",
                secret=True,
                help="Setup › Users/Roles › Access Tokens › New, for the integration, a user "
                "and a role with SuiteAnalytics Workbook and REST Web Services permissions",
            ),
            CredentialField(
                "token_secret",
                "Token secret",
                type="password",
                secret=True,
                help="Shown once with the token id",
            ),
        ),
        settings_model=NetSuiteSettings,
    )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        assert isinstance(settings, NetSuiteSettings)
        host = settings.account_id.lower().replace("_", "-")
        return ApiSpec(
            version=1,
            name=SERVICE,
            base_url=f"https://{host}.suitetalk.api.netsuite.com",
            auth=OAuth1Auth(
                type="oauth1",
                token="token_id",
                realm=settings.account_id.upper(),
                signature_method="HMAC-SHA256",
            ),
            resources={
                c: Resource(path=PATH, method="POST", fields={})
                for c in self.spec.capability_names()
            },
        )

    def _query(self, capability: str) -> WarehouseQuery:
        assert isinstance(self.settings, NetSuiteSettings)
        query = self.settings.queries.get(capability) or DEFAULT_QUERIES.get(capability)
        if query is None:
            raise TetherError(
                f"{SERVICE}: capability '{capability}' is enabled but has no query.",
                hint=f"Add settings.queries.{capability}.sql (SuiteQL) to the integration.",
            )
        if query.cursor_column is not None and PLACEHOLDER not in query.sql:
            raise TetherError(
                f"{SERVICE} query for {capability} has a cursor_column but no '{PLACEHOLDER}'.",
                hint=f"Filter on it, e.g. WHERE t.lastmodifieddate > {PLACEHOLDER} ORDER BY …",
            )
        return query

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        query = self._query(capability)
        self._authorise()
        if self.full or self.window is not None:
            cursor = None
        column = query.cursor_column
        since = _moment(cursor.get("value")) if cursor and column else None
        newest = (_moment(cursor.get("newest")) or since) if cursor and column else None
        offset = int(cursor.get("offset", 0)) if cursor else 0
        assert isinstance(self.settings, NetSuiteSettings)
        size, cap = self.settings.page_size, self.settings.row_cap
        paginator = OffsetPaginator(type="offset", limit=size, has_more_path="hasMore")
        checked = False
        while True:
            sql = query.sql
            if column is not None:
                sql = sql.replace(PLACEHOLDER, _literal(since or LOWEST))
            resource = Resource(
                path=PATH,
                method="POST",
                headers={"Prefer": "transient"},
                body={"q": sql},
                records="items",
                fields={},
            )
            pager = Pager(paginator, PATH, {}, size)
            mapper = RecordMapper(resource, SERVICE)
            request: PageRequest | None = pager.first({"offset": offset} if offset else None)
            restart = False
            while request is not None:
                answer, raws = self._get(resource, request, mapper)
                if raws and not checked:
                    _check_columns(capability, raws)
                    checked = True
                columns = _columns(capability, raws)
                if column is not None:
                    newest = _newest(newest, columns.get(column, []), capability, column)
                request = pager.after(request, answer)
                if request is not None and int(request.params["offset"]) + size > cap:
                    # The REST cap: ask again from the newest value seen.
                    request, restart = None, column is not None and newest is not None
                yield Page(
                    records=columns_to_records(capability, columns),
                    cursor=self._cursor(column, since, newest, request, restart),
                    raw_count=len(raws),
                    waited_s=self.policy.take_waited() + self._take_throttled(),
                )
            if not restart or newest is None:
                return
            # Rows sharing the newest second may lie past the cap: re-read from a second before.
            since, offset = newest - timedelta(seconds=1), 0

    def _cursor(  # type: ignore[override]
        self,
        column: str | None,
        since: datetime | None,
        newest: datetime | None,
        request: PageRequest | None,
        restart: bool,
    ) -> Cursor | None:
        if self.window is not None:
            return None
        if column is None:
            if request is not None:
                return {"offset": int(request.params["offset"])}
            return {"snapshot": "complete"}
        if restart and newest is not None:
            return {"value": _text(newest - timedelta(seconds=1))}
        if request is not None:
            offset = int(request.params["offset"])
            return {"value": _text(since), "offset": offset, "newest": _text(newest)}
        return {"value": _text(newest)} if newest else None


def _literal(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{text}', '{TIME_FORMAT}')"


def _text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?")
"""What ``TO_CHAR(…, 'YYYY-MM-DD HH24:MI:SS')`` gives: text that sorts as the time it names."""


def _newest(
    current: datetime | None, values: list[Any], capability: str, column: str
) -> datetime | None:
    # One regex check per row and one parse per page: rows run into the tens of thousands.
    texts = [v for v in values if v is not None]
    if not texts:
        return current
    bad = next((v for v in texts if not isinstance(v, str) or not _STAMP.fullmatch(v)), None)
    if bad is not None:
        raise DataError(
            f"{SERVICE} query for {capability}: cursor column '{column}' holds {bad!r}, "
            "not a timestamp Tether can read.",
            hint=f"Select it as TO_CHAR(<field>, '{TIME_FORMAT}') AS {column}.",
        )
    moment = _moment(max(t.replace("T", " ") for t in texts))
    if moment is not None and (current is None or moment > current):
        return moment
    return current


def _check_columns(capability: str, rows: list[dict[str, Any]]) -> None:
    """Each required column must appear in some row (NULL columns are left out of a row)."""
    seen = {name for row in rows for name in row}
    for name in REQUIRED_COLUMNS[capability]:
        if name not in seen:
            raise DataError(
                f"{SERVICE} query for {capability} is missing required column '{name}' "
                f"(got: {', '.join(sorted(seen - {'links'})) or 'no columns'}).",
                hint=f"Return it as '... AS {name}' in settings.queries.{capability}.sql "
                "(SuiteQL lower-cases column names).",
            )


def _columns(capability: str, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(REQUIRED_COLUMNS[capability])
    for row in rows:
        names.extend(n for n in row if n not in names and n != "links")
    return {name: [row.get(name) for row in rows] for name in names}
