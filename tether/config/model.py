"""What the user wrote, validated: the desired state that plan diffs against the applied state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

MAPPING_KINDS = ("sku", "channel", "warehouse")
MAPPING_FILES = {"sku": "skus.csv", "channel": "channels.csv", "warehouse": "warehouses.csv"}

DEFAULT_CRON = "0 0 0 * * *"
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class IntegrationConfig:
    id: str
    name: str
    service: str
    enabled: bool
    dry_run: bool
    cron: str
    timezone: str
    capabilities: tuple[str, ...]
    settings: dict[str, Any]
    credentials_ref: str | None
    credentials_fingerprint: str | None
    source_path: str

    def as_record(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["capabilities"] = list(self.capabilities)
        return record


MappingKey = tuple[str, str, str]
"""(kind, integration_id or '' for all, external_id)."""


@dataclass
class DesiredState:
    integrations: dict[str, IntegrationConfig] = field(default_factory=dict)
    mappings: dict[MappingKey, str] = field(default_factory=dict)
    mapping_lines: dict[MappingKey, int] = field(default_factory=dict)
    """Line of each row in its file (``mappings/<kind>s.csv``), for messages and plans."""

    def config_hash(self) -> str:
        """Identifies exactly this configuration; a saved plan made from other files is stale."""
        digest = hashlib.sha256()
        for key in sorted(self.integrations):
            digest.update(
                orjson.dumps(self.integrations[key].as_record(), option=orjson.OPT_SORT_KEYS)
            )
        # Rows in file order: reordering a file makes a saved plan stale, which is merely cautious.
        digest.update(
            "\x1e".join(
                f"{k}\x1f{i}\x1f{e}\x1f{t}" for (k, i, e), t in self.mappings.items()
            ).encode()
        )
        return digest.hexdigest()
