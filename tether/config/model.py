"""What the user wrote, validated: the desired state that plan diffs against the applied state."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
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
        record = asdict(self)
        record["capabilities"] = list(self.capabilities)
        return record


MappingKey = tuple[str, str, str]
"""(kind, integration_id or '' for all, external_id)."""


@dataclass(frozen=True)
class MappingSource:
    path: str
    line: int


@dataclass
class DesiredState:
    integrations: dict[str, IntegrationConfig] = field(default_factory=dict)
    mappings: dict[MappingKey, str] = field(default_factory=dict)
    mapping_sources: dict[MappingKey, MappingSource] = field(default_factory=dict)

    def config_hash(self) -> str:
        """Identifies exactly this configuration; a saved plan made from other files is stale."""
        digest = hashlib.sha256()
        for key in sorted(self.integrations):
            digest.update(
                orjson.dumps(self.integrations[key].as_record(), option=orjson.OPT_SORT_KEYS)
            )
        for mkey in sorted(self.mappings):
            digest.update("\x1f".join((*mkey, self.mappings[mkey])).encode())
            digest.update(b"\x1e")
        return digest.hexdigest()
