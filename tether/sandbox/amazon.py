"""A local Amazon Selling Partner API: Login with Amazon tokens and the Orders API v0.

Speaks what ``developer-docs.amazon.com/sp-api`` documents:

* ``POST /auth/o2/token`` (Login with Amazon, ``api.amazon.com`` in production): form body
  ``grant_type=refresh_token&refresh_token=Atzr|…&client_id=…&client_secret=…`` answers
  ``{"access_token": "Atza|…", "token_type": "bearer", "expires_in": 3600, "refresh_token": …}``;
  a bad refresh token is ``400 {"error": "invalid_grant", …}``, a bad client ``401 invalid_client``.
* ``GET /orders/v0/orders`` (getOrders): ``MarketplaceIds`` (required), ``LastUpdatedAfter`` or
  ``CreatedAfter`` (one required), ``FulfillmentChannels`` (``AFN``/``MFN``), ``OrderStatuses``,
  ``MaxResultsPerPage`` (1-100, default 100), ``NextToken`` (carries the first request's filters);
  answers ``{"payload": {"Orders": [...], "NextToken": …, "LastUpdatedBefore": …}}``.
* ``GET /orders/v0/orders/{orderId}/orderItems`` (getOrderItems): ``{"payload": {"AmazonOrderId",
  "OrderItems": [...], "NextToken"}}``. ``ItemPrice`` is the price of the whole line (unit price
  × ``QuantityOrdered``), and Pending orders carry no prices at all, as on Amazon.
* The access token goes in ``x-amz-access-token``; a missing one is ``403
  MissingAuthenticationToken``, an expired one ``403 Unauthorized`` "The access token you provided
  has expired.", a wrong one "… is revoked, malformed or invalid.".
* Per-operation token-bucket rate limits, by default the published ones (getOrders 0.0167 req/s
  burst 20, getOrderItems 0.5 req/s burst 30): every answer carries ``x-amzn-RateLimit-Limit``; a
  request over the limit is ``429 QuotaExceeded`` with no ``Retry-After`` (Amazon sends none).
* Errors are ``{"errors": [{"code", "message", "details"}]}`` with ``x-amzn-RequestId``.

Data is generated per order from ``(seed, index)``, so any volume costs nothing until it is paged
through, and the same scenario always serves the same orders.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler

CLIENT_ID = "amzn1.application-oa2-client.sandbox"
CLIENT_SECRET = "amzn1.oa2-cs.v1.sandbox-secret"
REFRESH_TOKEN = "Atzr|sandbox-refresh-token"
MARKETPLACE_ID = "ATVPDKIKX0DER"
"""Amazon.com (US)."""
MAX_RESULTS = 100
STATUSES = (
    ("Shipped", 70),
    ("Unshipped", 10),
    ("PartiallyShipped", 5),
    ("Pending", 7),
    ("Canceled", 8),
)
ORDERS_PATH = "/orders/v0/orders"


@dataclass
class Scenario:
    """Switches of the Amazon sandbox. The defaults are the demo: a little trouble included."""

    seed: int = 11
    orders: int = 40
    """Small by default: at the published getOrderItems rate every order past the 30th costs
    the demo two seconds of (reported) waiting."""
    skus: int = 200
    """Seller SKUs SKU-00000 … SKU-{n-1}, the demo catalogue."""
    unmapped_rate: float = 0.02
    """Share of order items with a SKU outside the catalogue (UNMAPPED-001 …)."""
    afn_rate: float = 0.4
    """Share of orders Fulfilled by Amazon (``AFN``); the rest are merchant-fulfilled (``MFN``)."""
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    """Orders are placed and updated in the 90 days before this instant."""
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    refresh_token: str = REFRESH_TOKEN
    token_ttl_s: int = 3600
    """``expires_in`` of each access token, checked against the server's clock."""
    expire_every: int = 0
    """Every Nth Orders API request finds its access token expired (0: never)."""
    orders_rate: float = 0.0167
    orders_burst: int = 20
    items_rate: float = 0.5
    items_burst: int = 30
    rate_limit_every: int = 0
    """Every Nth Orders API request answers 429 whatever the bucket says (0: never)."""
    server_errors: int = 0
    """The next N Orders API requests answer 500 InternalFailure."""
    malformed: str = ""
    """"body": getOrders answers 200 with a non-JSON body; "shape": 200 JSON without
    ``payload``; "items": getOrderItems answers 200 JSON without ``payload``."""
    slow_s: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    params: dict[str, str]
    token: str | None


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _money(amount: float) -> dict[str, str]:
    return {"CurrencyCode": "USD", "Amount": f"{amount:.2f}"}


class Store:
    """The deterministic orders behind one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._weights = [w for _, w in STATUSES]
        self._by_id = {self.order_id(i): i for i in range(scenario.orders)}
        self._stamps = [self._dates(i) for i in range(scenario.orders)]

    def _rng(self, kind: str, index: int) -> random.Random:
        return random.Random(f"{self.scenario.seed}:{kind}:{index}")

    def order_id(self, index: int) -> str:
        rng = self._rng("id", index)
        return f"{111 + index % 3}-{index:07d}-{rng.randrange(10**7):07d}"

    def index_of(self, order_id: str) -> int | None:
        return self._by_id.get(order_id)

    def _dates(self, index: int) -> tuple[datetime, datetime]:
        rng = self._rng("dates", index)
        placed = self.scenario.anchor - timedelta(seconds=rng.randrange(90 * 86400))
        updated = placed + timedelta(seconds=rng.randrange(5 * 86400))
        return placed, min(updated, self.scenario.anchor)

    def matching(self, filters: dict[str, Any]) -> list[int]:
        """Indexes of the orders passing the filters, by LastUpdateDate then id."""
        found = []
        for index in range(self.scenario.orders):
            placed, updated = self._stamps[index]
            if "LastUpdatedAfter" in filters and updated < filters["LastUpdatedAfter"]:
                continue
            if "CreatedAfter" in filters and placed < filters["CreatedAfter"]:
                continue
            channels = filters.get("FulfillmentChannels")
            if channels and self._channel(index) not in channels:
                continue
            statuses = filters.get("OrderStatuses")
            if statuses and self._status(index) not in statuses:
                continue
            found.append(index)
        found.sort(key=lambda i: (self._stamps[i][1], i))
        return found

    def _channel(self, index: int) -> str:
        return "AFN" if self._rng("channel", index).random() < self.scenario.afn_rate else "MFN"

    def _status(self, index: int) -> str:
        rng = self._rng("status", index)
        return rng.choices([s for s, _ in STATUSES], self._weights)[0]

    def items(self, index: int) -> list[dict[str, Any]]:
        rng = self._rng("items", index)
        pending = self._status(index) == "Pending"
        shipped = self._status(index) == "Shipped"
        found = []
        for line in range(rng.randrange(1, 4)):
            if rng.random() < self.scenario.unmapped_rate:
                sku = f"UNMAPPED-{rng.randrange(3) + 1:03d}"
            else:
                sku = f"SKU-{rng.randrange(max(1, self.scenario.skus)):05d}"
            quantity = rng.randrange(1, 5)
            unit = round(rng.uniform(5, 80), 2)
            item: dict[str, Any] = {
                "ASIN": f"B0{rng.randrange(10**8):08d}",
                "SellerSKU": sku,
                "OrderItemId": f"{index:08d}{line:06d}",
                "Title": f"Sandbox product {sku}",
                "QuantityOrdered": quantity,
                "QuantityShipped": quantity if shipped else 0,
                "IsGift": "false",
                "ConditionId": "New",
            }
            if not pending:
                item["ItemPrice"] = _money(unit * quantity)
                item["ItemTax"] = _money(unit * quantity * 0.08)
            found.append(item)
        return found

    def order(self, index: int) -> dict[str, Any]:
        placed, updated = self._stamps[index]
        status = self._status(index)
        items = self.items(index)
        shipped = sum(i["QuantityShipped"] for i in items)
        ordered = sum(i["QuantityOrdered"] for i in items)
        channel = self._channel(index)
        order: dict[str, Any] = {
            "AmazonOrderId": self.order_id(index),
            "PurchaseDate": _ts(placed),
            "LastUpdateDate": _ts(updated),
            "OrderStatus": status,
            "FulfillmentChannel": channel,
            "SalesChannel": "Amazon.com",
            "ShipServiceLevel": "Std US D2D Dom",
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": ordered - shipped,
            "PaymentMethod": "Other",
            "MarketplaceId": MARKETPLACE_ID,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "IsBusinessOrder": False,
            "IsPrime": channel == "AFN",
            "IsPremiumOrder": False,
            "IsReplacementOrder": False,
        }
        if status != "Pending":
            total = sum(float(i["ItemPrice"]["Amount"]) for i in items)
            order["OrderTotal"] = _money(total)
        return order


class Bucket:
    """A token bucket like the one SP-API applies per operation and selling partner."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _error(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def _encode_token(offset: int, filters: dict[str, str]) -> str:
    raw = json.dumps({"o": offset, "f": sorted(filters.items())})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str) -> tuple[int, dict[str, str]]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(state["o"]), {str(k): str(v) for k, v in state["f"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("Invalid NextToken.") from exc


class AmazonServer(SandboxServer):
    scenario: Scenario

    def __init__(
        self,
        scenario: Scenario,
        host: str,
        port: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(AmazonHandler, scenario, host, port)
        self.store = Store(scenario)
        self.clock = clock
        self.requests: list[SeenRequest] = []
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._served = 0
        self._checked = 0
        self._errors_left = scenario.server_errors
        self.buckets = {
            "getOrders": Bucket(scenario.orders_rate, scenario.orders_burst, clock),
            "getOrderItems": Bucket(scenario.items_rate, scenario.items_burst, clock),
        }
        self.throttled = {"getOrders": 0, "getOrderItems": 0}

    def issue_token(self) -> str:
        with self._lock:
            self.tokens_issued += 1
            token = f"Atza|sandbox-access-{self.tokens_issued}"
            self._tokens[token] = self.clock() + self.scenario.token_ttl_s
        return token

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (as after an hour)."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = self.clock() - 1

    def token_problem(self, token: str | None) -> str | None:
        if not token:
            return "missing"
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return "invalid"
            if expires <= self.clock():
                return "expired"
            self._checked += 1
            every = self.scenario.expire_every
            if every and self._checked % every == 0:
                self._tokens[token] = self.clock() - 1
                return "expired"
        return None

    def trouble(self, operation: str) -> int | None:
        """The status this request is answered with instead of data, if any (thread-safe)."""
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return 500
            self._served += 1
            every = self.scenario.rate_limit_every
            forced = bool(every and self._served % every == 0)
            if forced or not self.buckets[operation].take():
                self.throttled[operation] += 1
                return 429
        return None


class AmazonHandler(SandboxHandler):
    server: AmazonServer

    def _default_headers(self, status: int) -> dict[str, str]:
        return {"x-amzn-RequestId": f"sandbox-{len(self.server.requests):08d}"}

    def _record(self, method: str, params: dict[str, str]) -> None:
        path = urlsplit(self.path).path
        token = self.headers.get("x-amz-access-token")
        self.server.requests.append(SeenRequest(method, path, dict(params), token))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        form = {k: v[-1] for k, v in parse_qs(self._read_body().decode()).items()}
        self._record("POST", {k: v for k, v in form.items() if k == "grant_type"})
        if parts.path != "/auth/o2/token":
            self._json(404, _error("NotFound", f"Resource {parts.path} is not found."))
            return
        self._token(form)

    def _token(self, form: dict[str, str]) -> None:
        scenario = self.server.scenario
        if form.get("grant_type") != "refresh_token":
            self._json(
                400,
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
            )
            return
        if (
            form.get("client_id") != scenario.client_id
            or form.get("client_secret") != scenario.client_secret
        ):
            self._json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
            return
        if form.get("refresh_token") != scenario.refresh_token:
            self._json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : "
                    "refresh_token",
                },
            )
            return
        self._json(
            200,
            {
                "access_token": self.server.issue_token(),
                "refresh_token": scenario.refresh_token,
                "token_type": "bearer",
                "expires_in": scenario.token_ttl_s,
            },
        )

    def do_GET(self) -> None:
        scenario = self.server.scenario
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self._record("GET", params)
        if scenario.slow_s:
            time.sleep(scenario.slow_s)
        path = parts.path.rstrip("/")
        if path == ORDERS_PATH:
            operation, order_id = "getOrders", None
        elif path.startswith(ORDERS_PATH + "/") and path.endswith("/orderItems"):
            operation = "getOrderItems"
            order_id = path.removeprefix(ORDERS_PATH + "/").removesuffix("/orderItems")
        else:
            self._json(404, _error("NotFound", f"Resource {parts.path} is not found."))
            return
        problem = self.server.token_problem(self.headers.get("x-amz-access-token"))
        if problem == "missing":
            self._json(
                403, _error("MissingAuthenticationToken", "Access to requested resource is denied.")
            )
            return
        if problem is not None:
            details = (
                "The access token you provided has expired."
                if problem == "expired"
                else "The access token you provided is revoked, malformed or invalid."
            )
            self._json(
                403, _error("Unauthorized", "Access to requested resource is denied.", details)
            )
            return
        bucket = self.server.buckets[operation]
        limit = {"x-amzn-RateLimit-Limit": f"{bucket.rate:g}"}
        trouble = self.server.trouble(operation)
        if trouble == 429:
            self._json(
                429,
                _error("QuotaExceeded", "You exceeded your quota for the requested resource."),
                limit,
            )
            return
        if trouble == 500:
            self._json(500, _error("InternalFailure", "We encountered an internal error."), limit)
            return
        if order_id is None:
            self._orders(params, limit)
        else:
            self._items(order_id, params, limit)

    def _orders(self, params: dict[str, str], headers: dict[str, str]) -> None:
        scenario = self.server.scenario
        if not params.get("MarketplaceIds"):
            self._json(400, _error("InvalidInput", "Missing required 'MarketplaceIds'."), headers)
            return
        if MARKETPLACE_ID not in params["MarketplaceIds"].split(","):
            self._json(
                400,
                _error("InvalidInput", "Invalid Marketplace Id.", params["MarketplaceIds"]),
                headers,
            )
            return
        try:
            if "NextToken" in params:
                offset, filters = _decode_token(params["NextToken"])
            else:
                offset, filters = 0, self._filters(params)
            size = int(filters.get("MaxResultsPerPage", MAX_RESULTS))
            if not 1 <= size <= MAX_RESULTS:
                raise ValueError(f"MaxResultsPerPage must be between 1 and {MAX_RESULTS}.")
            parsed = self._parsed(filters)
        except ValueError as exc:
            self._json(400, _error("InvalidInput", str(exc)), headers)
            return
        if scenario.malformed == "body":
            self._send(200, b"<html><body>Service Unavailable</body></html>", headers)
            return
        if scenario.malformed == "shape":
            self._json(200, {"Orders": []}, headers)
            return
        indexes = self.server.store.matching(parsed)
        chunk = indexes[offset : offset + size]
        payload: dict[str, Any] = {
            "Orders": [self.server.store.order(i) for i in chunk],
            "LastUpdatedBefore": _ts(scenario.anchor),
        }
        if offset + size < len(indexes):
            payload["NextToken"] = _encode_token(offset + size, filters)
        self._json(200, {"payload": payload}, headers)

    @staticmethod
    def _filters(params: dict[str, str]) -> dict[str, str]:
        keep = (
            "LastUpdatedAfter",
            "CreatedAfter",
            "FulfillmentChannels",
            "OrderStatuses",
            "MaxResultsPerPage",
        )
        filters = {k: params[k] for k in keep if k in params}
        if "LastUpdatedAfter" not in filters and "CreatedAfter" not in filters:
            raise ValueError("Either 'CreatedAfter' or 'LastUpdatedAfter' must be specified.")
        if "LastUpdatedAfter" in filters and "CreatedAfter" in filters:
            raise ValueError("'CreatedAfter' and 'LastUpdatedAfter' cannot both be specified.")
        return filters

    @staticmethod
    def _parsed(filters: dict[str, str]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for key in ("LastUpdatedAfter", "CreatedAfter"):
            if key in filters:
                moment = _parse_ts(filters[key])
                if moment is None:
                    raise ValueError(f"Invalid '{key}': {filters[key]!r} is not ISO 8601.")
                parsed[key] = moment
        for key, allowed in (
            ("FulfillmentChannels", {"AFN", "MFN"}),
            ("OrderStatuses", {s for s, _ in STATUSES} | {"Unfulfillable", "InvoiceUnconfirmed"}),
        ):
            if key in filters:
                values = set(filters[key].split(","))
                if not values <= allowed:
                    bad = ", ".join(sorted(values - allowed))
                    raise ValueError(f"Invalid '{key}': {bad}.")
                parsed[key] = values
        return parsed

    def _items(self, order_id: str, params: dict[str, str], headers: dict[str, str]) -> None:
        index = self.server.store.index_of(order_id)
        if index is None:
            self._json(404, _error("NotFound", f"Order {order_id} not found."), headers)
            return
        if self.server.scenario.malformed == "items":
            self._json(200, {"OrderItems": []}, headers)
            return
        payload = {"AmazonOrderId": order_id, "OrderItems": self.server.store.items(index)}
        self._json(200, {"payload": payload}, headers)


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """An Amazon SP-API sandbox (not started). Defaults to the demo scenario."""
    return AmazonServer(scenario or Scenario(), host, port)
