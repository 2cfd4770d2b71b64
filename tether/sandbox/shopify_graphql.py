"""The slice of Shopify's Admin GraphQL schema the sandbox serves: parse, validate, cost, project.

Queries are parsed and validated by graphql-core against ``SDL`` (so a misspelt field gets the
same kind of error Shopify gives), costed the way Shopify documents it (scalars 0, objects 1,
connections ``2 + first × node cost``), then answered by projecting the store's plain dicts
through the selection set; graphql-core's resolver machinery would be the slow part, not parsing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

SDL = """
scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64

interface Node { id: ID! }

enum OrderSortKeys { UPDATED_AT CREATED_AT PROCESSED_AT ID }
enum ProductVariantSortKeys { UPDATED_AT ID SKU }
enum OrderDisplayFinancialStatus {
  PAID PARTIALLY_REFUNDED REFUNDED PENDING AUTHORIZED PARTIALLY_PAID VOIDED EXPIRED
}
enum OrderDisplayFulfillmentStatus { FULFILLED UNFULFILLED PARTIALLY_FULFILLED }
enum CurrencyCode { USD EUR GBP CAD AUD }
enum BulkOperationStatus { CREATED RUNNING COMPLETED CANCELING CANCELED FAILED EXPIRED }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { QUERY MUTATION }
enum CountPrecision { EXACT AT_LEAST }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type ChannelDefinition implements Node { id: ID! handle: String! channelName: String! }
type ChannelInformation implements Node { id: ID! channelDefinition: ChannelDefinition }

type LineItem implements Node {
  id: ID!
  sku: String
  name: String!
  quantity: Int!
  currentQuantity: Int!
  originalUnitPriceSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  currencyCode: CurrencyCode!
  sourceName: String
  totalPriceSet: MoneyBag!
  channelInformation: ChannelInformation
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean): LineItemConnection!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type Product implements Node { id: ID! title: String! handle: String! }
type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  title: String!
  displayName: String!
  price: Money!
  createdAt: DateTime!
  updatedAt: DateTime!
  product: Product!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo!
}

type Channel implements Node { id: ID! handle: String! name: String! }
type ChannelEdge { cursor: String! node: Channel! }
type ChannelConnection { edges: [ChannelEdge!]! nodes: [Channel!]! pageInfo: PageInfo! }

type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
  type: BulkOperationType!
  createdAt: DateTime!
  completedAt: DateTime
}
type UserError { field: [String!] message: String! }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }

type Count { count: Int! precision: CountPrecision! }

type Shop { name: String! myshopifyDomain: String! currencyCode: CurrencyCode! }

type AccessScope { handle: String! description: String! }
type App { id: ID! title: String! handle: String }
type AppInstallation implements Node { id: ID! app: App! accessScopes: [AccessScope!]! }

type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean,
         sortKey: OrderSortKeys, query: String): OrderConnection!
  ordersCount(query: String, limit: Int = 10000, savedSearchId: ID): Count
  productVariants(first: Int, after: String, last: Int, before: String, reverse: Boolean,
                  sortKey: ProductVariantSortKeys, query: String): ProductVariantConnection!
  channels(first: Int, after: String, last: Int, before: String, reverse: Boolean): ChannelConnection!
  node(id: ID!): Node
  currentBulkOperation(type: BulkOperationType): BulkOperation
  currentAppInstallation: AppInstallation!
}

type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}

schema { query: QueryRoot mutation: Mutation }
"""

CONNECTIONS = frozenset({"orders", "productVariants", "channels", "lineItems"})
"""Fields whose value is a connection (costed ``2 + first × node cost``, paged with cursors)."""

MUTATION_COST = 10
MAX_PAGE = 250


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    return build_schema(SDL)


class QueryError(Exception):
    """A GraphQL-level error, sent back in ``errors`` with HTTP 200 as Shopify does."""

    def __init__(self, message: str, code: str | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": code, **extensions} if code else extensions

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.extensions:
            out["extensions"] = self.extensions
        return out


@dataclass(frozen=True)
class Operation:
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]


@lru_cache(maxsize=256)
def prepare(query: str, operation_name: str | None = None) -> Operation | list[GraphQLError]:
    """Parse and validate once per distinct query text (clients repeat the same query)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return [exc]
    errors = validate(schema(), document)
    if errors:
        return list(errors)
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        ops = [op for op in ops if op.name is not None and op.name.value == operation_name]
    if len(ops) != 1:
        return [GraphQLError("An operation name is required when a document has several.")]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Operation(document, ops[0], fragments)


@dataclass
class Context:
    op: Operation
    variables: dict[str, Any]
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    """id(FieldNode) -> (times resolved, items returned in all) per connection field, for
    ``actualQueryCost`` (which Shopify computes from what was really returned)."""

    def count(self, node: FieldNode, items: int) -> None:
        calls, total = self.counts.get(id(node), (0, 0))
        self.counts[id(node)] = (calls + 1, total + items)

    def args(self, node: FieldNode) -> dict[str, Any]:
        values = {
            a.name.value: value_from_ast_untyped(a.value, self.variables)
            for a in node.arguments or ()
        }
        return values

    def fields(
        self, selection_set: SelectionSetNode | None, typename: str | None = None
    ) -> Iterator[FieldNode]:
        """The fields of a selection set, fragments flattened (filtered by ``typename`` if given)."""
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield sel
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else None
                if typename is None or cond in (None, typename, "Node"):
                    yield from self.fields(sel.selection_set, typename)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.op.fragments[sel.name.value]
                cond = frag.type_condition.name.value
                if typename is None or cond in (typename, "Node"):
                    yield from self.fields(frag.selection_set, typename)


def with_variables(op: Operation, supplied: dict[str, Any] | None) -> Context:
    variables: dict[str, Any] = {}
    for definition in op.operation.variable_definitions or ():
        name = definition.variable.name.value
        if supplied and name in supplied:
            variables[name] = supplied[name]
        elif definition.default_value is not None:
            variables[name] = value_from_ast_untyped(definition.default_value, {})
        else:
            variables[name] = None
    return Context(op, variables)


# -- cost ----------------------------------------------------------------------------------------


def page_size(args: dict[str, Any]) -> int:
    size = args.get("first") or args.get("last") or 0
    if not isinstance(size, int) or size < 0:
        raise QueryError("Argument 'first' must be a non-negative integer.")
    return size


def requested_cost(ctx: Context, *, actual: bool = False) -> int:
    """Shopify's calculated cost of the operation (``actual``: with the items really returned)."""
    if ctx.op.operation.operation.value == "mutation":
        return MUTATION_COST
    return _cost(ctx, ctx.op.operation.selection_set, actual)


def _cost(ctx: Context, selection_set: SelectionSetNode | None, actual: bool) -> int:
    total = 0
    for node in ctx.fields(selection_set):
        if node.selection_set is None:
            continue
        name = node.name.value
        if name in CONNECTIONS:
            count: float = page_size(ctx.args(node))
            if actual:
                calls, items = ctx.counts.get(id(node), (1, 0))
                count = items / max(1, calls)
            total += round(2 + count * (1 + _connection_node_cost(ctx, node, actual)))
        elif name == "pageInfo":
            continue
        else:
            total += 1 + _cost(ctx, node.selection_set, actual)
    return total


def _connection_node_cost(ctx: Context, connection: FieldNode, actual: bool) -> int:
    total = 0
    for node in ctx.fields(connection.selection_set):
        if node.name.value == "nodes":
            total += _cost(ctx, node.selection_set, actual)
        elif node.name.value == "edges":
            for inner in ctx.fields(node.selection_set):
                if inner.name.value == "node":
                    total += _cost(ctx, inner.selection_set, actual)
    return total


# -- projection -----------------------------------------------------------------------------------


def encode_cursor(last_id: int, last_value: str | None = None) -> str:
    return base64.b64encode(orjson.dumps({"last_id": last_id, "last_value": last_value})).decode()


def decode_cursor(cursor: str) -> int:
    return decode_position(cursor)[0]


def decode_position(cursor: str) -> tuple[int, str | None]:
    """A cursor's (last id, last sort value): a page resumes after that position."""
    try:
        value = orjson.loads(base64.b64decode(cursor.encode(), validate=True))
        last = value.get("last_value")
        return int(value["last_id"]), last if isinstance(last, str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise QueryError(f"Invalid cursor '{cursor}'.", "BAD_REQUEST") from None


@dataclass
class Page:
    """One page of a connection: items with their cursors, and whether more follow."""

    items: list[tuple[str, dict[str, Any]]]
    has_next: bool
    has_previous: bool = False


def project(ctx: Context, value: Any, selection_set: SelectionSetNode | None) -> Any:
    """Shape ``value`` (a plain dict from the store) by ``selection_set``."""
    if value is None or selection_set is None:
        return value
    if isinstance(value, list):
        return [project(ctx, v, selection_set) for v in value]
    if isinstance(value, Page):
        return _project_page(ctx, value, selection_set)
    out: dict[str, Any] = {}
    typename = value.get("__typename")
    for node in ctx.fields(selection_set, typename):
        key = node.alias.value if node.alias else node.name.value
        name = node.name.value
        raw = value.get(name)
        if name == "lineItems" and isinstance(raw, list):
            raw = list_page(raw, ctx.args(node))
            ctx.count(node, len(raw.items))
        out[key] = project(ctx, raw, node.selection_set)
    return out


def _project_page(ctx: Context, page: Page, selection_set: SelectionSetNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in ctx.fields(selection_set):
        key = node.alias.value if node.alias else node.name.value
        name = node.name.value
        if name == "edges":
            out[key] = [
                {
                    (e.alias.value if e.alias else e.name.value): (
                        cursor if e.name.value == "cursor" else project(ctx, item, e.selection_set)
                    )
                    for e in ctx.fields(node.selection_set)
                }
                for cursor, item in page.items
            ]
        elif name == "nodes":
            out[key] = [project(ctx, item, node.selection_set) for _, item in page.items]
        elif name == "pageInfo":
            info = {
                "hasNextPage": page.has_next,
                "hasPreviousPage": page.has_previous,
                "startCursor": page.items[0][0] if page.items else None,
                "endCursor": page.items[-1][0] if page.items else None,
            }
            out[key] = {
                (p.alias.value if p.alias else p.name.value): info[p.name.value]
                for p in ctx.fields(node.selection_set)
            }
    return out


def list_page(items: list[dict[str, Any]], args: dict[str, Any]) -> Page:
    """A connection over an in-memory list (line items, channels), cursors by position."""
    size = min(page_size(args), MAX_PAGE)
    start = decode_cursor(args["after"]) + 1 if args.get("after") else 0
    chosen = items[start : start + size]
    return Page(
        [(encode_cursor(start + n), item) for n, item in enumerate(chosen)],
        has_next=start + size < len(items),
        has_previous=start > 0,
    )


def indexed_page(
    indices: Iterable[int],
    size: int,
    build: Callable[[int], dict[str, Any]],
    cursor_of: Callable[[int], str],
) -> Page:
    """First ``size`` of the matching ``indices``, and whether one more exists."""
    items: list[tuple[str, dict[str, Any]]] = []
    it = iter(indices)
    for i in it:
        if len(items) == size:
            return Page(items, has_next=True)
        items.append((cursor_of(i), build(i)))
    return Page(items, has_next=False)


def compile_projection(
    ctx: Context, selection_set: SelectionSetNode | None
) -> Callable[[Any], Any]:
    """``project`` specialised for one selection set over homogeneous nodes (bulk output).

    Nested connections are left out: bulk output puts their nodes on lines of their own.
    """
    scalars: list[tuple[str, str]] = []
    objects: list[tuple[str, str, Callable[[Any], Any]]] = []
    for node in ctx.fields(selection_set):
        key = node.alias.value if node.alias else node.name.value
        if node.name.value in CONNECTIONS:
            continue
        if node.selection_set is None:
            scalars.append((key, node.name.value))
        else:
            objects.append((key, node.name.value, compile_projection(ctx, node.selection_set)))

    def run(value: Any) -> Any:
        if value is None:
            return None
        out = {key: value.get(name) for key, name in scalars}
        for key, name, inner in objects:
            out[key] = inner(value.get(name))
        return out

    return run
