"""Write a new ``integrations/<id>.yaml`` the way a person would: short comments that say what
each key is for, defaults left out of ``settings``."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewIntegration:
    id: str
    name: str
    service: str
    service_display: str
    capabilities: list[str]
    cron: str
    timezone: str
    credentials: str
    dry_run: bool = False
    enabled: bool = True
    settings: dict[str, Any] = field(default_factory=dict)


def _scalar(value: Any) -> str:
    """One YAML scalar, quoted only when YAML needs it (cron's ``*`` always does)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = True
    out = io.StringIO()
    yaml.dump(value, out)
    text = out.getvalue().strip()
    return text.removesuffix("\n...").strip()


def render(new: NewIntegration) -> str:
    caps = ", ".join(new.capabilities)
    rows = [
        (f"name: {_scalar(new.name)}", ""),
        (f"service: {new.service}", f"{new.service_display}; `tether services` lists them all"),
        (f"enabled: {str(new.enabled).lower()}", "false keeps the config, stops scheduled syncs"),
        (f"dry_run: {str(new.dry_run).lower()}", "true: fetch and map, save no data"),
        ("schedule:", ""),
        (f'  cron: "{new.cron}"', "6 fields, seconds first"),
        (f"  timezone: {new.timezone}", "IANA name"),
        (f"capabilities: [{caps}]", ""),
        (f"credentials: {new.credentials}", f"SOPS; change with `tether secrets set {new.id}`"),
    ]
    if new.settings:
        rows.append(("settings:", "only what differs from the service's defaults"))
        rows.extend((f"  {key}: {_scalar(value)}", "") for key, value in new.settings.items())
    width = max(len(text) for text, note in rows if note) + 2
    lines = ["# Written by `tether add`. Edit freely; `tether validate` checks it."]
    lines.extend(f"{text:<{width}}# {note}" if note else text for text, note in rows)
    return "\n".join(lines) + "\n"
