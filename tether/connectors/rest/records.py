"""Record paths and field mapping: from a page's body to canonical records, with JMESPath.

Plain dotted paths (``billing.email``), by far the most common, skip the JMESPath interpreter:
a chain of ``dict.get`` is several times faster and gives the same answer (``None`` when a key
is missing or a step is not an object). Everything else goes through ``jmespath`` with Tether's
own functions (``timestamp()``) added.
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
    return lambda doc: compiled.search(doc, options=options)


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
