"""The REST connector's pure parts with plain data: paginators, the throttle, and how the
platforms appear in `tether services`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import run_tether

from tether.connectors.rest.paginate import Answer, Pager
from tether.connectors.rest.spec import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
)
from tether.connectors.rest.throttle import Throttle
from tether.errors import DataError

URL = "https://api.example.com/v1/things"


def _answer(
    count: int, body: Any = None, headers: dict[str, str] | None = None, **links: str
) -> Answer:
    return Answer(URL, headers or {}, body, count, {rel: {"url": u} for rel, u in links.items()})


def test_offset_pages_until_a_short_page_and_resumes_at_a_saved_offset() -> None:
    pager = Pager(OffsetPaginator(type="offset", limit=50), "/things", {"q": "x"})
    first = pager.first(None)
    assert first.params == {"q": "x", "limit": 50, "offset": 0}
    second = pager.after(first, _answer(50))
    assert second is not None and second.params["offset"] == 50 and second.state == {"offset": 50}
    assert pager.after(second, _answer(7)) is None
    assert pager.first({"offset": 150}).params["offset"] == 150


def test_offset_with_has_more_ignores_short_pages() -> None:
    pager = Pager(OffsetPaginator(type="offset", limit=10, has_more_path="hasMore"), "/q", {})
    first = pager.first(None)
    assert pager.after(first, _answer(3, {"hasMore": True})) is not None
    assert pager.after(first, _answer(10, {"hasMore": False})) is None


def test_page_number_stops_at_the_total_pages_header() -> None:
    spec = PageNumberPaginator(type="page_number", total_pages_header="X-WP-TotalPages")
    pager = Pager(spec, "/orders", {}, page_size=10)
    first = pager.first(None)
    assert first.params == {"per_page": 10, "page": 1}
    nxt = pager.after(first, _answer(10, [], {"X-WP-TotalPages": "2"}))
    assert nxt is not None and nxt.params["page"] == 2
    assert pager.after(nxt, _answer(10, [], {"X-WP-TotalPages": "2"})) is None


def test_cursor_token_only_drops_the_first_page_filters() -> None:
    spec = CursorPaginator(
        type="cursor", cursor_path="payload.NextToken", cursor_param="NextToken", token_only=True
    )
    pager = Pager(spec, "/orders", {"CreatedAfter": "2026-01-01"})
    first = pager.first(None)
    nxt = pager.after(first, _answer(5, {"payload": {"NextToken": "abc"}}))
    assert nxt is not None and nxt.params == {"NextToken": "abc"} and nxt.state == {"token": "abc"}
    assert pager.after(nxt, _answer(5, {"payload": {}})) is None


def test_link_header_follows_rel_next_on_the_same_host_only() -> None:
    pager = Pager(LinkHeaderPaginator(type="link_header"), "/things", {})
    first = pager.first(None)
    nxt = pager.after(first, _answer(3, next="https://api.example.com/v1/things?page_info=p2"))
    assert nxt is not None and nxt.url.endswith("page_info=p2") and nxt.params == {}
    assert pager.after(nxt, _answer(3)) is None
    with pytest.raises(DataError, match="another host"):
        pager.after(first, _answer(3, next="https://evil.example.net/steal"))


def test_next_url_in_the_body_may_be_just_a_query_string() -> None:
    pager = Pager(NextUrlPaginator(type="next_url", path="meta.links.next"), "/things", {})
    nxt = pager.after(pager.first(None), _answer(2, {"meta": {"links": {"next": "?page=2"}}}))
    assert nxt is not None and nxt.url == URL + "?page=2"


def test_throttle_spaces_requests_beyond_the_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [throttle.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.5, 0.5]
    assert throttle.waited_s == pytest.approx(1.0)


def test_services_lists_the_rest_platforms_with_capabilities_and_credential_fields() -> None:
    result = run_tether("services", "--json")
    assert result.exit_code == 0, result.output
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert {"rest", "woocommerce", "bigcommerce", "shipbob"} <= set(services)

    def names(service: str, key: str) -> list[str]:
        return [item["name"] for item in services[service][key]]

    assert names("woocommerce", "capabilities") == ["sales_orders", "pending_sales", "products"]
    assert names("shipbob", "capabilities") == ["warehouse_inventory"]
    assert names("bigcommerce", "credential_fields") == ["access_token"]
    woo = {f["name"]: f for f in services["woocommerce"]["credential_fields"]}
    assert woo["consumer_key"]["label"] == "Consumer key" and woo["consumer_key"]["required"]
    assert "REST API" in woo["consumer_key"]["help"]
    rest = {f["name"]: f for f in services["rest"]["credential_fields"]}
    assert {"token", "refresh_token", "client_id"} <= set(rest) and not rest["token"]["required"]
