"""Shopify's search syntax (the ``query:`` argument of a connection), parsed into a predicate.

Supported: ``field:value``, ``field:>=value`` (also ``>``, ``<=``, ``<``), quoted values,
``AND`` / ``OR`` / ``NOT`` / ``-term``, parentheses, and implicit AND between terms. Timestamps
compare as instants (``2026-01-01T00:00:00Z`` or a bare date); other values compare as lowercase
strings. Unknown fields are ignored with a warning, as Shopify does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

TIME_FIELDS = frozenset({"updated_at", "created_at", "processed_at"})

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|
        (?P<term>-?[A-Za-z_]+:(?:>=|<=|>|<|=)?(?:'[^']*'|"[^"]*"|[^\s()]+))|
        (?P<word>[^\s()]+)
    )""",
    re.VERBOSE,
)
_TERM = re.compile(r"(-?)([A-Za-z_]+):(>=|<=|>|<|=)?(.*)", re.DOTALL)


class SearchSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # ":" ">=" "<=" ">" "<"
    value: Any


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or | None


def parse_time(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise SearchSyntaxError(f"cannot read search query near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or "word"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _term(text: str, warnings: list[str]) -> Node:
    m = _TERM.match(text)
    assert m is not None
    negate, field, op, raw = m.groups()
    value = raw[1:-1] if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) >= 2 else raw
    op = op if op and op != "=" else ":"
    parsed: Any
    if field in TIME_FIELDS:
        try:
            parsed = parse_time(value)
        except ValueError:
            raise SearchSyntaxError(f"invalid date {value!r} for {field}") from None
    else:
        parsed = value.lower()
    node: Node = Term(field, op, parsed)
    return Not(node) if negate else node


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], known: frozenset[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.known = known
        self.warnings: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expr(self) -> Node:
        children = [self.conj()]
        while (tok := self.peek()) is not None and tok == ("word", "OR"):
            self.pos += 1
            children.append(self.conj())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def conj(self) -> Node:
        children = [self.unary()]
        while (tok := self.peek()) is not None and tok[0] != "rparen" and tok != ("word", "OR"):
            if tok == ("word", "AND"):
                self.pos += 1
            children.append(self.unary())
        kept = tuple(c for c in children if c is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(kept)

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise SearchSyntaxError("search query ends early")
        self.pos += 1
        kind, text = tok
        if kind == "lparen":
            inner = self.expr()
            if self.peek() != ("rparen", ")"):
                raise SearchSyntaxError("unbalanced parentheses in search query")
            self.pos += 1
            return inner
        if kind == "word" and text == "NOT":
            child = self.unary()
            return Not(child) if child is not None else None
        if kind == "term":
            node = _term(text, self.warnings)
            field = (node.child if isinstance(node, Not) else node).field  # type: ignore[union-attr]
            if field not in self.known:
                self.warnings.append(f"Invalid search field for this query: '{field}'.")
                return None
            return node
        raise SearchSyntaxError(f"unexpected {text!r} in search query")


@dataclass(frozen=True)
class Search:
    root: Node
    warnings: tuple[str, ...]

    def matches(self, get: Callable[[str], Any]) -> bool:
        return _eval(self.root, get)

    def lower_bound(self, field: str) -> float | None:
        """The tightest ``field >= x`` every match satisfies (lets the server bisect)."""
        return _bound(self.root, field, lower=True)

    def upper_bound(self, field: str) -> float | None:
        return _bound(self.root, field, lower=False)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, list):
        return any(_compare(a, op, expected) for a in actual)
    if isinstance(expected, str):
        actual = str(actual).lower()
    elif isinstance(actual, str):
        return False
    if op == ":":
        return bool(actual == expected)
    if op == ">=":
        return bool(actual >= expected)
    if op == "<=":
        return bool(actual <= expected)
    if op == ">":
        return bool(actual > expected)
    return bool(actual < expected)


def _eval(node: Node, get: Callable[[str], Any]) -> bool:
    if node is None:
        return True
    if isinstance(node, Term):
        return _compare(get(node.field), node.op, node.value)
    if isinstance(node, Not):
        return not _eval(node.child, get)
    if isinstance(node, And):
        return all(_eval(c, get) for c in node.children)
    return any(_eval(c, get) for c in node.children)


def _bound(node: Node, field: str, *, lower: bool) -> float | None:
    if isinstance(node, Term) and node.field == field and isinstance(node.value, float):
        if lower and node.op in (">=", ">", ":"):
            return node.value
        if not lower and node.op in ("<=", "<", ":"):
            return node.value
        return None
    if isinstance(node, And):
        bounds = [b for c in node.children if (b := _bound(c, field, lower=lower)) is not None]
        if not bounds:
            return None
        return max(bounds) if lower else min(bounds)
    if isinstance(node, Or):
        either = [_bound(c, field, lower=lower) for c in node.children]
        known = [b for b in either if b is not None]
        if len(known) != len(either):
            return None
        return min(known) if lower else max(known)
    return None


@lru_cache(maxsize=256)
def parse_search(text: str | None, known: frozenset[str]) -> Search:
    """Parse ``text``; raises ``SearchSyntaxError``. Cached: connectors repeat their filters."""
    if not text or not text.strip():
        return Search(None, ())
    parser = _Parser(_tokens(text), known)
    root = parser.expr()
    if parser.peek() is not None:
        raise SearchSyntaxError(f"unexpected {parser.peek()[1]!r} in search query")  # type: ignore[index]
    return Search(root, tuple(parser.warnings))


def fields_of(node: Node) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, Term):
        return {node.field}
    if isinstance(node, Not):
        return fields_of(node.child)
    return set().union(*(fields_of(c) for c in node.children))


def without_range(search: Search, field: str) -> Search | None:
    """``search`` minus its top-level ``field`` range terms, when those are exactly what
    ``lower_bound``/``upper_bound`` express (the caller then applies the range by position);
    ``None`` when ``field`` also appears elsewhere in the tree."""
    root = search.root
    children = root.children if isinstance(root, And) else (root,)
    kept: list[Node] = []
    for child in children:
        if isinstance(child, Term) and child.field == field and child.op in (">=", "<="):
            continue
        if field in fields_of(child):
            return None
        kept.append(child)
    if not kept:
        return Search(None, search.warnings)
    return Search(kept[0] if len(kept) == 1 else And(tuple(kept)), search.warnings)
