"""The plan is a value: a pure diff of the desired state against the applied state.

Nothing here does I/O. The ``plan`` operation gathers the inputs (workspace, applied state,
history and mapping-impact figures), calls ``make_plan`` and hands the ``Plan`` document to a
renderer or to ``apply``.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from tether import __version__
from tether.config.model import MAPPING_FILES, DesiredState, IntegrationConfig
from tether.engine.schedule import upcoming
from tether.state.applied import AppliedState

FORMAT_VERSION = 1

# Attribute order in the rendered plan; credentials are compared by fingerprint, never shown.
ATTRIBUTES = ("name", "service", "enabled", "dry_run", "cron", "timezone", "capabilities",
              "credentials_ref", "retry_attempts", "retry_backoff_s")  # fmt: skip
SCHEDULE_ATTRIBUTES = {"cron", "timezone"}


@dataclass(frozen=True)
class AttributeChange:
    name: str
    before: Any
    after: Any
    sensitive: bool = False


@dataclass(frozen=True)
class IntegrationChange:
    action: str  # create | update | delete | replace
    id: str
    attributes: tuple[AttributeChange, ...]
    after: dict[str, Any] | None
    next_fire_times: tuple[str, ...] = ()
    history: dict[str, Any] | None = None
    reason: str | None = None


class MappingChange(NamedTuple):
    """One changed mapping row (a NamedTuple: an initial apply creates 100,000s of them)."""

    action: str  # add | change | remove
    kind: str
    integration: str
    external_id: str
    before: str | None
    after: str | None
    source: str | None = None


@dataclass
class Plan:
    lineage: str | None
    serial: int
    config_hash: str
    integrations: list[IntegrationChange] = field(default_factory=list)
    mappings: list[MappingChange] = field(default_factory=list)
    impact: list[dict[str, Any]] = field(default_factory=list)
    outside_changes: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""

    @property
    def has_changes(self) -> bool:
        return bool(self.integrations or self.mappings)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.integrations)
        mapping_counts = Counter(c.action for c in self.mappings)
        return {
            "add": counts["create"] + counts["replace"],
            "change": counts["update"],
            "destroy": counts["delete"] + counts["replace"],
            "mappings_add": mapping_counts["add"],
            "mappings_change": mapping_counts["change"],
            "mappings_remove": mapping_counts["remove"],
        }

    def to_doc(self) -> dict[str, Any]:
        """The versioned JSON document (``plan --json``, saved plans)."""
        return {
            "format_version": FORMAT_VERSION,
            "tether_version": __version__,
            "created_at": self.created_at,
            "lineage": self.lineage,
            "serial": self.serial,
            "config_hash": self.config_hash,
            "has_changes": self.has_changes,
            "summary": self.summary(),
            "integrations": [
                {
                    "action": c.action,
                    "id": c.id,
                    "reason": c.reason,
                    "attributes": [
                        {
                            "name": a.name,
                            "before": a.before,
                            "after": a.after,
                            "sensitive": a.sensitive,
                        }
                        for a in c.attributes
                    ],
                    "after": c.after,
                    "next_fire_times": list(c.next_fire_times),
                    "history": c.history,
                }
                for c in self.integrations
            ],
            "mappings": [
                {
                    "action": m.action,
                    "kind": m.kind,
                    "integration": m.integration,
                    "external_id": m.external_id,
                    "before": m.before,
                    "after": m.after,
                    "source": m.source,
                }
                for m in self.mappings
            ],
            "impact": self.impact,
            "outside_changes": self.outside_changes,
        }


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flatten(f"{prefix}.{key}", value[key], out)
    else:
        out[prefix] = value


def _attributes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[AttributeChange]:
    changes = []
    for name in ATTRIBUTES:
        old = before.get(name) if before else None
        new = after.get(name) if after else None
        if old != new:
            changes.append(AttributeChange(name, old, new))
    old_settings: dict[str, Any] = {}
    new_settings: dict[str, Any] = {}
    _flatten("settings", before.get("settings", {}) if before else {}, old_settings)
    _flatten("settings", after.get("settings", {}) if after else {}, new_settings)
    old_settings.pop("settings", None)
    new_settings.pop("settings", None)
    for key in sorted(old_settings.keys() | new_settings.keys()):
        if old_settings.get(key) != new_settings.get(key):
            changes.append(AttributeChange(key, old_settings.get(key), new_settings.get(key)))
    old_fp = before.get("credentials_fingerprint") if before else None
    new_fp = after.get("credentials_fingerprint") if after else None
    if old_fp != new_fp:
        changes.append(AttributeChange("credentials", None, None, sensitive=True))
    return changes


@functools.lru_cache(maxsize=1024)
def _fire_times_for(cron: str, timezone: str, now: datetime | None) -> tuple[str, ...]:
    times = upcoming(cron, timezone, 3, after=now)
    return tuple(t.isoformat() for t in times)


def _fire_times(config: IntegrationConfig, now: datetime | None) -> tuple[str, ...]:
    # Many integrations share a schedule; one plan computes each (cron, timezone) once.
    return _fire_times_for(config.cron, config.timezone, now)


def diff_integrations(
    desired: DesiredState,
    applied: AppliedState,
    history: dict[str, Any],
    now: datetime | None = None,
) -> list[IntegrationChange]:
    changes: list[IntegrationChange] = []
    for integration_id in sorted(desired.integrations.keys() | applied.integrations.keys()):
        config = desired.integrations.get(integration_id)
        before = applied.integrations.get(integration_id)
        after = config.as_record() if config else None
        if config is None and before is not None:
            changes.append(
                IntegrationChange(
                    "delete",
                    integration_id,
                    tuple(_attributes(before, None)),
                    None,
                    history=history.get(integration_id),
                )
            )
            continue
        assert config is not None and after is not None
        if before is None:
            changes.append(
                IntegrationChange(
                    "create",
                    integration_id,
                    tuple(_attributes(None, after)),
                    after,
                    _fire_times(config, now),
                )
            )
            continue
        attributes = _attributes(before, after)
        if not attributes:
            continue
        if before["service"] != config.service:
            changes.append(
                IntegrationChange(
                    "replace",
                    integration_id,
                    tuple(attributes),
                    after,
                    _fire_times(config, now),
                    history=history.get(integration_id),
                    reason="service changed: an integration cannot move between services",
                )
            )
            continue
        schedule_changed = any(a.name in SCHEDULE_ATTRIBUTES for a in attributes)
        changes.append(
            IntegrationChange(
                "update",
                integration_id,
                tuple(attributes),
                after,
                _fire_times(config, now) if schedule_changed else (),
            )
        )
    return changes


def mapping_changes(rows: list[tuple[Any, ...]]) -> list[MappingChange]:
    """Keyed row diff (computed by ``state.applied.mapping_diff``) as plan changes: a 100k-row
    file with 3 changed rows yields 3 changes, each pointing at its file and line."""
    return [
        MappingChange(
            action,
            kind,
            integration,
            external_id,
            before,
            after,
            f"mappings/{MAPPING_FILES[kind]}:{line}" if line else None,
        )
        for action, kind, integration, external_id, before, after, line in rows
    ]


def outside_changes(applied: AppliedState, desired: DesiredState) -> list[dict[str, Any]]:
    """Runtime overrides (pauses) made with `tether pause`, not in the files."""
    return [
        {
            "integration": integration_id,
            "change": "paused",
            "reason": info.get("reason"),
            "by": info.get("by"),
            "at": info.get("at"),
            "undo": f"tether resume {integration_id}",
        }
        for integration_id, info in sorted(applied.paused.items())
        if integration_id in desired.integrations
    ]


def make_plan(
    desired: DesiredState,
    applied: AppliedState,
    *,
    history: dict[str, Any],
    impact: list[dict[str, Any]],
    mapping_changes: list[MappingChange],
    now: datetime,
) -> Plan:
    return Plan(
        lineage=applied.lineage,
        serial=applied.serial,
        config_hash=desired.config_hash(),
        integrations=diff_integrations(desired, applied, history, now),
        mappings=mapping_changes,
        impact=impact,
        outside_changes=outside_changes(applied, desired),
        created_at=now.isoformat(timespec="seconds"),
    )
