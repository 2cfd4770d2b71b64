import pytest

from tether.jsontypes import JSONValue, as_list, as_object, as_str


def test_a_value_of_the_expected_json_type_passes_through() -> None:
    payload: JSONValue = {"orders": [{"id": "1"}]}
    orders = as_list(as_object(payload)["orders"])
    assert as_str(as_object(orders[0])["id"]) == "1"


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (as_object, [1], "a JSON object, got list"),
        (as_list, {}, "a JSON array, got dict"),
        (as_str, 3, "a string, got int"),
    ],
)
def test_a_value_of_another_type_is_refused_naming_where(check, value, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=f"orders.0: expected {expected}"):
        check(value, "orders.0")
