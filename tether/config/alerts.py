"""Alerts as code: ``alerts.yaml`` (routes) and the SOPS file holding the destination URLs.

```yaml
# alerts.yaml
destinations: secrets/alerts.sops.yaml   # name -> apprise URL, SOPS-encrypted (the default)
routes:
  on_call:
    events: [execution_failed, sync_recovered, escalated]
    integrations: ["*"]                   # ids or shell patterns (shopify_*); default all
    to: [pagerduty]                       # names in the destinations file, never URLs
    escalate_after: 3                     # repeats of a problem before "escalated" (default 3)
retry: {attempts: 5, backoff_s: 2}        # delivery retries, exponential backoff
```

Destination URLs carry tokens (a Slack webhook, a PagerDuty key), so they live only in the
SOPS file; validation reads its key names, which SOPS leaves in clear, and never decrypts.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tether.config import yamlpos
from tether.config.project import Workspace
from tether.config.secrets import encrypted_keys, fingerprint, sops_metadata
from tether.errors import Problem

ALERTS_FILE = "alerts.yaml"
DEFAULT_DESTINATIONS = "secrets/alerts.sops.yaml"
EVENTS = {
    "execution_failed": "a sync failed (a failed capability, or rejected credentials)",
    "sync_recovered": "a failing integration synced successfully again",
    "flag_raised": "another health flag was raised (rate limited, low volume, slow, overdue, …)",
    "flag_resolved": "that flag cleared",
    "unmapped": "new unmapped SKUs / channels / warehouses, with the items they block",
    "escalated": "a problem is still there after `escalate_after` executions",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteModel(_Model):
    events: list[str] = Field(default_factory=lambda: list(EVENTS))
    integrations: list[str] = Field(default_factory=lambda: ["*"])
    to: list[str] = Field(min_length=1)
    escalate_after: int = Field(default=3, ge=1)


class RetryModel(_Model):
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=2.0, gt=0, le=3600)


class AlertsModel(_Model):
    destinations: str = DEFAULT_DESTINATIONS
    routes: dict[str, RouteModel] = Field(default_factory=dict)
    retry: RetryModel = Field(default_factory=RetryModel)


@dataclass(frozen=True)
class Route:
    name: str
    events: tuple[str, ...]
    integrations: tuple[str, ...]
    to: tuple[str, ...]
    escalate_after: int

    def covers(self, integration_id: str | None) -> bool:
        if integration_id is None:  # not about one integration (a test message)
            return True
        return any(fnmatch.fnmatchcase(integration_id, p) for p in self.integrations)

    def wants(self, event: str, integration_id: str | None) -> bool:
        return event in self.events and self.covers(integration_id)

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "events": list(self.events),
                "integrations": list(self.integrations), "to": list(self.to),
                "escalate_after": self.escalate_after}  # fmt: skip


@dataclass(frozen=True)
class AlertsConfig:
    source_path: str
    destinations_ref: str
    destinations_fingerprint: str | None
    routes: dict[str, Route] = field(default_factory=dict)
    attempts: int = 5
    backoff_s: float = 2.0

    def to_doc(self) -> dict[str, Any]:
        """What ``plan`` shows: routes and destination *names*; never a URL."""
        return {
            "source_path": self.source_path,
            "destinations": self.destinations_ref,
            "destinations_fingerprint": self.destinations_fingerprint,
            "routes": [r.to_doc() for r in self.routes.values()],
            "retry": {"attempts": self.attempts, "backoff_s": self.backoff_s},
        }


def load_alerts(
    workspace: Workspace, integration_ids: Iterable[str]
) -> tuple[AlertsConfig | None, list[Problem]]:
    """Validate ``alerts.yaml`` (absent: no alerts). Every problem at once, as path:line:col."""
    path = workspace.root / ALERTS_FILE
    if not path.is_file():
        return None, []
    display = ALERTS_FILE
    text = yamlpos.read_text(path)
    try:
        raw = yamlpos.load_fast(text)
    except yamlpos.YamlSyntaxError as exc:
        return None, [Problem(display, exc.line, exc.col, exc.message)]
    raw = {} if raw is None else raw
    problems: list[Problem] = []
    doc: Any = None

    def at(loc: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        nonlocal doc
        if doc is None:
            doc = yamlpos.load_positions(text)
        line, col = yamlpos.position(doc, loc)
        problems.append(Problem(display, line, col, message, hint))

    if not isinstance(raw, dict):
        return None, [Problem(display, 1, 1, "expected a mapping with `routes:`")]
    try:
        model = AlertsModel.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            hint = None
            if error["type"] == "extra_forbidden" and loc:
                hint = _did_you_mean(str(loc[-1]), _fields_at(loc))
            at(loc, f"{'.'.join(map(str, loc))}: {error['msg']}", hint)
        return None, problems
    names, found = _destination_names(workspace, model.destinations)
    if found is not None:
        at(("destinations",), found[0], found[1])
    known = set(integration_ids)
    for name, route in model.routes.items():
        for n, event in enumerate(route.events):
            if event not in EVENTS:
                at(("routes", name, "events", n), f"unknown event '{event}'",
                   _did_you_mean(event, list(EVENTS)) or f"Events: {', '.join(EVENTS)}.")  # fmt: skip
        for n, pattern in enumerate(route.integrations):
            if not any(c in pattern for c in "*?[") and pattern not in known:
                at(("routes", name, "integrations", n), f"unknown integration '{pattern}'",
                   _did_you_mean(pattern, sorted(known)) or "Use an id from integrations/ "
                   "or a pattern such as shopify_*.")  # fmt: skip
        for n, dest in enumerate(route.to):
            if names is not None and dest not in names:
                hint = _did_you_mean(dest, sorted(names)) or (
                    f"Add `{dest}: <apprise URL>` to {model.destinations} with `sops edit`."
                )
                at(("routes", name, "to", n),
                   f"destination '{dest}' is not in {model.destinations}", hint)  # fmt: skip
    if problems:
        return None, problems
    ref = model.destinations
    config = AlertsConfig(
        source_path=display,
        destinations_ref=ref,
        destinations_fingerprint=_fingerprint(workspace.resolve(ref)),
        routes={
            name: Route(name, tuple(r.events), tuple(r.integrations), tuple(r.to), r.escalate_after)
            for name, r in model.routes.items()
        },
        attempts=model.retry.attempts,
        backoff_s=model.retry.backoff_s,
    )
    return config, []


def _destination_names(
    workspace: Workspace, ref: str
) -> tuple[set[str] | None, tuple[str, str] | None]:
    path = workspace.resolve(ref)
    if not path.is_file():
        return None, (
            f"destinations file {ref} does not exist",
            f"Create it with the apprise URLs by name and encrypt it: `sops --encrypt "
            f"--in-place {ref}`.",
        )
    try:
        document = yamlpos.load_untyped(yamlpos.read_text(path))
    except yamlpos.YamlSyntaxError as exc:
        return None, (f"{ref}: {exc.message} at line {exc.line}", "Fix it with `sops edit`.")
    if not isinstance(document, dict) or sops_metadata(document) is None:
        return None, (
            f"{ref} is not SOPS-encrypted: destination URLs hold tokens",
            f"Encrypt it: `sops --encrypt --in-place {ref}`.",
        )
    return set(encrypted_keys(document)), None


def _fingerprint(path: Path) -> str | None:
    try:
        document = yamlpos.load_untyped(yamlpos.read_text(path))
    except (OSError, yamlpos.YamlSyntaxError):
        return None
    return fingerprint(document) if isinstance(document, dict) else None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    if len(loc) >= 3 and loc[0] == "routes":
        return list(RouteModel.model_fields)
    if loc and loc[0] == "retry":
        return list(RetryModel.model_fields)
    return list(AlertsModel.model_fields)


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"Did you mean '{close[0]}'?" if close else None
