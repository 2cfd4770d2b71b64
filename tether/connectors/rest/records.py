"""Record paths and field mapping: from a page's body to canonical records, with JMESPath.

Every expression is parsed by ``jmespath``; the few shapes specs use most — dotted paths
(``billing.email``), literals, ``to_string``/``join``/``contains``/``timestamp`` calls, ``==``
and ``!=`` — are then evaluated by small closures over that parse tree instead of the
interpreter (a chain of ``dict.get`` is several times faster: it is what keeps a spec within
reach of a hand-written connector, see benchmarks/bench_rest.py). Whenever a closure meets a value
it is not sure about (a non-string in ``join``), it hands the record to the real interpreter, so
the answer is always JMESPath's. Tether's own function ``timestamp()`` is added to both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

from tether.connectors.rest.spec import Resource
from tether.errors import DataError

Getter = Callable[[Any], Any]
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (``Z``, offset or naive = UTC), RFC 2822 (BigCommerce v2) or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def _functions() -> Any:
    import jmespath.functions

    class TetherFunctions(jmespath.functions.Functions):  # type: ignore[misc]
        @jmespath.functions.signature({"types": []})  # type: ignore[untyped-decorator]
        def _func_timestamp(self, value: Any) -> Any:
            """Any timestamp the APIs send, as ISO-8601 UTC; unreadable values pass through
            unchanged, so the record is reported as invalid (with the value) instead of lost."""
            moment = parse_time(value)
            return iso_z(moment) if moment is not None else value

    return jmespath.Options(custom_functions=TetherFunctions())


@cache
def compile_expression(expression: str) -> Getter:
    """A function from a document to the value ``expression`` selects."""
    if expression == "@":
        return _identity
    if _DOTTED.match(expression):
        keys = expression.split(".")
        if len(keys) == 1:
            key = keys[0]
            return lambda doc: doc.get(key) if isinstance(doc, dict) else None
        return lambda doc: _dig(doc, keys)
    import jmespath

    compiled = jmespath.compile(expression)
    options = _functions()

    def interpret(doc: Any) -> Any:
        try:
            return compiled.search(doc, options=options)
        except jmespath.exceptions.JMESPathError:
            # A type error on this record's values (join of a number): the field is missing,
            # which the engine reports on the record, instead of failing the page.
            return None

    fast = _fast(compiled.parsed)
    if fast is None:
        return interpret

    def evaluate(doc: Any) -> Any:
        try:
            return fast(doc)
        except _Unsure:
            return interpret(doc)

    return evaluate


class _Unsure(Exception):
    """A fast closure met a value whose JMESPath answer it does not compute itself."""


def _fast(node: dict[str, Any]) -> Getter | None:
    """A closure computing ``node``, or ``None`` for shapes left to the interpreter."""
    kind, children = node["type"], node["children"]
    if kind == "field":
        key = node["value"]
        return lambda doc: doc.get(key) if isinstance(doc, dict) else None
    if kind == "current":
        return _identity
    if kind == "literal":
        value = node["value"]
        return lambda doc: value
    keys = _field_chain(node)
    if keys is not None:
        return lambda doc: _dig(doc, keys)
    parts = [_fast(child) for child in children]
    if any(part is None for part in parts):
        return None
    getters: list[Getter] = [p for p in parts if p is not None]
    if kind == "subexpression":
        left, right = getters

        def sub(doc: Any) -> Any:
            inner = left(doc)
            return None if inner is None else right(inner)

        return sub
    if kind == "multi_select_list":
        return lambda doc: None if doc is None else [g(doc) for g in getters]
    if kind == "comparator" and node["value"] in ("eq", "ne"):
        left, right = getters
        equal = node["value"] == "eq"

        def compare(doc: Any) -> Any:
            a, b = left(doc), right(doc)
            if isinstance(a, bool) or isinstance(b, bool):
                raise _Unsure
            return (a == b) is equal

        return compare
    if kind == "function_expression":
        return _fast_function(node["value"], getters)
    return None


def _field_chain(node: dict[str, Any]) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; ``None`` if ``node`` is anything else."""
    if node["type"] == "field":
        return [node["value"]]
    if node["type"] != "subexpression":
        return None
    left, right = (_field_chain(child) for child in node["children"])
    return None if left is None or right is None else left + right


def _fast_function(name: str, args: list[Getter]) -> Getter | None:
    if name == "to_string" and len(args) == 1:
        (arg,) = args

        def to_string(doc: Any) -> Any:
            value = arg(doc)
            if isinstance(value, str):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            raise _Unsure

        return to_string
    if name == "join" and len(args) == 2:
        glue, items = args

        def join(doc: Any) -> Any:
            sep, values = glue(doc), items(doc)
            if not isinstance(sep, str) or not isinstance(values, list):
                raise _Unsure
            if not all(isinstance(v, str) for v in values):
                raise _Unsure
            return sep.join(values)

        return join
    if name == "contains" and len(args) == 2:
        haystack, needle = args

        def contains(doc: Any) -> Any:
            found, value = haystack(doc), needle(doc)
            if not isinstance(found, list) or isinstance(value, bool | float):
                raise _Unsure
            return any(type(v) is type(value) and v == value for v in found)

        return contains
    if name == "timestamp" and len(args) == 1:
        (arg,) = args

        def timestamp(doc: Any) -> Any:
            value = arg(doc)
            moment = parse_time(value)
            return iso_z(moment) if moment is not None else value

        return timestamp
    return None


def _identity(doc: Any) -> Any:
    return doc


def _dig(doc: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _id_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class RecordMapper:
    """One resource's mapping, compiled once: body → raw records → canonical records."""

    def __init__(self, resource: Resource, service: str) -> None:
        self.service = service
        self.path = resource.path
        self._records = compile_expression(resource.records)
        self._keep = compile_expression(resource.filter) if resource.filter else None
        self._fields = [(n, compile_expression(e)) for n, e in resource.fields.items()]
        self._explode = None
        if resource.explode is not None:
            self._explode = (compile_expression(resource.explode.path), resource.explode.as_)
        self._lines = None
        if resource.lines is not None:
            line_fields = [(n, compile_expression(e)) for n, e in resource.lines.fields.items()]
            self._lines = (compile_expression(resource.lines.path), line_fields)

    def raw_records(self, body: Any) -> list[dict[str, Any]]:
        """The list of records in ``body``; anything else is a malformed page."""
        found = self._records(body)
        if found is None and body in (None, "", [], {}):
            return []
        if not isinstance(found, list):
            raise DataError(
                f"Malformed page from {self.service} ({self.path}): expected a list of records "
                f"at the spec's 'records' path, got {_shape(found)}.",
                hint="The service sent an unexpected body; retry later, or fix 'records' in the "
                "spec if the API answers this way.",
            )
        for record in found:
            if not isinstance(record, dict):
                raise DataError(
                    f"Malformed record from {self.service} ({self.path}): expected an object, "
                    f"got {_shape(record)}.",
                    hint="Retry later or contact the service's support.",
                )
        return found

    def keep(self, raw: Mapping[str, Any]) -> bool:
        return self._keep is None or bool(self._keep(raw))

    def canonical(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        if self._explode is None:
            return [self._map(raw)]
        select, name = self._explode
        elements = select(raw) or []
        if not isinstance(elements, list):
            elements = [elements]
        return [self._map({**raw, name: element}) for element in elements]

    def _map(self, source: dict[str, Any]) -> dict[str, Any]:
        record = {name: get(source) for name, get in self._fields}
        record["external_id"] = _id_text(record.get("external_id"))
        if self._lines is not None:
            select, fields = self._lines
            lines = []
            for line in select(source) or []:
                mapped = {name: get(line) for name, get in fields}
                if "external_id" in mapped:
                    mapped["external_id"] = _id_text(mapped["external_id"])
                lines.append(mapped)
            record["lines"] = lines
        return record


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "an object with keys " + ", ".join(sorted(map(str, value))[:6])
    if value is None:
        return "nothing"
    return type(value).__name__
