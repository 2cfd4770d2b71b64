"""One ``integrations/<id>.yaml`` file: its model and every check on it.

Service knowledge (capabilities, settings model, credential fields) comes in as ``ServiceInfo``
values so this package stays independent of the connector registry.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tether.config import yamlpos
from tether.config.model import (
    DEFAULT_CRON,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_TIMEZONE,
    IntegrationConfig,
)
from tether.errors import Problem
from tether.jsontypes import JSONValue

ID_PATTERN = re.compile(r"^[a-z0-9_]+$")


class ScheduleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = DEFAULT_CRON
    timezone: str = DEFAULT_TIMEZONE


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
MAX_BACKOFF_S = 24 * 3600.0


def parse_duration(text: str) -> float | None:
    """ "30s", "5m", "1.5h" → seconds; ``None`` when it is not such a duration."""
    match = DURATION.match(text)
    if match is None:
        return None
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


class RetryModel(BaseModel):
    """``retry: {attempts: 3, backoff: 5m}``: how a scheduled run that failed transiently reruns."""

    model_config = ConfigDict(extra="forbid", strict=True)

    attempts: int = Field(default=DEFAULT_RETRY_ATTEMPTS, ge=1, le=10)
    """All attempts, the first one included: 1 turns retries off."""
    backoff: str = "5m"

    @field_validator("backoff")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds = parse_duration(value)
        if seconds is None or not 1 <= seconds <= MAX_BACKOFF_S:
            raise ValueError(
                f'\'{value}\' is not a duration between 1s and 24h (write "30s", "5m" or "1h")'
            )
        return value

    @property
    def backoff_s(self) -> float:
        return parse_duration(self.backoff) or 0.0


class IntegrationModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1)
    service: str
    enabled: bool = True
    dry_run: bool = False
    schedule: ScheduleModel = Field(default_factory=ScheduleModel)
    retry: RetryModel = Field(default_factory=RetryModel)
    capabilities: list[str] = Field(min_length=1)
    credentials: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class WorkspaceSettings(Protocol):
    """Settings that read more workspace files (``service: rest`` reads its spec): they return
    the problems found in those files, ``report`` the ones located in the integration's own
    ``settings`` (loc relative to it), and may fill in fields from what they read."""

    def load_workspace_files(
        self,
        root: Path,
        capabilities: tuple[str, ...],
        report: Callable[[tuple[str | int, ...], str, str | None], None],
    ) -> list[Problem]: ...


@dataclass(frozen=True)
class ServiceInfo:
    """What the checker knows of a service, without loading its connector: a plan whose files
    are all cached never needs the settings model itself, only its identity and schema."""

    name: str
    capabilities: tuple[str, ...]
    required_credentials: tuple[str, ...]
    credential_fields: tuple[str, ...]
    settings_id: str
    """``module.qualname`` of the settings model."""
    settings_schema: dict[str, JSONValue]
    """Its JSON schema: part of the check cache's key, so a changed model re-checks every file."""
    settings_source: str | None
    """The file defining it, stamped into the check cache's key."""
    load_settings_model: Callable[[], type[BaseModel]] = field(compare=False, repr=False)
    """Imports the connector that defines the model: only when a file must be checked afresh."""

    @property
    def settings_model(self) -> type[BaseModel]:
        return self.load_settings_model()


@dataclass(frozen=True)
class CredentialsFile:
    """What can be known about a SOPS file without its key."""

    exists: bool
    encrypted: bool
    keys: tuple[str, ...]
    fingerprint: str | None
    problem: str | None = None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


@functools.lru_cache(maxsize=4096)
def check_cron(expr: str) -> str | None:
    """Why ``expr`` is not a valid 6-field seconds-first cron, or ``None`` if it is."""
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 6:
        return (
            f"cron '{expr}' has {len(fields)} fields; Tether uses 6 fields, seconds first "
            "(second minute hour day-of-month month day-of-week)"
        )
    try:
        croniter(expr, datetime(2026, 1, 1, tzinfo=UTC), second_at_beginning=True).get_next(
            datetime
        )
    except Exception as exc:
        return f"invalid cron '{expr}': {exc}"
    return None


def check_timezone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone '{name}'"
    return None


class IntegrationChecker:
    """Validates one file, collecting problems instead of stopping at the first."""

    def __init__(
        self,
        path: Path,
        display_path: str,
        services: dict[str, ServiceInfo],
        read_credentials: Any,
        root: Path | None = None,
    ) -> None:
        self.root = root
        """The workspace root, for settings that read more files (``WorkspaceSettings``)."""
        self.path = path
        self.display = display_path
        self.services = services
        self.read_credentials = read_credentials
        self.problems: list[Problem] = []
        self.read_other_files = False
        """Whether the check read files besides the integration and its credentials (a REST
        spec): its result then depends on them, and the check cache does not keep it."""
        self._doc: Any = None
        self._text = ""

    # -- locating ----------------------------------------------------------------------------
    def _positions(self) -> Any:
        if self._doc is None:
            self._doc = yamlpos.load_positions(self._text)
        return self._doc

    def add(
        self,
        loc: tuple[str | int, ...],
        message: str,
        hint: str | None = None,
        *,
        at_value: bool = False,
    ) -> None:
        find = yamlpos.value_position if at_value else yamlpos.position
        line, col = find(self._positions(), loc) if loc else (1, 1)
        self.problems.append(Problem(self.display, line, col, message, hint))

    # -- checks ------------------------------------------------------------------------------
    def check(self) -> IntegrationConfig | None:
        integration_id = self.path.stem.removesuffix(".yaml")
        if not ID_PATTERN.match(integration_id):
            self.problems.append(
                Problem(
                    self.display,
                    1,
                    1,
                    f"integration id '{integration_id}' (the file name) must match [a-z0-9_]+",
                    hint="Rename the file, e.g. shopify_us.yaml.",
                )
            )
            return None
        try:
            self._text = yamlpos.read_text(self.path)
            raw = yamlpos.load_fast(self._text)
        except yamlpos.YamlSyntaxError as exc:
            self.problems.append(Problem(self.display, exc.line, exc.col, exc.message))
            return None
        if not isinstance(raw, dict):
            self.problems.append(
                Problem(self.display, 1, 1, "expected a mapping of integration settings")
            )
            return None
        try:
            model = IntegrationModel.model_validate(raw)
        except ValidationError as exc:
            self._report_model_errors(exc, raw)
            model = None
        service = self._check_service(raw)
        if model is None:
            return None
        return self._check_semantics(integration_id, model, service)

    def _report_model_errors(self, exc: ValidationError, raw: dict[str, Any]) -> None:
        fields = list(IntegrationModel.model_fields)
        nested = {
            "schedule": list(ScheduleModel.model_fields),
            "retry": list(RetryModel.model_fields),
        }
        for err in exc.errors():
            loc = tuple(err["loc"])
            kind = err["type"]
            if kind == "extra_forbidden":
                key = str(loc[-1])
                choices = nested.get(str(loc[0]), fields) if len(loc) > 1 else fields
                self.add(loc, f"unknown key '{key}'", did_you_mean(key, choices))
            elif kind == "missing":
                self.add(loc[:-1], f"missing required key '{loc[-1]}'")
            else:
                where = ".".join(str(p) for p in loc)
                self.add(loc, f"{where}: {err['msg'].lower()}", at_value=True)

    def _check_service(self, raw: dict[str, Any]) -> ServiceInfo | None:
        name = raw.get("service")
        if not isinstance(name, str):
            return None
        service = self.services.get(name)
        if service is None:
            known = ", ".join(sorted(self.services))
            hint = did_you_mean(name, sorted(self.services))
            self.add(
                ("service",),
                f"unknown service '{name}'",
                f"{hint + ' ' if hint else ''}Known services: {known}.",
                at_value=True,
            )
        return service

    def _check_semantics(
        self, integration_id: str, model: IntegrationModel, service: ServiceInfo | None
    ) -> IntegrationConfig | None:
        ok = True
        cron_problem = check_cron(model.schedule.cron)
        if cron_problem:
            ok = False
            self.add(
                ("schedule", "cron"),
                cron_problem,
                'Example: "0 0 */6 * * *" runs every 6 hours at minute 0, second 0.',
                at_value=True,
            )
        tz_problem = check_timezone(model.schedule.timezone)
        if tz_problem:
            ok = False
            hint = did_you_mean(model.schedule.timezone, sorted(available_timezones()))
            self.add(
                ("schedule", "timezone"),
                tz_problem,
                hint or "Use an IANA name such as America/New_York, Europe/London or UTC.",
                at_value=True,
            )
        seen: set[str] = set()
        for index, capability in enumerate(model.capabilities):
            if capability in seen:
                ok = False
                self.add(("capabilities", index), f"capability '{capability}' is listed twice")
            seen.add(capability)
            if service is not None and capability not in service.capabilities:
                ok = False
                offered = ", ".join(service.capabilities)
                hint = did_you_mean(capability, service.capabilities)
                self.add(
                    ("capabilities", index),
                    f"capability '{capability}' is not offered by {service.name}",
                    f"{hint + ' ' if hint else ''}{service.name} offers: {offered}.",
                )
        settings: dict[str, Any] = model.settings
        if service is not None:
            try:
                parsed = service.settings_model.model_validate(model.settings)
                if isinstance(parsed, WorkspaceSettings) and self.root is not None:
                    self.read_other_files = True
                    ok = self._load_workspace_files(parsed, model.capabilities) and ok
                settings = parsed.model_dump(mode="json", exclude_unset=True)
            except ValidationError as exc:
                ok = False
                field_names = list(service.settings_model.model_fields)
                for err in exc.errors():
                    loc = ("settings", *err["loc"])
                    if err["type"] == "extra_forbidden":
                        key = str(err["loc"][-1])
                        self.add(
                            loc,
                            f"unknown setting '{key}' for {service.name}",
                            did_you_mean(key, field_names)
                            or f"{service.name} settings: {', '.join(field_names)}.",
                        )
                    else:
                        where = ".".join(str(p) for p in loc)
                        self.add(loc, f"{where}: {err['msg'].lower()}", at_value=True)
        fingerprint = None
        if model.credentials is None:
            if service is not None and service.required_credentials:
                ok = False
                self.add(
                    (),
                    "missing required key 'credentials'",
                    f"Point it at a SOPS file, e.g. credentials: secrets/{integration_id}.sops.yaml",
                )
        else:
            creds = self.read_credentials(model.credentials)
            fingerprint = creds.fingerprint
            ok = self._check_credentials(model.credentials, creds, service) and ok
        if not ok or service is None:
            return None
        return IntegrationConfig(
            id=integration_id,
            name=model.name,
            service=model.service,
            enabled=model.enabled,
            dry_run=model.dry_run,
            cron=model.schedule.cron,
            timezone=model.schedule.timezone,
            capabilities=tuple(model.capabilities),
            settings=settings,
            credentials_ref=model.credentials,
            credentials_fingerprint=fingerprint,
            source_path=self.display,
            retry_attempts=model.retry.attempts,
            retry_backoff_s=model.retry.backoff_s,
        )

    def _load_workspace_files(self, parsed: WorkspaceSettings, capabilities: list[str]) -> bool:
        before = len(self.problems)

        def report(loc: tuple[str | int, ...], message: str, hint: str | None) -> None:
            self.add(("settings", *loc), message, hint, at_value=bool(loc))

        assert self.root is not None
        self.problems.extend(parsed.load_workspace_files(self.root, tuple(capabilities), report))
        return len(self.problems) == before

    def _check_credentials(
        self, ref: str, creds: CredentialsFile, service: ServiceInfo | None
    ) -> bool:
        loc = ("credentials",)
        if not creds.exists:
            self.add(
                loc,
                f"credentials file '{ref}' does not exist",
                f"Write it without plaintext on disk, field by field: tether secrets set "
                f"{self.path.stem} FIELD (or by hand: sops --encrypt --in-place {ref})",
                at_value=True,
            )
            return False
        if creds.problem:
            self.add(loc, f"credentials file '{ref}': {creds.problem}", at_value=True)
            return False
        if not creds.encrypted:
            self.add(
                loc,
                f"credentials file '{ref}' is not SOPS-encrypted",
                f"Encrypt it before committing: sops --encrypt --in-place {ref}",
                at_value=True,
            )
            return False
        if service is None:
            return True
        missing = [f for f in service.required_credentials if f not in creds.keys]
        unknown = [k for k in creds.keys if k not in service.credential_fields]
        for field_name in missing:
            self.add(
                loc,
                f"credentials file '{ref}' lacks required field '{field_name}' for {service.name}",
                f"{service.name} needs: {', '.join(service.required_credentials)} "
                f"(edit with: sops {ref}).",
                at_value=True,
            )
        for key in unknown:
            self.add(
                loc,
                f"credentials file '{ref}' has unknown field '{key}' for {service.name}",
                did_you_mean(key, service.credential_fields)
                or f"{service.name} fields: {', '.join(service.credential_fields)}.",
                at_value=True,
            )
        return not missing and not unknown
