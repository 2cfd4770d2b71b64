"""``mappings/*.csv``: external ids → Tether codes, one row per external id.

Rows are keyed by (kind, integration, external_id); an empty ``integration`` applies to every
integration. Matching is exact and case-sensitive, so values are never trimmed or case-folded —
only reported when they carry surrounding spaces, which is almost always a mistake.

Files can hold 100,000s of rows, so rows stay columnar (an Arrow table) from parsing through
validation (SQL over the table in an in-memory DuckDB) to the plan's keyed diff; only rows with a
problem, or rows that changed, ever become Python objects.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.config.model import MAPPING_FILES
from tether.errors import Problem

if TYPE_CHECKING:
    import pyarrow as pa

HEADERS = {
    "sku": ["sku", "external_id", "integration"],
    "channel": ["channel", "external_id", "integration"],
    "warehouse": ["warehouse", "external_id", "integration"],
}
COLUMNS = ("kind", "integration_id", "external_id", "target", "line")


def header_line(kind: str) -> str:
    return ",".join(HEADERS[kind])


def empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "kind": pa.array([], pa.string()),
            "integration_id": pa.array([], pa.string()),
            "external_id": pa.array([], pa.string()),
            "target": pa.array([], pa.string()),
            "line": pa.array([], pa.int64()),
        }
    )


def _fast_columns(raw: bytes, kind: str) -> pa.Table | None:
    """Parse with Arrow's C reader when line numbers are certain (no quotes, CRs, blank lines)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    body = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    if not body or b'"' in body or b"\r" in body or b"\n\n" in body:
        return None
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(
                column_names=["target", "external_id", "integration_id"]
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in ("target", "external_id", "integration_id")},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # e.g. a row with the wrong number of columns: the slow path says which
    rows = table.num_rows
    return pa.table(
        {
            "kind": pa.array([kind] * rows, pa.string()),
            "integration_id": table["integration_id"],
            "external_id": table["external_id"],
            "target": table["target"],
            "line": pa.array(range(2, rows + 2), pa.int64()),
        }
    )


def _slow_columns(path: Path, display: str, kind: str) -> tuple[pa.Table, list[Problem]]:
    import pyarrow as pa

    problems: list[Problem] = []
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if not row or row == ["", "", ""]:
                continue
            if len(row) != 3:
                problems.append(
                    Problem(
                        display,
                        reader.line_num,
                        1,
                        f"expected 3 columns ({header_line(kind)}), got {len(row)}",
                    )
                )
                continue
            cols["kind"].append(kind)
            cols["target"].append(row[0])
            cols["external_id"].append(row[1])
            cols["integration_id"].append(row[2])
            cols["line"].append(reader.line_num)
    schema = empty_table().schema
    return pa.table(cols, schema=schema), problems


MAX_LINE_BYTES = 64 * 1024
"""A mapping row is three short codes; a longer line is not a mapping row (and a 100 MB one
must not be read whole)."""


def _long_line(path: Path) -> tuple[int, int] | None:
    """(line number, its length so far) of the first line over MAX_LINE_BYTES, read in chunks."""
    line, length = 1, 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            pieces = chunk.split(b"\n")
            # Nearly always every line is short: measured at C speed, counted without a loop.
            if (
                length + len(pieces[0]) <= MAX_LINE_BYTES
                and max(map(len, pieces)) <= MAX_LINE_BYTES
            ):
                line += len(pieces) - 1
                length = (length if len(pieces) == 1 else 0) + len(pieces[-1])
                continue
            for i, piece in enumerate(pieces):
                length += len(piece)
                if length > MAX_LINE_BYTES:
                    return line, length
                if i < len(pieces) - 1:
                    line, length = line + 1, 0
    return None


def _not_text(raw: bytes, display: str) -> Problem | None:
    """A NUL byte or invalid UTF-8, located (the CSV readers would fail without a position)."""
    nul = raw.find(b"\x00")
    try:
        raw.decode("utf-8")
        bad = -1
    except UnicodeDecodeError as exc:
        bad = exc.start
    if nul < 0 and bad < 0:
        return None
    offset = min(o for o in (nul, bad) if o >= 0)
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    what = "a NUL byte" if offset == nul else f"invalid UTF-8 (byte 0x{raw[offset]:02x})"
    return Problem(
        display, line, col, f"{what}: mapping files are UTF-8 text", "Re-save it as UTF-8 CSV."
    )


def long_line_problem(path: Path, display: str) -> Problem | None:
    """A line too long to be a mapping row, found without reading the file whole."""
    long = _long_line(path)
    if long is None:
        return None
    number, length = long
    return Problem(
        display,
        number,
        1,
        f"line {number} is longer than {MAX_LINE_BYTES // 1024} KiB ({length:,}+ bytes); "
        "a mapping row is sku/channel/warehouse,external_id,integration",
    )


def read_mapping_file(path: Path, display: str, kind: str) -> tuple[pa.Table, list[Problem]]:
    """Rows of one file as an Arrow table, plus problems found while parsing."""
    too_long = long_line_problem(path, display)
    if too_long is not None:
        return empty_table(), [too_long]
    raw = path.read_bytes()
    broken = _not_text(raw, display)
    if broken is not None:
        return empty_table(), [broken]
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if not raw.strip():
        return empty_table(), [
            Problem(display, 1, 1, "empty file", f"The first line must be: {header_line(kind)}")
        ]
    header = next(csv.reader([first]))
    if [h.strip() for h in header] != HEADERS[kind]:
        return empty_table(), [
            Problem(
                display,
                1,
                1,
                f"wrong header {','.join(header)!r}; expected {header_line(kind)!r}",
                f"The first line of {MAPPING_FILES[kind]} must be: {header_line(kind)}",
            )
        ]
    fast = _fast_columns(raw, kind)
    if fast is not None:
        return fast, []
    return _slow_columns(path, display, kind)


CHECKS_SQL = """
WITH known AS (SELECT unnest(?::VARCHAR[]) AS id),
rows AS (
    SELECT *, (integration_id = '' OR integration_id IN (SELECT id FROM known)) AS known_scope
    FROM mapping_rows
),
valid AS (SELECT * FROM rows WHERE target <> '' AND external_id <> '' AND known_scope),
repeated AS (  -- a cheap hash aggregate first; only repeated keys get ranked
    SELECT kind, integration_id, external_id FROM valid GROUP BY ALL HAVING count(*) > 1
),
ranked AS (
    SELECT v.*, row_number() OVER w AS n, first_value(v.line) OVER w AS first_line,
           first_value(v.target) OVER w AS first_target
    FROM valid v SEMI JOIN repeated r USING (kind, integration_id, external_id)
    WINDOW w AS (PARTITION BY v.kind, v.integration_id, v.external_id ORDER BY v.line)
)
SELECT kind, line, 'empty', CASE WHEN target = '' THEN 'target' ELSE 'external_id' END,
       NULL, NULL, target, external_id, integration_id
FROM rows WHERE target = '' OR external_id = ''
UNION ALL
SELECT kind, line, 'unknown_integration', NULL, NULL, NULL, target, external_id, integration_id
FROM rows WHERE NOT known_scope
UNION ALL
SELECT kind, line, 'spaces',
       CASE WHEN target <> trim(target) THEN 'target'
            WHEN external_id <> trim(external_id) THEN 'external_id' ELSE 'integration' END,
       NULL, NULL, target, external_id, integration_id
FROM rows
WHERE target <> trim(target) OR external_id <> trim(external_id)
   OR integration_id <> trim(integration_id)
UNION ALL
SELECT kind, line, CASE WHEN target = first_target THEN 'duplicate' ELSE 'conflict' END, NULL,
       first_line, first_target, target, external_id, integration_id
FROM ranked WHERE n > 1
ORDER BY 1, 2
"""


def check_rows(
    rows: pa.Table, displays: dict[str, str], integration_ids: set[str]
) -> list[Problem]:
    """Every problem in the mapping rows, found with one SQL pass over the Arrow table."""
    import duckdb

    if rows.num_rows == 0:
        return []
    con = duckdb.connect()
    try:
        con.register("mapping_rows", rows)
        found = con.execute(CHECKS_SQL, [sorted(integration_ids)]).fetchall()
    finally:
        con.close()
    return [_problem(displays, *row) for row in found]


def _problem(
    displays: dict[str, str],
    kind: str,
    line: int,
    problem: str,
    detail: str | None,
    other_line: int | None,
    other_target: str | None,
    target: str,
    external_id: str,
    integration: str,
) -> Problem:
    display = displays[kind]
    scope = f"integration '{integration}'" if integration else "all integrations"
    if problem == "empty":
        name = HEADERS[kind][0] if detail == "target" else "external_id"
        column = 1 if detail == "target" else len(target) + 2
        return Problem(display, line, column, f"empty {name}", "Every row needs both keys.")
    if problem == "unknown_integration":
        return Problem(
            display,
            line,
            len(target) + len(external_id) + 3,
            f"unknown integration '{integration}'",
            "Leave it empty to apply to every integration, or name a file in integrations/.",
        )
    if problem == "spaces":
        values = {"target": target, "external_id": external_id, "integration": integration}
        offsets = {"target": 1, "external_id": len(target) + 2,
                   "integration": len(target) + len(external_id) + 3}  # fmt: skip
        label = HEADERS[kind][0] if detail == "target" else str(detail)
        return Problem(
            display,
            line,
            offsets[str(detail)],
            f"{label} {values[str(detail)]!r} has surrounding spaces",
            "Matching is exact and case-sensitive; remove the spaces.",
        )
    if problem == "duplicate":
        return Problem(
            display,
            line,
            1,
            f"duplicate row: external id '{external_id}' ({scope}) is already mapped to "
            f"'{target}' on line {other_line}",
            "Delete one of the two lines.",
        )
    return Problem(
        display,
        line,
        1,
        f"external id '{external_id}' ({scope}) is mapped to two targets: "
        f"'{other_target}' on line {other_line} and '{target}' on line {line}",
        "An external id maps to exactly one target; keep one line.",
    )
