"""The vocabulary module and the state's documented values say the same words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tether.vocabulary import ExecutionStatus, ItemStatus, Role, Trigger

MIGRATION = Path(__file__).parent.parent / "tether" / "state" / "migrations" / "001_init.sql"


def documented(column_comment_prefix: str) -> set[str]:
    """The `a | b | c` list the schema's comment gives for a column."""
    for line in MIGRATION.read_text().splitlines():
        if line.strip().startswith(column_comment_prefix) and "--" in line:
            return {word.strip() for word in line.split("--", 1)[1].split("|")}
    raise AssertionError(f"no documented values for {column_comment_prefix!r}")


def test_execution_and_item_statuses_are_the_ones_the_schema_documents() -> None:
    text = MIGRATION.read_text()
    statuses = re.findall(r"status\s+VARCHAR NOT NULL,\s+--\s*(.+)", text)
    assert {w.strip() for w in statuses[0].split("|")} == set(ExecutionStatus)
    assert {w.strip() for w in statuses[1].split("|")} == set(ItemStatus)


def test_the_schema_documents_every_trigger_but_those_added_since() -> None:
    # 001 lists the first four; backfill and retry_after_failure came with migrations 005/007.
    assert documented("trigger") | {"backfill", "retry_after_failure"} == set(Trigger)


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        ("viewer", "viewer", True),
        ("viewer", "operator", False),
        ("operator", "viewer", True),
        ("operator", "admin", False),
        ("admin", "operator", True),
        ("admin", "admin", True),
    ],
)
def test_roles_are_ordered(role: str, needed: str, allowed: bool) -> None:
    assert Role(role).allows(needed) is allowed


def test_a_member_is_its_string() -> None:
    assert ItemStatus.PARTIAL_MAPPED == "partial_mapped"
    assert f"{Trigger.BACKFILL}" == "backfill"
