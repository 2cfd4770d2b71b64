"""Render a plan document for people: Terraform-style text, or Markdown for a PR comment.

Works on the versioned plan *document* (the same JSON ``plan --json`` prints and saved plans hold),
so rendering is identical whether the plan came from the daemon or was computed locally.
"""

from __future__ import annotations

import json
from typing import Any

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}
VERBS = {
    "create": "will be created",
    "update": "will be updated in-place",
    "delete": "will be destroyed",
    "replace": "must be replaced",
}
MAPPING_SYMBOLS = {"add": "+", "change": "~", "remove": "-"}
COLORS = {"+": "green", "~": "yellow", "-": "red", "-/+": "red"}
MAX_MAPPING_ROWS = 200


def _value(value: Any) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _attribute_line(action: str, attr: dict[str, Any], width: int) -> str:
    name = attr["name"].ljust(width)
    if attr["sensitive"]:
        text = "(sensitive value)" if action == "create" else "(sensitive value changed)"
        symbol = "+" if action == "create" else "~"
        return f"      {symbol} {name} = {text}"
    before, after = attr["before"], attr["after"]
    if action == "create" or before is None:
        return f"      + {name} = {_value(after)}"
    if action == "delete" or after is None:
        return f"      - {name} = {_value(before)}"
    return f"      ~ {name} = {_value(before)} -> {_value(after)}"


def _scope(integration: str) -> str:
    return f"integration {integration}" if integration else "all integrations"


def render_text(doc: dict[str, Any], *, color: bool = False) -> str:
    lines: list[str] = []
    for note in doc["outside_changes"]:
        lines.append(
            f'Note: integration "{note["integration"]}" is {note["change"]} outside the files'
            + (f" (by {note['by']}" if note.get("by") else " (")
            + (f": {note['reason']})" if note.get("reason") else ")")
            + f"; `{note['undo']}` clears it."
        )
    if lines:
        lines.append("")
    if not doc["has_changes"]:
        lines.append("No changes. The state matches the workspace files.")
        return _paint("\n".join(lines), color)
    if doc["integrations"]:
        lines.append("Tether will perform the following actions:")
        lines.append("")
    for change in doc["integrations"]:
        action = change["action"]
        symbol = SYMBOLS[action]
        lines.append(f"  # integration.{change['id']} {VERBS[action]}")
        if change.get("reason"):
            lines.append(f"  # ({change['reason']})")
        lines.append(f'  {symbol} integration "{change["id"]}" {{')
        attrs = change["attributes"]
        width = max((len(a["name"]) for a in attrs), default=0)
        for attr in attrs:
            lines.append(_attribute_line(action, attr, width))
        lines.append("    }")
        if change["next_fire_times"]:
            tz = (change.get("after") or {}).get("timezone", "UTC")
            times = ", ".join(change["next_fire_times"])
            lines.append(f"    next syncs ({tz}): {times}")
        history = change.get("history")
        if action in ("delete", "replace"):
            if history:
                lines.append(
                    f"    drops sync history: {history['executions']} executions, "
                    f"{history['items']} items ({history['records_fetched']} records fetched); "
                    "synced data.* rows are kept"
                )
            else:
                lines.append("    no sync history to drop")
        lines.append("")
    if doc.get("alerts"):
        _alert_lines(doc["alerts"], lines)
    if doc["mappings"]:
        _mapping_lines(doc, lines)
    summary = doc["summary"]
    lines.append(
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['destroy']} to destroy."
    )
    if doc.get("alerts"):
        actions = [r["action"] for r in doc["alerts"]["routes"]]
        lines.append(
            f"Alert routes: {actions.count('create')} to add, {actions.count('update')} to "
            f"change, {actions.count('delete')} to remove."
        )
    if doc["mappings"]:
        lines.append(
            f"Mappings: {summary['mappings_add']} to add, {summary['mappings_change']} to change, "
            f"{summary['mappings_remove']} to remove."
        )
    return _paint("\n".join(lines), color)


def _alert_lines(change: dict[str, Any], lines: list[str]) -> None:
    """alerts.yaml routes: what each route sends where (destination names, never URLs)."""
    for route in change["routes"]:
        action = route["action"]
        lines.append(f'  {SYMBOLS[action]} alert_route "{route["name"]}"')
        shown = route["after"] or route["before"]
        if action != "delete":
            lines.append(f"      events       = {', '.join(shown['events'])}")
            lines.append(f"      integrations = {', '.join(shown['integrations'])}")
            lines.append(f"      to           = {', '.join(shown['to'])}")
            lines.append(f"      escalate     = after {shown['escalate_after']} repeats")
    if change.get("destinations_changed"):
        after = change.get("after") or {}
        lines.append(
            f"  ~ alert destinations {after.get('destinations', '')}: (sensitive value changed)"
        )
    lines.append("")


def _mapping_lines(doc: dict[str, Any], lines: list[str]) -> None:
    rows = doc["mappings"]
    lines.append(f"Mapping rows ({len(rows)} changed):")
    lines.append("")
    for row in rows[:MAX_MAPPING_ROWS]:
        scope = _scope(row["integration"])
        key = f"{row['kind']} {row['external_id']!r} ({scope})"
        if row["action"] == "add":
            text = f"  + {key} -> {row['after']!r}"
        elif row["action"] == "remove":
            text = f"  - {key} -> {row['before']!r}"
        else:
            text = f"  ~ {key}: {row['before']!r} -> {row['after']!r}"
        if row.get("source"):
            text += f"   [{row['source']}]"
        lines.append(text)
    if len(rows) > MAX_MAPPING_ROWS:
        lines.append(f"  … and {len(rows) - MAX_MAPPING_ROWS} more (see `tether plan --json`)")
    for effect in doc["impact"]:
        noun = {"sku": "SKU", "channel": "channel", "warehouse": "warehouse"}[effect["kind"]]
        lines.append(
            f"  impact: maps {_count(effect['keys'], noun)} that failed "
            f"{_count(effect['items'], 'item')} in {_count(effect['executions'], 'execution')} "
            f"of {effect['integration']}; `tether retry {effect['integration']}` re-maps them."
        )
    lines.append("")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _paint(text: str, color: bool) -> str:
    if not color:
        return text
    from rich.markup import escape

    painted = []
    for line in text.splitlines():
        stripped = line.lstrip()
        symbol = stripped.split(" ", 1)[0] if stripped else ""
        style = COLORS.get(symbol)
        if stripped.startswith("Plan:") or stripped.startswith("No changes"):
            style = "bold"
        painted.append(f"[{style}]{escape(line)}[/{style}]" if style else escape(line))
    return "\n".join(painted)


def render_markdown(doc: dict[str, Any]) -> str:
    """A PR comment: summary first, the full plan in a diff block."""
    summary = doc["summary"]
    if doc["has_changes"]:
        headline = (
            f"**Plan:** {summary['add']} to add, {summary['change']} to change, "
            f"{summary['destroy']} to destroy"
        )
        if doc["mappings"]:
            headline += (
                f" · **Mappings:** {summary['mappings_add']} to add, "
                f"{summary['mappings_change']} to change, {summary['mappings_remove']} to remove"
            )
        if doc.get("alerts"):
            routes = ", ".join(f"`{r['name']}` ({r['action']})" for r in doc["alerts"]["routes"])
            headline += f" · **Alert routes:** {routes or 'destinations changed'}"
    else:
        headline = "**No changes.** The state matches the workspace files."
    parts = ["### Tether plan", "", headline, ""]
    for effect in doc["impact"]:
        parts.append(
            f"- Mapping impact: {effect['keys']} {effect['kind']}(s) that failed "
            f"{effect['items']} items in {effect['executions']} executions of "
            f"`{effect['integration']}` will map (`tether retry {effect['integration']}`)."
        )
    for note in doc["outside_changes"]:
        parts.append(f"- `{note['integration']}` is {note['change']} outside the files.")
    if doc["has_changes"]:
        body = render_text(doc)
        parts += [
            "",
            "<details><summary>Show plan</summary>",
            "",
            "```diff",
            body,
            "```",
            "</details>",
        ]
    return "\n".join(parts) + "\n"
