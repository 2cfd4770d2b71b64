"""Reading the fields of canonical records (checked, converted), and the errors mapping reports.

A field of the wrong type raises ``InvalidRecord``; a converter never guesses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from tether.engine.mapping.model import Item, RecordError

UNMAPPED_SKU = "UNMAPPED_SKU"
UNMAPPED_CHANNEL = "UNMAPPED_CHANNEL"
UNMAPPED_WAREHOUSE = "UNMAPPED_WAREHOUSE"
INVALID_RECORD = "INVALID_RECORD"


# ------------------------------------------------------------------------------------- messages


def unmapped_sku(sku: str, line: str | None = None) -> RecordError:
    return RecordError(
        line, UNMAPPED_SKU, f"Unmapped SKU '{sku}': no row in mappings/skus.csv", sku=sku
    )


def unmapped_channel(channel: str | None, record: str | None = None) -> RecordError:
    if not channel:
        return RecordError(record, UNMAPPED_CHANNEL, "Record has no channel to map", channel="")
    return RecordError(
        record,
        UNMAPPED_CHANNEL,
        f"Unmapped channel '{channel}': no row in mappings/channels.csv",
        channel=channel,
    )


def unmapped_warehouse(warehouse: str, record: str | None = None) -> RecordError:
    return RecordError(
        record,
        UNMAPPED_WAREHOUSE,
        f"Unmapped warehouse '{warehouse}': no row in mappings/warehouses.csv",
        warehouse=warehouse,
    )


class InvalidRecord(Exception):
    """A canonical record is missing a field or has one of the wrong type."""


def invalid(external_id: str | None, message: str) -> RecordError:
    return RecordError(external_id, INVALID_RECORD, f"Invalid record: {message}")


def summarise(errors: Sequence[RecordError]) -> tuple[str | None, str | None]:
    """The item's (error_code, error_message): the first error, and how many more there are."""
    if not errors:
        return None, None
    first = errors[0]
    distinct = {(e.code, e.message) for e in errors}
    more = len(distinct) - 1
    return first.code, first.message + (f" (and {more} more)" if more else "")


# ----------------------------------------------------------------------------- field conversion


def read_text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def read_number(record: Mapping[str, Any], key: str) -> float | None:
    value = record.get(key)
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidRecord(f"'{key}' is not a number: {value!r}")


def read_timestamp(record: Mapping[str, Any], key: str) -> str | None:
    """A validated ISO-8601 timestamp, as text (DuckDB casts it on insert; naive = UTC)."""
    return timestamp_value(record.get(key), key)


def timestamp_value(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if value.__class__ is str:
        try:
            parsed = _fromisoformat(value)
        except ValueError:
            raise InvalidRecord(f"'{key}' is not an ISO-8601 timestamp: {value!r}") from None
        return value if parsed.tzinfo else parsed.replace(tzinfo=UTC).isoformat()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    raise InvalidRecord(f"'{key}' is not a timestamp: {value!r}")


_fromisoformat = datetime.fromisoformat


def read_date(record: Mapping[str, Any], key: str) -> str | None:
    """A validated ``YYYY-MM-DD`` date, as text."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            pass
    raise InvalidRecord(f"'{key}' is not a date (YYYY-MM-DD): {value!r}")


def record_id(record: Any) -> str:
    if record.__class__ is not dict and not isinstance(record, Mapping):
        raise InvalidRecord(f"expected an object, got {type(record).__name__}")
    value = record.get("external_id")
    if value is None or value == "":
        raise InvalidRecord("'external_id' is missing")
    return value if isinstance(value, str) else str(value)


def record_label(record: Any) -> str:
    if isinstance(record, Mapping) and record.get("external_id") not in (None, ""):
        return str(record["external_id"])
    return "(no external_id)"


def invalid_item(record: Any, reason: str) -> Item:
    error = invalid(record_label(record), reason)
    return Item(
        record_label(record),
        "failed",
        error.code,
        error.message,
        failed=1,
        payload=record,
        errors=[error],
    )
