"""The items query: one model from the monitor's screen, over the wire, to the SQL."""

from __future__ import annotations

import pytest
from conftest import WorkspaceBuilder
from pydantic import ValidationError

from tether.config.project import load_project
from tether.daemon.client import LocalBackend
from tether.errors import NotFoundError, UsageError
from tether.state.queries import ItemsQuery


def test_an_empty_search_box_or_unset_select_is_no_filter() -> None:
    query = ItemsQuery(execution_id=7, status="", search="", domain_type="orders")
    assert query.status is None and query.search is None
    assert query.wire() == {"execution_id": 7, "domain_type": "orders", "limit": 50}
    paged = query.model_copy(update={"after_id": 120})
    assert paged.count_wire() == {"execution_id": 7, "domain_type": "orders"}


def test_a_query_with_a_parameter_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError, match="sku"):
        ItemsQuery.model_validate({"execution_id": 7, "sku": "A-1"})


def test_the_items_operation_names_a_wrongly_typed_parameter(
    workspace: WorkspaceBuilder,
) -> None:
    workspace.integration(
        "shop",
        "trackstar",
        ["warehouse_inventory"],
        credentials={"api_key": "k", "access_token": "t"},
    )
    assert workspace.apply().exit_code == 0
    backend = LocalBackend(load_project(workspace.root))
    with pytest.raises(UsageError, match="limit") as bad:
        backend.call("items", execution_id=1, limit="many")
    assert "integers" in (bad.value.hint or "")
    with pytest.raises(NotFoundError, match="Unknown execution 999999"):
        backend.call("items", execution_id="999999")  # text from a script is read as the number
    with pytest.raises(NotFoundError, match="Unknown execution 999999"):
        backend.call("items_count", execution_id=999_999, search="")
