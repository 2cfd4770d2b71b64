"""Error analysis across runs: the ledger of error keys (new / persisting / resolved).

An error key is what a user fixes: an unmapped SKU, channel or warehouse, or, for other errors,
the message. Per key and domain type, the history says in which executions it was first and last
seen, and how many of its items are still open (not taken over by a later retry or fetch):

* ``resolved`` — no open item carries it any more (a mapping fixed it, or the record changed);
* ``new`` — open, and first seen in the latest execution of its domain type;
* ``persisting`` — open, and already seen in an earlier execution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_ORDER = {"new": 0, "persisting": 1, "resolved": 2}


def ledger(history: Iterable[Sequence[Any]], latest: Mapping[str, int]) -> list[dict[str, Any]]:
    """Classify ``(code, key, domain_type, first_seen, last_seen, items, open_items)`` rows.

    ``latest`` maps each domain type to its newest execution id.
    """
    entries = []
    for code, key, domain_type, first_seen, last_seen, items, open_items in history:
        if not open_items:
            state = "resolved"
        elif first_seen == latest.get(domain_type):
            state = "new"
        else:
            state = "persisting"
        entries.append(
            {
                "code": code,
                "key": key,
                "domain_type": domain_type,
                "state": state,
                "first_seen_execution": first_seen,
                "last_seen_execution": last_seen,
                "items": items,
                "open_items": open_items,
            }
        )
    entries.sort(key=lambda e: (_ORDER[e["state"]], -e["open_items"], -e["items"], e["key"]))
    return entries
