"""The NetSuite sandbox runs SuiteQL for real and checks token-based auth signatures."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tether.connectors.oauth1 import OAuth1Signer
from tether.sandbox import netsuite as sandbox

QUERY = (
    "SELECT t.tranid AS tranid, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS day, i.itemid AS sku "
    "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
    "LEFT JOIN item i ON i.id = tl.item WHERE t.type = 'SalesOrd' ORDER BY tl.id"
)


def signer(**overrides: str) -> OAuth1Signer:
    values = {
        "consumer_key": sandbox.CONSUMER_KEY,
        "consumer_secret": sandbox.CONSUMER_SECRET,
        "token": sandbox.TOKEN_ID,
        "token_secret": sandbox.TOKEN_SECRET,
        "realm": sandbox.ACCOUNT_ID,
        **overrides,
    }
    return OAuth1Signer(**values)


@pytest.fixture
def server() -> Iterator[sandbox.NetSuiteServer]:
    srv = sandbox.serve(sandbox.Scenario(orders=30))
    assert isinstance(srv, sandbox.NetSuiteServer)
    with srv:
        yield srv


def suiteql(client: httpx.Client, query: str = QUERY, **params: int) -> httpx.Response:
    return client.post(
        sandbox.PATH, params=params, json={"q": query}, headers={"Prefer": "transient"}
    )


def test_pages_with_has_more_and_next_links(server: sandbox.NetSuiteServer) -> None:
    with httpx.Client(base_url=server.url, auth=signer()) as client:
        first = suiteql(client, limit=20, offset=0).json()
        assert first["hasMore"] is True and first["count"] == 20 and first["offset"] == 0
        assert first["links"][0]["rel"] == "next"
        assert first["links"][0]["href"].endswith("limit=20&offset=20")
        total = first["totalResults"]
        rows = list(first["items"])
        offset = 20
        while True:
            page = suiteql(client, limit=20, offset=offset).json()
            rows += page["items"]
            if not page["hasMore"]:
                break
            offset += 20
    assert len(rows) == total
    main_line = next(r for r in rows if "sku" not in r)  # NULL columns are left out
    assert main_line["day"].count("-") == 2 and main_line["links"] == []


def test_bad_signature_wrong_realm_and_replayed_nonce_are_invalid_login(
    server: sandbox.NetSuiteServer,
) -> None:
    for auth in (signer(token_secret="stolen"), signer(realm="9999999")):
        with httpx.Client(base_url=server.url, auth=auth) as client:
            answer = suiteql(client, limit=5)
        assert answer.status_code == 401
        assert answer.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    with httpx.Client(base_url=server.url) as client:  # signed once, by hand, then replayed
        signed = client.build_request(
            "POST", sandbox.PATH, json={"q": QUERY}, headers={"Prefer": "transient"}
        )
        request = next(signer().auth_flow(signed))
        assert client.send(request).status_code == 200
        assert client.send(request).status_code == 401  # the same nonce twice


def test_query_errors_limits_and_prefer_header(server: sandbox.NetSuiteServer) -> None:
    with httpx.Client(base_url=server.url, auth=signer()) as client:
        broken = suiteql(client, "SELECT nosuchcolumn FROM transaction")
        assert broken.status_code == 400
        detail = broken.json()["o:errorDetails"][0]
        assert detail["o:errorCode"] == "INVALID_PARAMETER"
        assert detail["detail"].startswith("Invalid search query.")
        assert suiteql(client, limit=10, offset=5).status_code == 400  # not a multiple
        assert suiteql(client, limit=1001).status_code == 400
        no_prefer = client.post(sandbox.PATH, json={"q": QUERY})
        assert no_prefer.status_code == 400
        assert no_prefer.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_HEADER"


def test_row_cap_and_concurrency_limit() -> None:
    srv = sandbox.serve(sandbox.Scenario(orders=30, rate_limit_every=2))
    with srv, httpx.Client(base_url=srv.url, auth=signer()) as client:
        assert suiteql(client, limit=20, offset=0).status_code == 200
        limited = suiteql(client, limit=20, offset=20)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
        assert limited.json()["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
        assert suiteql(client, limit=20, offset=20).status_code == 200
    srv = sandbox.serve(sandbox.Scenario(orders=30, max_rows=40))
    with srv, httpx.Client(base_url=srv.url, auth=signer()) as client:
        assert suiteql(client, limit=20, offset=20).status_code == 200
        capped = suiteql(client, limit=20, offset=40)
        assert capped.status_code == 400 and "at most 40" in capped.text
