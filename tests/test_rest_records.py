"""The fast evaluation of spec expressions gives JMESPath's own answers."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.connectors.rest.records import compile_expression

EXPRESSIONS = [
    "id",
    "a.b",
    "to_string(id)",
    "join('|', [to_string(fc.id), to_string(id)])",
    "status == 'paid'",
    "status != 'paid'",
    "contains(`[1, 7]`, status_id)",
    "'web'",
    "a.b.c",
]
values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2), st.sampled_from(["paid", "x"])
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "id": values,
        "status": values,
        "status_id": values,
        "fc": st.one_of(values, st.fixed_dictionaries({}, optional={"id": values})),
        "a": st.one_of(values, st.fixed_dictionaries({}, optional={"b": values})),
    },
)


@pytest.mark.parametrize("expression", EXPRESSIONS)
@given(doc=documents)
def test_fast_expressions_agree_with_jmespath(expression: str, doc: dict[str, Any]) -> None:
    try:
        expected = jmespath.search(expression, doc)
    except jmespath.exceptions.JMESPathError:
        # A type error on this record's values: the field is missing (the engine reports it).
        assert compile_expression(expression)(doc) is None
        return
    assert compile_expression(expression)(doc) == expected


def test_timestamp_reads_rfc2822_iso_and_epoch() -> None:
    get = compile_expression("timestamp(at)")
    assert get({"at": "Tue, 02 Dec 2025 10:20:30 +0100"}) == "2025-12-02T09:20:30Z"
    assert get({"at": "2025-12-02T10:20:30"}) == "2025-12-02T10:20:30Z"
    assert get({"at": 0}) == "1970-01-01T00:00:00Z"
    assert get({"at": "garbage"}) == "garbage"  # left for the engine to report, with the value
