"""``mappings/*.csv``: external ids → Tether codes, one row per external id.

Rows are keyed by (kind, integration, external_id); an empty ``integration`` applies to every
integration. Matching is exact and case-sensitive, so values are never trimmed or case-folded —
only reported when they carry surrounding spaces, which is almost always a mistake.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from tether.config.model import MAPPING_FILES, MappingKey
from tether.errors import Problem

HEADERS = {
    "sku": ["sku", "external_id", "integration"],
    "channel": ["channel", "external_id", "integration"],
    "warehouse": ["warehouse", "external_id", "integration"],
}


_SPACE_AT_EDGE = re.compile(r"^\s|\s$|\s,|,\s")


def header_line(kind: str) -> str:
    return ",".join(HEADERS[kind])


def load_mapping_file(
    path: Path,
    display: str,
    kind: str,
    integration_ids: set[str],
    rows: dict[MappingKey, str],
    sources: dict[MappingKey, int],
) -> list[Problem]:
    problems: list[Problem] = []
    expected = HEADERS[kind]
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return [
                Problem(display, 1, 1, "empty file", f"The first line must be: {header_line(kind)}")
            ]
        if [h.strip() for h in header] != expected:
            return [
                Problem(
                    display,
                    1,
                    1,
                    f"wrong header {','.join(header)!r}; expected {header_line(kind)!r}",
                    f"The first line of {MAPPING_FILES[kind]} must be: {header_line(kind)}",
                )
            ]
        for row in reader:
            line = reader.line_num
            if not row or row == ["", "", ""]:
                continue
            if len(row) != 3:
                problems.append(
                    Problem(
                        display,
                        line,
                        1,
                        f"expected 3 columns ({header_line(kind)}), got {len(row)}",
                    )
                )
                continue
            target, external_id, integration = row
            if not target or not external_id:
                column = 1 if not target else len(target) + 2
                empty = expected[0] if not target else "external_id"
                problems.append(
                    Problem(display, line, column, f"empty {empty}", "Every row needs both keys.")
                )
                continue
            for col_index, value in enumerate(row) if _SPACE_AT_EDGE.search(",".join(row)) else ():
                if value != value.strip():
                    problems.append(
                        Problem(
                            display,
                            line,
                            1 + sum(len(c) + 1 for c in row[:col_index]),
                            f"{expected[col_index]} {value!r} has surrounding spaces",
                            "Matching is exact and case-sensitive; remove the spaces.",
                        )
                    )
            if integration and integration not in integration_ids:
                problems.append(
                    Problem(
                        display,
                        line,
                        len(target) + len(external_id) + 3,
                        f"unknown integration '{integration}'",
                        "Leave it empty to apply to every integration, or name a file in "
                        "integrations/.",
                    )
                )
                continue
            key: MappingKey = (kind, integration, external_id)
            previous = sources.get(key)
            if previous is not None:
                scope = f"integration '{integration}'" if integration else "all integrations"
                if rows[key] == target:
                    problems.append(
                        Problem(
                            display,
                            line,
                            1,
                            f"duplicate row: external id '{external_id}' ({scope}) is already "
                            f"mapped to '{target}' on line {previous}",
                            "Delete one of the two lines.",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            display,
                            line,
                            1,
                            f"external id '{external_id}' ({scope}) is mapped to two targets: "
                            f"'{rows[key]}' on line {previous} and '{target}' on line {line}",
                            "An external id maps to exactly one target; keep one line.",
                        )
                    )
                continue
            rows[key] = target
            sources[key] = line
    return problems
