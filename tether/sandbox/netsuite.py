"""A local NetSuite SuiteTalk REST query service: SuiteQL with token-based authentication.

Speaks what the NetSuite help center documents for ``POST /services/rest/query/v1/suiteql``:

* The body is ``{"q": "SELECT …"}`` and the request must carry ``Prefer: transient``.
* ``limit`` (1-1000, default 1000) and ``offset`` (a multiple of ``limit``) page the result;
  no more than 100,000 rows of one query can be paged through (the SuiteTalk REST cap).
* The answer is ``{"links": [{"rel": "next"|"self"|…, "href"}], "count", "hasMore",
  "offset", "totalResults", "items": [{"links": [], "<column>": value, …}]}``; column names are
  lower case and a NULL column is left out of its item, as NetSuite does.
* Token-based authentication is OAuth 1.0a: ``Authorization: OAuth realm="<ACCOUNT ID>",
  oauth_consumer_key, oauth_token, oauth_signature_method="HMAC-SHA256", oauth_timestamp,
  oauth_nonce, oauth_version="1.0", oauth_signature``. The signature is verified for real over
  authlib's RFC 5849 base string (method, URL and query parameters); a bad one answers 401
  ``INVALID_LOGIN``, as does a repeated nonce or a wrong realm.
* Errors are RFC 9457-style JSON: ``{"type", "title", "status", "o:errorDetails": [{"detail",
  "o:errorCode"}]}``; a SuiteQL error is 400 ``INVALID_PARAMETER``, too many concurrent requests
  429 ``CONCURRENCY_LIMIT_EXCEEDED`` (with ``Retry-After``).

The query runs for real against an in-memory DuckDB holding the deterministic tables
``transaction``, ``transactionline`` and ``item`` (the SuiteQL names and columns a sales query
uses). The Oracle-style functions SuiteQL queries use for dates, ``TO_CHAR(x, 'YYYY-MM-DD')``,
``TO_DATE`` and ``TO_TIMESTAMP(text, 'YYYY-MM-DD HH24:MI:SS')``, are provided.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler

ACCOUNT_ID = "1234567_SB1"
CONSUMER_KEY = "ns-sandbox-consumer-key"
CONSUMER_SECRET = "ns-sandbox-consumer-secret"
TOKEN_ID = "ns-sandbox-token-id"
TOKEN_SECRET = "ns-sandbox-token-secret"
MAX_LIMIT = 1000
MAX_ROWS = 100_000
PATH = "/services/rest/query/v1/suiteql"
CHANNELS = ("web", "wholesale", "retail")
PROBLEM_TYPES = {
    400: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
    401: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    404: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
    405: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6",
    429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
    500: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
_FORMATS = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("MI", "%M"), ("SS", "%S"))


@dataclass
class Scenario:
    """Switches of the NetSuite sandbox. The defaults are the demo: a little trouble included."""

    seed: int = 5
    orders: int = 400
    skus: int = 200
    unmapped_rate: float = 0.02
    """Share of lines whose item is outside the demo catalogue (UNMAPPED-001 …)."""
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    """Sales orders are dated and modified in the 90 days before this instant."""
    account_id: str = ACCOUNT_ID
    consumer_key: str = CONSUMER_KEY
    consumer_secret: str = CONSUMER_SECRET
    token_id: str = TOKEN_ID
    token_secret: str = TOKEN_SECRET
    rate_limit_every: int = 0
    """Every Nth query request answers 429 CONCURRENCY_LIMIT_EXCEEDED (0: never)."""
    retry_after_s: float = 1.0
    server_errors: int = 0
    """The next N query requests answer 500."""
    malformed: str = ""
    """"body": 200 with a non-JSON body; "shape": 200 JSON without ``items``."""
    max_rows: int = MAX_ROWS
    slow_s: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    params: dict[str, str]
    query: str
    prefer: str | None
    oauth: dict[str, str]


def _problem(status: int, detail: str, code: str) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPES[status],
        "title": TITLES[status],
        "status": status,
        "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
    }


def _strftime(fmt: str) -> str:
    for oracle, python in _FORMATS:
        fmt = fmt.replace(oracle, python)
    return fmt


def _to_char(value: Any, fmt: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.strftime(_strftime(fmt))
    return str(value)


def _to_timestamp(text: str, fmt: str) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, _strftime(fmt))


def build_database(scenario: Scenario) -> Any:
    """The DuckDB tables a SuiteQL sales query reads, filled from ``scenario``."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE item (id INTEGER, itemid VARCHAR, displayname VARCHAR, itemtype VARCHAR)"
    )
    con.execute(
        "CREATE TABLE transaction (id INTEGER, tranid VARCHAR, type VARCHAR, trandate DATE, "
        "lastmodifieddate TIMESTAMP, status VARCHAR, currency INTEGER, "
        "custbody_channel VARCHAR, foreigntotal DECIMAL(18, 2))"
    )
    con.execute(
        "CREATE TABLE transactionline (id INTEGER, transaction INTEGER, linesequencenumber "
        "INTEGER, item INTEGER, quantity DECIMAL(18, 2), rate DECIMAL(18, 2), "
        "netamount DECIMAL(18, 2), mainline VARCHAR, taxline VARCHAR)"
    )
    items = [(i + 1, f"SKU-{i:05d}", f"Product {i}", "InvtPart") for i in range(scenario.skus)]
    items += [(10_001 + i, f"UNMAPPED-{i + 1:03d}", "Unmapped", "InvtPart") for i in range(3)]
    _insert(con, "item", items)
    transactions: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for index in range(scenario.orders):
        rng = random.Random(f"{scenario.seed}:order:{index}")
        placed = scenario.anchor - timedelta(seconds=rng.randrange(90 * 86400))
        modified = min(placed + timedelta(seconds=rng.randrange(3 * 86400)), scenario.anchor)
        tid = 1000 + index
        total = 0.0
        # Line 0 is the main line (the header), as in NetSuite; item lines have negative
        # quantities and amounts on sales transactions, another NetSuite habit.
        lines.append((tid * 10, tid, 0, None, None, None, None, "T", "F"))
        for seq in range(1, rng.randrange(2, 5)):
            if rng.random() < scenario.unmapped_rate:
                item = 10_001 + rng.randrange(3)
            else:
                item = rng.randrange(max(1, scenario.skus)) + 1
            quantity = rng.randrange(1, 9)
            rate = round(rng.uniform(4, 90), 2)
            amount = round(rate * quantity, 2)
            total += amount
            lines.append((tid * 10 + seq, tid, seq, item, -quantity, rate, -amount, "F", "F"))
        status = "B" if rng.random() < 0.9 else "C"  # Pending Fulfillment / Cancelled
        channel = CHANNELS[rng.randrange(len(CHANNELS))]
        transactions.append(
            (tid, f"SO{tid}", "SalesOrd", placed.date(), modified.replace(tzinfo=None), status, 1,
             channel, total)
        )  # fmt: skip
    _insert(con, "transaction", transactions)
    _insert(con, "transactionline", lines)
    con.create_function("ns_to_char", _to_char, ["TIMESTAMP", "VARCHAR"], "VARCHAR")
    con.create_function("ns_to_timestamp", _to_timestamp, ["VARCHAR", "VARCHAR"], "TIMESTAMP")
    return con


def _insert(con: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert through Arrow: row-by-row inserts would take seconds per thousand orders."""
    import pyarrow as pa

    width = len(con.execute(f"SELECT * FROM {table} LIMIT 0").description)
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    arrow = pa.table({f"c{i}": pa.array(list(c)) for i, c in enumerate(columns)})
    con.register("_rows", arrow)
    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    con.unregister("_rows")


_FUNCTIONS = re.compile(r"\b(TO_CHAR|TO_DATE|TO_TIMESTAMP)\s*\(", re.IGNORECASE)


def _duckdb_sql(suiteql: str) -> str:
    def rename(match: re.Match[str]) -> str:
        name = match.group(1).upper()
        return "ns_to_char(" if name == "TO_CHAR" else "ns_to_timestamp("

    return _FUNCTIONS.sub(rename, suiteql)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        # NetSuite formats dates by the account's preference; queries TO_CHAR them.
        return value.strftime("%m/%d/%Y %I:%M %p")
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    return value


class NetSuiteServer(SandboxServer):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(NetSuiteHandler, scenario, host, port)
        self.db = build_database(scenario)
        self.requests: list[SeenRequest] = []
        self.nonces: set[str] = set()
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()
        self._served = 0
        self._errors_left = scenario.server_errors
        self._results: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}

    def run(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names (lower case) and rows of ``query``; cached per query text, since every
        page of one query asks for the same result again."""
        with self._db_lock:
            cached = self._results.get(query)
            if cached is None:
                cursor = self.db.cursor()
                result = cursor.execute(_duckdb_sql(query))
                names = [d[0].lower() for d in result.description]
                cached = (names, result.fetchall())
                cursor.close()
                self._results[query] = cached
        return cached

    def touch(self, orders: int, minutes: int = 1) -> list[int]:
        """The first ``orders`` sales orders change ``minutes`` after the anchor: one more unit
        on their first item line. Returns their ids."""
        ids = [1000 + i for i in range(min(orders, self.scenario.orders))]
        moment = (self.scenario.anchor + timedelta(minutes=minutes)).replace(tzinfo=None)
        with self._db_lock:
            for tid in ids:
                self.db.execute(
                    "UPDATE transactionline SET quantity = quantity - 1, netamount = netamount - "
                    "rate WHERE transaction = ? AND linesequencenumber = 1",
                    [tid],
                )
                self.db.execute(
                    "UPDATE transaction SET lastmodifieddate = ? WHERE id = ?", [moment, tid]
                )
            self._results.clear()
        return ids

    def trouble(self) -> int | None:
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return 500
            self._served += 1
            every = self.scenario.rate_limit_every
            if every and self._served % every == 0:
                return 429
        return None

    def check_oauth(self, method: str, url: str, header: str | None) -> str | None:
        """Why the request's OAuth 1.0a signature is refused, or ``None`` when it is valid."""
        from authlib.oauth1.rfc5849.signature import generate_signature_base_string
        from authlib.oauth1.rfc5849.wrapper import OAuth1Request

        if not header or not header.startswith("OAuth "):
            return "no OAuth Authorization header"
        try:
            request = OAuth1Request(method, url, None, {"Authorization": header})
        except ValueError:
            return "malformed OAuth Authorization header"
        params = dict(request.auth_params)
        scenario = self.scenario
        if params.get("realm") != scenario.account_id:
            return "wrong realm"
        if params.get("oauth_signature_method") != "HMAC-SHA256":
            return "unsupported signature method"
        if params.get("oauth_consumer_key") != scenario.consumer_key:
            return "unknown consumer key"
        if params.get("oauth_token") != scenario.token_id:
            return "unknown token"
        nonce = params.get("oauth_nonce", "") + params.get("oauth_timestamp", "")
        with self._lock:
            if nonce in self.nonces:
                return "nonce already used"
            self.nonces.add(nonce)
        key = f"{_escape(scenario.consumer_secret)}&{_escape(scenario.token_secret)}"
        base = generate_signature_base_string(request)
        expected = base64.b64encode(
            hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, request.signature or ""):
            return "bad signature"
        return None


def _escape(text: str) -> str:
    from authlib.common.urls import quote

    return str(quote(text, safe=b"~"))


class NetSuiteHandler(SandboxHandler):
    server: NetSuiteServer
    content_type = "application/vnd.oracle.resource+json; type=collection"

    def do_GET(self) -> None:
        self._json(405, _problem(405, "Only POST is supported for SuiteQL.", "INVALID_METHOD"))

    def do_POST(self) -> None:
        scenario = self.server.scenario
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self._read_body()
        host = self.headers.get("Host") or "127.0.0.1"
        url = f"http://{host}{self.path}"
        try:
            body = json.loads(raw or b"{}")
            query = body.get("q") if isinstance(body, dict) else None
        except ValueError:
            query = None
        self.server.requests.append(
            SeenRequest(
                dict(params),
                query if isinstance(query, str) else "",
                self.headers.get("Prefer"),
                _oauth_fields(self.headers.get("Authorization")),
            )
        )
        if scenario.slow_s:
            time.sleep(scenario.slow_s)
        if parts.path != PATH:
            self._json(
                404, _problem(404, f"Record type or path {parts.path} not found.", "NONEXISTENT_ID")
            )
            return
        refused = self.server.check_oauth("POST", url, self.headers.get("Authorization"))
        if refused is not None:
            self._json(
                401,
                _problem(
                    401,
                    "Invalid login attempt. For more details, see the Login Audit Trail in the "
                    "NetSuite UI at Setup > Users/Roles > User Management > View Login Audit "
                    "Trail.",
                    "INVALID_LOGIN",
                ),
            )
            return
        if (self.headers.get("Prefer") or "").lower() != "transient":
            self._json(
                400,
                _problem(
                    400,
                    "Invalid Prefer header. SuiteQL requests require 'Prefer: transient'.",
                    "INVALID_HEADER",
                ),
            )
            return
        trouble = self.server.trouble()
        if trouble == 429:
            self._json(
                429,
                _problem(
                    429, "Concurrent request limit exceeded. Request blocked.",
                    "CONCURRENCY_LIMIT_EXCEEDED",
                ),
                {"Retry-After": f"{scenario.retry_after_s:g}"},
            )  # fmt: skip
            return
        if trouble == 500:
            self._json(500, _problem(500, "An unexpected error occurred.", "UNEXPECTED_ERROR"))
            return
        if not isinstance(query, str) or not query.strip():
            self._json(
                400,
                _problem(400, 'The request body must be {"q": "<SuiteQL>"}.', "INVALID_PARAMETER"),
            )
            return
        self._query(query, params, host)

    def _query(self, query: str, params: dict[str, str], host: str) -> None:
        scenario = self.server.scenario
        try:
            limit = int(params.get("limit", MAX_LIMIT))
            offset = int(params.get("offset", 0))
        except ValueError:
            self._json(
                400, _problem(400, "limit and offset must be integers.", "INVALID_PARAMETER")
            )
            return
        if not 1 <= limit <= MAX_LIMIT:
            self._json(
                400,
                _problem(
                    400,
                    f"Invalid limit: it must be between 1 and {MAX_LIMIT}.",
                    "INVALID_PARAMETER",
                ),
            )
            return
        if offset < 0 or offset % limit:
            self._json(
                400,
                _problem(
                    400, "Invalid offset: it must be a multiple of limit.", "INVALID_PARAMETER"
                ),
            )
            return
        if offset + limit > scenario.max_rows:
            self._json(
                400,
                _problem(
                    400,
                    f"Invalid offset: SuiteQL over REST pages through at most {scenario.max_rows} "
                    "results; narrow the query.",
                    "INVALID_PARAMETER",
                ),
            )
            return
        try:
            names, rows = self.server.run(query)
        except Exception as exc:  # the database's own message, as NetSuite reports it
            message = str(exc).splitlines()[0]
            self._json(
                400,
                _problem(400, f"Invalid search query. Detailed unprocessed description follows. {message}", "INVALID_PARAMETER"),
            )  # fmt: skip
            return
        if scenario.malformed == "body":
            self._send(200, b"<html><body>Service Temporarily Unavailable</body></html>")
            return
        if scenario.malformed == "shape":
            self._json(200, {"links": [], "count": 0, "hasMore": False})
            return
        chunk = rows[offset : offset + limit]
        items = [
            {"links": [], **{n: _json_value(v) for n, v in zip(names, row, strict=True) if v is not None}}
            for row in chunk
        ]  # fmt: skip
        total = len(rows)
        more = offset + limit < total
        base = f"http://{host}{PATH}"
        links = [{"rel": "self", "href": f"{base}?{urlencode({'limit': limit, 'offset': offset})}"}]
        if more:
            href = f"{base}?{urlencode({'limit': limit, 'offset': offset + limit})}"
            links.insert(0, {"rel": "next", "href": href})
        self._json(
            200,
            {
                "links": links,
                "count": len(items),
                "hasMore": more,
                "items": items,
                "offset": offset,
                "totalResults": total,
            },
        )


def _oauth_fields(header: str | None) -> dict[str, str]:
    """The OAuth parameter names sent (values kept only where they are not secrets)."""
    if not header or not header.startswith("OAuth "):
        return {}
    found = {}
    for part in header[len("OAuth ") :].split(","):
        key, _, value = part.strip().partition("=")
        found[key] = value.strip('"') if key in ("realm", "oauth_signature_method") else "…"
    return found


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A NetSuite SuiteQL sandbox (not started). Defaults to the demo scenario."""
    return NetSuiteServer(scenario or Scenario(), host, port)
