"""A custom `service: rest` spec — exactly the example in docs/rest.md — against the Acme Orders
sandbox: validation with path:line:col, the spec in the plan, orders with items, item errors and
the incremental cursor, and the OAuth 2.0 refresh-token flow."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tether.connectors.rest.auth.oauth2_flow import forget_cached_tokens
from tether.sandbox import acme_orders as sandbox

DOCS = Path(__file__).parent.parent / "docs" / "rest.md"


def _docs_block(tag: str) -> str:
    match = re.search(rf"```yaml {tag}\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert match, f"docs/rest.md has no ```yaml {tag} block"
    return match.group(1)


def _write_spec(workspace: Any, text: str) -> None:
    path = workspace.root / "specs" / "acme_orders.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _setup(workspace: Any, srv: Any, spec: str | None = None, **settings: Any) -> None:
    _write_spec(workspace, spec or _docs_block("spec"))
    workspace.integration(
        "acme",
        "rest",
        ["sales_orders"],
        credentials=settings.pop("credentials", {"token": sandbox.API_TOKEN}),
        settings={"spec": "specs/acme_orders.yaml", "base_url": srv.url, **settings},
    )
    workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(20)])
    workspace.mappings("channel", [("WEB", "web", "")])


def test_the_docs_example_syncs_paid_orders_with_items_errors_and_a_cursor(
    workspace: Any, tether: Any
) -> None:
    # The integration file of the docs, too, parses into what the test writes.
    assert "service: rest" in _docs_block("integration")
    with sandbox.serve(sandbox.Scenario(orders=120)) as srv:
        _setup(workspace, srv)
        workspace.apply()
        result = tether("-w", str(workspace.root), "sync", "acme")
        orders = [srv.order(i) for i in range(120)]
        paid = [o for o in orders if o["status"] == "paid"]

        def unmapped(i: int) -> bool:
            return all(it["sku"].startswith("UNMAPPED") for it in srv.items(i))

        # An order none of whose SKUs is mapped loads nothing (a failed item), as for Shopify.
        loadable = [
            o["id"] for i, o in enumerate(orders) if o["status"] == "paid" and not unmapped(i)
        ]
        assert result.exit_code == 0, result.output
        rows = workspace.query("select external_id, order_number, total from data.sales_orders")
        assert sorted(r[0] for r in rows) == sorted(loadable)
        items = workspace.query("select count(*) from sync_items")[0][0]
        assert items == len(paid)
        sample = next(
            (i, o)
            for i, o in enumerate(orders)
            if o["status"] == "paid"
            and not any(it["sku"].startswith("UNMAPPED") for it in srv.items(i))
        )
        index, order = sample
        assert (order["id"], order["number"], order["total"]) in rows
        lines = workspace.query(
            "select external_id, sku, quantity, unit_price from data.sales_order_lines "
            "where order_external_id = ? order by external_id",
            [order["id"]],
        )
        expected = sorted(
            (it["id"], f"S{int(it['sku'][4:])}", float(it["qty"]), it["unit_price"])
            for it in srv.items(index)
        )
        assert lines == expected
        errors = workspace.query("select distinct code, sku from sync_item_errors")
        assert errors == [("UNMAPPED_SKU", "UNMAPPED-001")]
        cursor = workspace.query("select cursor->>'updated_since' from sync_state")[0][0]
        assert cursor == max(o["updated_at"] for o in orders)

        srv.requests.clear()
        again = tether("-w", str(workspace.root), "sync", "acme")
        assert again.exit_code == 0, again.output
        asked = {r.params.get("updated_since") for r in srv.requests if r.path == "/v1/orders"}
        newest = datetime.fromisoformat(cursor.replace("Z", "+00:00"))
        lookback = (newest - timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert asked == {lookback}  # the docs' lookback_seconds: 300


def test_validate_reports_spec_problems_at_their_line_and_column(
    workspace: Any, tether: Any
) -> None:
    spec = _docs_block("spec").replace("cursor_param: cursor", "cursor_parm: cursor")
    with sandbox.serve() as srv:
        _setup(workspace, srv, spec)
        result = tether("-w", str(workspace.root), "validate")
    assert result.exit_code != 0
    lines = spec.splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "cursor_parm" in line)
    assert f"specs/acme_orders.yaml:{row}:3: unknown key 'cursor_parm'" in result.output
    assert "missing required key 'cursor_param'" in result.output


def test_validate_reports_a_bad_jmespath_and_a_missing_spec_file(
    workspace: Any, tether: Any
) -> None:
    spec = re.sub(r"    records: orders\b", "    records: orders[", _docs_block("spec"))
    with sandbox.serve() as srv:
        _setup(workspace, srv, spec)
        result = tether("-w", str(workspace.root), "validate")
        row = next(i for i, line in enumerate(spec.splitlines(), 1) if "orders[" in line)
        assert f"specs/acme_orders.yaml:{row}:5: invalid JMESPath 'orders['" in result.output

        (workspace.root / "specs" / "acme_orders.yaml").unlink()
        missing = tether("-w", str(workspace.root), "validate")
    assert missing.exit_code != 0
    assert re.search(
        r"integrations/acme.yaml:\d+:\d+: spec file 'specs/acme_orders.yaml' does not exist",
        missing.output,
    )


def test_plan_shows_a_spec_edit_and_syncs_run_the_applied_spec(workspace: Any, tether: Any) -> None:
    with sandbox.serve(sandbox.Scenario(orders=30)) as srv:
        _setup(workspace, srv)
        created = tether("-w", str(workspace.root), "plan")
        assert "acme" in created.output
        workspace.apply()
        _write_spec(workspace, _docs_block("spec").replace("page_size: 100", "page_size: 7"))
        plan = tether("-w", str(workspace.root), "plan")
        assert "settings.spec_document.paginator.page_size" in plan.output
        assert "100" in plan.output and "7" in plan.output
        # Not applied yet: the sync still asks for 100 a page.
        assert tether("-w", str(workspace.root), "sync", "acme").exit_code == 0
        limits = {r.params.get("limit") for r in srv.requests if r.path == "/v1/orders"}
    assert limits == {"100"}


OAUTH_SPEC_AUTH = """auth:
  type: oauth2_refresh
  token_url: /oauth/token
"""


@pytest.fixture
def oauth_spec() -> str:
    forget_cached_tokens()
    spec = _docs_block("spec")
    return re.sub(r"auth:\n  type: bearer\n  token: token.*\n", OAUTH_SPEC_AUTH, spec)


def test_oauth2_access_token_is_bought_once_per_sync_and_renewed_on_401(
    workspace: Any, tether: Any, oauth_spec: str
) -> None:
    credentials = {
        "client_id": sandbox.CLIENT_ID,
        "client_secret": sandbox.CLIENT_SECRET,
        "refresh_token": sandbox.REFRESH_TOKEN,
    }
    with sandbox.serve(sandbox.Scenario(orders=30)) as srv:
        _setup(workspace, srv, oauth_spec, credentials=credentials)
        workspace.apply()
        assert tether("-w", str(workspace.root), "sync", "acme").exit_code == 0
        # One page of orders and one items request per paid order: all on one access token.
        assert srv.api_requests > 10 and srv.tokens_sold == 1
        srv.scenario.revoke_tokens_after = srv.api_requests + 5  # revoked early, mid-sync
        result = tether("-w", str(workspace.root), "sync", "acme", "--full")
        assert result.exit_code == 0, result.output
        # The second sync's own token, and one more bought after the 401 to the revoked one.
        assert srv.tokens_sold == 3
    grant = next(r for r in srv.requests if r.path == "/oauth/token")
    assert grant.params["grant_type"] == "refresh_token"


def test_a_refused_refresh_token_is_auth_failed_without_the_secret(
    workspace: Any, tether: Any, oauth_spec: str
) -> None:
    credentials = {
        "client_id": sandbox.CLIENT_ID,
        "client_secret": sandbox.CLIENT_SECRET,
        "refresh_token": "revoked-refresh-token-xyz",
    }
    with sandbox.serve() as srv:
        _setup(workspace, srv, oauth_spec, credentials=credentials)
        workspace.apply()
        result = tether("-w", str(workspace.root), "sync", "acme")
    assert result.exit_code != 0
    assert "AUTH_FAILED" in result.output and "invalid_grant" in result.output
    assert "revoked-refresh-token-xyz" not in result.output
    error = workspace.query("select error from executions")[0][0]
    assert "revoked-refresh-token-xyz" not in error and "refresh token" in error
