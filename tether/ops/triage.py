"""Triage operations (viewer): executions, items, item, errors. Shapes: docs ops contract."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tether.errors import UsageError
from tether.ops import Context, operation
from tether.state.queries import ItemsQuery


@operation("executions", "viewer")
def executions(
    ctx: Context,
    integration: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """List sync executions, newest first."""
    from tether.state import queries

    with ctx.state.read() as con:
        if integration is not None:
            queries.require_integration(con, integration)
        return queries.executions(
            con, integration=integration, status=status, limit=limit, before_id=before_id
        )


def _items_query(**params: Any) -> ItemsQuery:
    """The query the wire's parameters describe; a wrong type is the caller's mistake."""
    try:
        return ItemsQuery(**params)
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(
            f"Bad items query: {wrong}.",
            hint="execution_id, after_id and limit are integers; status, search and domain_type text.",
        ) from None


@operation("items", "viewer")
def items(
    ctx: Context,
    execution_id: int,
    status: str | None = None,
    search: str | None = None,
    domain_type: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
    count: bool = True,
) -> dict[str, Any]:
    """One keyset page of an execution's sync items."""
    from tether.state import queries

    query = _items_query(
        execution_id=execution_id,
        status=status,
        search=search,
        domain_type=domain_type,
        after_id=after_id,
        limit=limit,
    )
    with ctx.state.read() as con:
        return queries.items(con, query, count=count)


@operation("items_count", "viewer")
def items_count(
    ctx: Context,
    execution_id: int,
    status: str | None = None,
    search: str | None = None,
    domain_type: str | None = None,
) -> dict[str, Any]:
    """How many of an execution's sync items match the filters."""
    from tether.state import queries

    query = _items_query(
        execution_id=execution_id, status=status, search=search, domain_type=domain_type
    )
    with ctx.state.read() as con:
        return queries.items_count(con, query)


@operation("item", "viewer")
def item(ctx: Context, execution_id: int, item_id: int) -> dict[str, Any]:
    """One sync item with its per-record errors and stored payload."""
    from tether.state import queries

    with ctx.state.read() as con:
        return queries.item(con, int(execution_id), int(item_id))


@operation("errors", "viewer")
def errors(
    ctx: Context, execution_id: int | None = None, integration: str | None = None
) -> dict[str, Any]:
    """Error analysis of an execution or an integration, with the ledger across runs."""
    from tether.engine.analysis import ledger
    from tether.errors import TetherError
    from tether.state import queries

    if (execution_id is None) == (integration is None):
        raise TetherError("Give either an execution id or an integration id.")
    with ctx.state.read() as con:
        result = queries.error_analysis(con, execution_id=execution_id, integration=integration)
        assert con is not None
        owner = (
            integration
            if integration is not None
            else queries.integration_of_execution(con, int(execution_id or 0))
        )
        entries = ledger(queries.error_history(con, owner), queries.latest_executions(con, owner))
        if execution_id is not None:
            seen = queries.error_keys(con, int(execution_id))
            entries = [e for e in entries if (e["code"], e["key"]) in seen]
        result["ledger"] = entries
        return result
