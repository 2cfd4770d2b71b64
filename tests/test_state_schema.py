"""The engine's table specs (tether.engine.mapping.TABLES) describe the data.* tables the
migrations create: same tables, same columns, matching types."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tether.engine.mapping import TABLES
from tether.state.db import migrate

SPEC_TYPES = {
    "str": "VARCHAR",
    "float": "DOUBLE",
    "ts": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "bool": "BOOLEAN",
}
"""TableSpec's column types as DuckDB's information_schema names them."""

ENGINE_COLUMNS = {"integration_id": "VARCHAR", "execution_id": "BIGINT"}
"""Columns every data.* table has that the writer fills itself (not part of a spec)."""


def _state_columns(tmp_path: Path) -> dict[str, dict[str, str]]:
    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))
    try:
        migrate(con)
    finally:
        con.close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'data' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, {})[column] = data_type
    return tables


def test_every_spec_type_is_mapped() -> None:
    used = {kind for spec in TABLES.values() for _, kind in spec.columns}
    assert used <= set(SPEC_TYPES)


def test_the_table_specs_match_the_migrated_data_tables(tmp_path: Path) -> None:
    state = _state_columns(tmp_path)
    assert sorted(state) == sorted(TABLES)
    for name, spec in TABLES.items():
        expected = {column: SPEC_TYPES[kind] for column, kind in spec.columns}
        assert not set(expected) & set(ENGINE_COLUMNS), name
        expected.update(ENGINE_COLUMNS)
        assert state[name] == expected, name
        assert spec.key in spec.column_names, name
