"""The Amazon SP-API sandbox speaks LWA and the Orders API as Amazon documents them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tether.sandbox import amazon as sandbox


@pytest.fixture
def server() -> Iterator[sandbox.AmazonServer]:
    srv = sandbox.serve(sandbox.Scenario(orders=250, orders_rate=1000.0, items_rate=1000.0))
    assert isinstance(srv, sandbox.AmazonServer)
    with srv:
        yield srv


def token(client: httpx.Client, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": sandbox.REFRESH_TOKEN,
        "client_id": sandbox.CLIENT_ID,
        "client_secret": sandbox.CLIENT_SECRET,
        **overrides,
    }
    return client.post("/auth/o2/token", data=form)


def orders(client: httpx.Client, access: str, **params: str) -> httpx.Response:
    query = {"MarketplaceIds": sandbox.MARKETPLACE_ID, **params}
    return client.get("/orders/v0/orders", params=query, headers={"x-amz-access-token": access})


def test_lwa_token_then_orders_paged_by_next_token(server: sandbox.AmazonServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = token(client)
        assert answer.status_code == 200
        assert answer.json()["token_type"] == "bearer" and answer.json()["expires_in"] == 3600
        access = answer.json()["access_token"]
        first = orders(client, access, LastUpdatedAfter="2025-01-01T00:00:00Z")
        assert first.status_code == 200
        assert first.headers["x-amzn-RateLimit-Limit"] == "1000"
        payload = first.json()["payload"]
        assert len(payload["Orders"]) == 100 and payload["NextToken"]
        seen = [o["AmazonOrderId"] for o in payload["Orders"]]
        while "NextToken" in payload:
            payload = orders(client, access, NextToken=payload["NextToken"]).json()["payload"]
            seen += [o["AmazonOrderId"] for o in payload["Orders"]]
        assert len(seen) == len(set(seen)) == 250
        items = client.get(
            f"/orders/v0/orders/{seen[0]}/orderItems", headers={"x-amz-access-token": access}
        ).json()["payload"]
        assert items["AmazonOrderId"] == seen[0] and items["OrderItems"]
        line = items["OrderItems"][0]
        assert {"SellerSKU", "OrderItemId", "QuantityOrdered"} <= set(line)


def test_filters_keep_fba_and_merchant_fulfilled_apart(server: sandbox.AmazonServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        access = token(client).json()["access_token"]
        since = {"LastUpdatedAfter": "2025-01-01T00:00:00Z", "MaxResultsPerPage": "100"}
        afn = orders(client, access, FulfillmentChannels="AFN", **since).json()["payload"]
        mfn = orders(client, access, FulfillmentChannels="MFN", **since).json()["payload"]
    assert {o["FulfillmentChannel"] for o in afn["Orders"]} == {"AFN"}
    assert {o["FulfillmentChannel"] for o in mfn["Orders"]} == {"MFN"}


def test_auth_failures_answer_like_amazon(server: sandbox.AmazonServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        bad_grant = token(client, refresh_token="Atzr|revoked")
        assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"
        bad_client = token(client, client_secret="wrong")
        assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
        missing = client.get("/orders/v0/orders", params={"MarketplaceIds": "x"})
        assert missing.status_code == 403
        assert missing.json()["errors"][0]["code"] == "MissingAuthenticationToken"
        access = token(client).json()["access_token"]
        server.expire_tokens()
        expired = orders(client, access, LastUpdatedAfter="2025-01-01T00:00:00Z")
        assert expired.status_code == 403
        assert (
            expired.json()["errors"][0]["details"] == "The access token you provided has expired."
        )
        fresh = token(client).json()["access_token"]
        assert orders(client, fresh, LastUpdatedAfter="2025-01-01T00:00:00Z").status_code == 200


def test_rate_limit_is_a_token_bucket_answering_429_quota_exceeded() -> None:
    scenario = sandbox.Scenario(orders=10, orders_rate=0.0167, orders_burst=3)
    srv = sandbox.serve(scenario)
    assert isinstance(srv, sandbox.AmazonServer)
    with srv, httpx.Client(base_url=srv.url) as client:
        access = token(client).json()["access_token"]
        answers = [orders(client, access, CreatedAfter="2025-01-01T00:00:00Z") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert refused.json()["errors"][0]["code"] == "QuotaExceeded"
    assert refused.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert "retry-after" not in refused.headers  # Amazon sends none: the client must pace itself


def test_bad_input_is_invalid_input(server: sandbox.AmazonServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        access = token(client).json()["access_token"]
        neither = orders(client, access)
        assert neither.status_code == 400
        assert neither.json()["errors"][0]["code"] == "InvalidInput"
        assert orders(client, access, NextToken="garbage").status_code == 400
        wrong_market = client.get(
            "/orders/v0/orders",
            params={"MarketplaceIds": "A1F83G8C2ARO7P", "CreatedAfter": "2025-01-01T00:00:00Z"},
            headers={"x-amz-access-token": access},
        )
        assert wrong_market.json()["errors"][0]["message"] == "Invalid Marketplace Id."
