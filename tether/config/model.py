"""What the user wrote, validated: the desired state that plan diffs against the applied state."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MAPPING_KINDS = ("sku", "channel", "warehouse")
MAPPING_FILES = {"sku": "skus.csv", "channel": "channels.csv", "warehouse": "warehouses.csv"}

DEFAULT_CRON = "0 0 0 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_RETRY_ATTEMPTS = 3
"""Attempts of a scheduled run that fails on a transient error (the first one included)."""
DEFAULT_RETRY_BACKOFF_S = 300.0
"""Wait before the first retry; doubled before each next one (with jitter)."""


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
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    retry_backoff_s: float = DEFAULT_RETRY_BACKOFF_S

    def as_record(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["capabilities"] = list(self.capabilities)
        return record


@dataclass(frozen=True)
class CachedMappingRows:
    """Mapping rows checked by an earlier run from files with the same bytes, kept as a Parquet
    file in the check cache (``config/check_cache.py``). DuckDB reads it itself, so a plan whose
    mappings did not change neither parses the CSVs nor imports pyarrow."""

    path: Path
    counts: dict[str, int]
    num_rows: int


@dataclass
class DesiredState:
    integrations: dict[str, IntegrationConfig] = field(default_factory=dict)
    mappings: Any = None
    """Every mapping row (kind, integration_id, external_id, target, line): an Arrow table, or
    ``CachedMappingRows`` when the check cache already holds them."""

    def mapping_counts(self) -> dict[str, int]:
        if isinstance(self.mappings, CachedMappingRows):
            return dict(self.mappings.counts)
        if self.mappings is None or self.mappings.num_rows == 0:
            return {}
        kinds = self.mappings.column("kind").value_counts().to_pylist()
        return {str(k["values"]): int(k["counts"]) for k in kinds}

    alerts: Any = None
    """The validated ``alerts.yaml`` (``config.alerts.AlertsConfig``), or ``None``: no alerts."""

    files_digest: str = ""
    """sha256 over every workspace file plan reads (see ``config.workspace.files_digest``)."""

    def config_hash(self) -> str:
        """Identifies exactly these files; a saved plan made from other files is stale."""
        return self.files_digest
