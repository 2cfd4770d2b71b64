"""The integration setup form, built from a service's metadata (its ``ServiceSpec``) alone.

Every question and every check comes from the catalogue — labels, help, placeholders, types and
required marks of credential fields, the capabilities offered, the settings model — so a service
added to the catalogue gets a form without a change here. The form is plain data: ``tether add``
asks it on a terminal, scripts answer it with ``--set``, and a monitor screen could show it.
Checks are pure functions of the typed text; nothing is written until every answer is good.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError, create_model
from pydantic_core import PydanticUndefined

from tether.config.integration import ID_PATTERN, check_cron, check_timezone, did_you_mean
from tether.config.model import DEFAULT_CRON, DEFAULT_TIMEZONE
from tether.connectors.base import CredentialField, ServiceSpec
from tether.engine.schedule import upcoming

PREVIEW_RUNS = 3


@dataclass(frozen=True)
class Choice:
    name: str
    display_name: str
    description: str


@dataclass(frozen=True)
class Question:
    """One field of the form. ``key`` is what ``--set key=value`` names."""

    key: str
    label: str
    section: str  # integration | schedule | settings | credentials
    kind: str = "string"  # string | password | url | integer | json | boolean | choices
    required: bool = True
    secret: bool = False
    default: str | None = None
    placeholder: str = ""
    help: str = ""
    choices: tuple[Choice, ...] = ()
    advanced: bool = False
    """An optional setting with a default: asked only when the user wants to change settings."""


@dataclass(frozen=True)
class Answer:
    value: Any = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)


def default_id(service: str, taken: set[str]) -> str:
    if service not in taken:
        return service
    n = 2
    while f"{service}_{n}" in taken:
        n += 1
    return f"{service}_{n}"


def questions(spec: ServiceSpec) -> list[Question]:
    """The form for ``spec``, in the order the seed's setup page asks it."""
    caps = tuple(Choice(c.name, c.display_name, c.description) for c in spec.capabilities)
    asked = [
        Question(
            "name",
            "Integration name",
            "integration",
            default=spec.display_name,
            help='A descriptive name, e.g. "Shopify Production".',
        ),
        Question(
            "capabilities",
            "Capabilities",
            "integration",
            kind="choices",
            choices=caps,
            default=",".join(c.name for c in caps),
            help="What to sync: names or numbers, separated by commas.",
        ),
        Question(
            "timezone",
            "Timezone",
            "schedule",
            default=DEFAULT_TIMEZONE,
            help="IANA name for the schedule, e.g. America/New_York, Europe/London, UTC.",
        ),
        Question(
            "cron",
            "Schedule (cron)",
            "schedule",
            default=DEFAULT_CRON,
            help="6 fields, seconds first: second minute hour day month weekday "
            "(daily at midnight by default).",
        ),
        Question(
            "dry_run",
            "Dry run (fetch and map, save no data)",
            "integration",
            kind="boolean",
            default="no",
            help="Recommended for a first look at a new source's mappings.",
        ),
    ]
    asked.extend(_setting_questions(spec))
    asked.extend(_credential_question(f) for f in spec.credential_fields)
    return asked


def _setting_questions(spec: ServiceSpec) -> list[Question]:
    found = []
    for name, info in spec.settings_model.model_fields.items():
        has_default = info.default is not PydanticUndefined or info.default_factory is not None
        default = info.get_default(call_default_factory=True) if has_default else None
        found.append(
            Question(
                f"settings.{name}",
                name,
                "settings",
                kind="boolean" if info.annotation is bool else "string",
                required=not has_default,
                default=None if default is None else _text(default),
                help=(info.description or "").strip(),
                advanced=has_default,
            )
        )
    return found


def _credential_question(f: CredentialField) -> Question:
    return Question(
        f.name,
        f.label,
        "credentials",
        kind=f.type,
        required=f.required,
        secret=f.secret or f.type == "password",
        placeholder=f.placeholder,
        help=f.help,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def check(spec: ServiceSpec, question: Question, text: str, timezone: str = "UTC") -> Answer:
    """The typed value of ``text`` for ``question``, or why it cannot be accepted."""
    # A secret is kept exactly as typed (bar the newline); blank counts as not given.
    raw = text.strip("\r\n") if question.secret else text.strip()
    raw = raw if raw.strip() else ""
    if raw == "" and question.default is not None:
        raw = question.default
    if raw == "":
        if question.required:
            return Answer(problem=f"{question.label} is required.")
        return Answer(value=None)
    if question.key == "name":
        return Answer(value=raw)
    if question.key == "capabilities":
        return _check_capabilities(spec, question, raw)
    if question.key == "timezone":
        return _check_timezone(raw)
    if question.key == "cron":
        return check_schedule(raw, timezone)
    if question.kind == "boolean":
        return _check_boolean(question, raw)
    if question.section == "settings":
        return _check_setting(spec.settings_model, question.key.removeprefix("settings."), raw)
    return _check_credential(question, raw)


def check_id(text: str, taken: set[str]) -> Answer:
    if not ID_PATTERN.match(text):
        return Answer(
            problem=f"'{text}' is not a valid integration id: use lowercase letters, digits and "
            "underscores (it becomes integrations/<id>.yaml)."
        )
    if text in taken:
        return Answer(
            problem=f"An integration '{text}' already exists (integrations/{text}.yaml or "
            f"secrets/{text}.sops.yaml). Choose another id, or change its credentials with "
            f"`tether secrets set {text} FIELD`."
        )
    return Answer(value=text)


def _check_capabilities(spec: ServiceSpec, question: Question, raw: str) -> Answer:
    offered = [c.name for c in question.choices]
    chosen: list[str] = []
    for part in (p.strip() for p in raw.replace(" ", ",").split(",")):
        if not part:
            continue
        name = offered[int(part) - 1] if part.isdigit() and 0 < int(part) <= len(offered) else part
        if name not in offered:
            hint = did_you_mean(name, offered)
            return Answer(
                problem=f"{spec.display_name} does not offer '{part}'"
                + (f" ({hint})" if hint else "")
                + f". It offers: {', '.join(offered)}."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        return Answer(problem="Choose at least one capability.")
    return Answer(value=chosen)


def _check_timezone(raw: str) -> Answer:
    from zoneinfo import available_timezones

    if check_timezone(raw) is None:
        return Answer(value=raw)
    hint = did_you_mean(raw, sorted(available_timezones()))
    return Answer(
        problem=f"Unknown timezone '{raw}'"
        + (f" ({hint})" if hint else "")
        + ". Use an IANA name such as America/New_York, Europe/London or UTC (Tab completes)."
    )


def check_schedule(cron: str, timezone: str, after: datetime | None = None) -> Answer:
    """A cron checked, with its next fire times in ``timezone`` as notes."""
    problem = check_cron(cron)
    if problem:
        return Answer(
            problem=problem[0].upper() + problem[1:] + '. Example: "0 0 */6 * * *" runs every '
            "6 hours; the default, 0 0 0 * * *, daily at midnight."
        )
    if check_timezone(timezone) is not None:
        return Answer(value=cron)  # the timezone answer explains itself; no preview without it
    runs = upcoming(cron, timezone, PREVIEW_RUNS, after)
    if not runs:
        return Answer(problem=f"cron '{cron}' never fires (no such date). Choose another.")
    notes = [f"next runs ({timezone}):"] + [f"  {t:%a %Y-%m-%d %H:%M:%S %Z}" for t in runs]
    return Answer(value=cron, notes=notes)


def _check_boolean(question: Question, raw: str) -> Answer:
    word = raw.lower()
    if word in ("y", "yes", "true", "1", "on"):
        return Answer(value=True)
    if word in ("n", "no", "false", "0", "off"):
        return Answer(value=False)
    return Answer(problem=f"{question.label}: answer yes or no.")


def _check_setting(model: type[BaseModel], name: str, raw: str) -> Answer:
    info = model.model_fields[name]
    one: type[BaseModel] = create_model("Setting", **{name: (info.annotation, info)})  # type: ignore[call-overload]
    candidates: list[Any] = [raw]
    with contextlib.suppress(ValueError):
        candidates.append(json.loads(raw))
    problem = ""
    for candidate in candidates:
        try:
            parsed = one.model_validate({name: candidate})
        except ValidationError as exc:
            problem = problem or exc.errors()[0]["msg"]
            continue
        return Answer(value=parsed.model_dump(mode="json")[name])
    return Answer(problem=f"Setting {name}: {problem.lower()}.")


def _check_credential(question: Question, raw: str) -> Answer:
    label = question.label
    if question.kind == "integer":
        try:
            return Answer(value=int(raw))
        except ValueError:
            return Answer(problem=f"{label} must be a whole number.")
    if question.kind == "json":
        try:
            json.loads(raw)
        except ValueError as exc:
            return Answer(problem=f"{label} must be JSON ({exc.args[0].split(':')[0]}).")
        return Answer(value=raw)
    if question.kind == "url":
        parts = urlsplit(raw if "://" in raw else f"https://{raw}")
        if " " in raw or parts.scheme not in ("http", "https") or not parts.hostname:
            example = question.placeholder or "https://example.com"
            return Answer(problem=f"{label} must be a URL or host name, e.g. {example}.")
    return Answer(value=raw)


def settings_to_write(spec: ServiceSpec, answers: dict[str, Any]) -> dict[str, Any]:
    """The settings whose answer differs from the model's default (the file stays short)."""
    written = {}
    for name, info in spec.settings_model.model_fields.items():
        key = f"settings.{name}"
        if key not in answers or answers[key] is None:
            continue
        has_default = info.default is not PydanticUndefined or info.default_factory is not None
        if has_default and answers[key] == info.get_default(call_default_factory=True):
            continue
        written[name] = answers[key]
    return written
