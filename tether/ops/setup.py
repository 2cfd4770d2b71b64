"""Setting up integrations and their secrets: the form (`add_form`, `add_check`), writing the
files (`add`), and the age keys and SOPS files behind them (`secrets_*`).

These operations write workspace files and the caller's own key file, as the caller: the CLI
runs them in-process (``connect(..., local=True)``), never over the daemon socket, so credential
values stay in the one process that read them and in the ``sops`` child they are piped to.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tether.config import age_keys
from tether.config.integration import did_you_mean
from tether.config.integration_file import NewIntegration, render
from tether.config.model import DEFAULT_TIMEZONE
from tether.config.secrets import encrypt_values, file_recipients, set_value, sops_metadata
from tether.connectors.base import ServiceSpec
from tether.connectors.registry import connector_class, services
from tether.engine import integration_form as form
from tether.errors import ConfigError, NotFoundError, SecretsError, TetherError
from tether.ops import Context, LocalStateAccess, operation


def _only_in_process(ctx: Context, name: str) -> None:
    """Writers of credentials and keys run as the user who typed them, in their process: never
    in the daemon (its user, its home directory, values crossing the socket)."""
    if not isinstance(ctx.state, LocalStateAccess):
        raise TetherError(
            f"'{name}' writes credentials or keys as you, so it runs only in the `tether` "
            "command, not through the daemon.",
            hint="Run `tether add` / `tether secrets` on the machine holding the workspace.",
        )


def _spec(service: str) -> ServiceSpec:
    return connector_class(service).spec


def taken_ids(ctx: Context) -> set[str]:
    root = ctx.workspace.root
    found = {p.stem for p in (root / "integrations").glob("*.y*ml")}
    found |= {p.name.removesuffix(".sops.yaml") for p in (root / "secrets").glob("*.sops.yaml")}
    return found


@operation("add_form", "viewer")
def add_form(ctx: Context, service: str | None = None) -> dict[str, Any]:
    """The setup form: the service catalogue, and the questions for one service."""
    catalogue = [
        {"name": s.name, "display_name": s.display_name, "description": s.description}
        for s in services().values()
    ]
    result: dict[str, Any] = {"services": catalogue}
    if service is not None:
        spec = _spec(service)
        taken = taken_ids(ctx)
        result["service"] = service
        result["display_name"] = spec.display_name
        result["questions"] = [asdict(q) for q in form.questions(spec)]
        result["default_id"] = form.default_id(service, taken)
    return result


@operation("add_check", "viewer")
def add_check(
    ctx: Context,
    service: str,
    key: str,
    text: str,
    timezone: str = "UTC",
    after: str | None = None,
) -> dict[str, Any]:
    """Check one answer of the setup form; its typed value, or why it is refused."""
    if key == "id":
        answer = form.check_id(text.strip(), taken_ids(ctx))
    elif key == "cron" and after is not None:
        answer = form.check_schedule(text.strip(), timezone, datetime.fromisoformat(after))
    else:
        answer = form.check(_spec(service), _question(service, key), text, timezone)
    return {"value": answer.value, "problem": answer.problem, "notes": answer.notes}


def _question(service: str, key: str) -> form.Question:
    asked = {q.key: q for q in form.questions(_spec(service))}
    if key.startswith("credentials."):
        key = key.removeprefix("credentials.")
    if key not in asked:
        hint = did_you_mean(key, list(asked))
        raise TetherError(
            f"'{key}' is not a field of the {service} setup form.",
            hint=(hint + " " if hint else "") + f"Fields: {', '.join(asked)}.",
        )
    return asked[key]


@operation("add", "admin")
def add(ctx: Context, service: str, id: str, answers: dict[str, str]) -> dict[str, Any]:
    """Write integrations/<id>.yaml and its encrypted secrets/<id>.sops.yaml."""
    _only_in_process(ctx, "add")
    spec = _spec(service)
    checked_id = form.check_id(id, taken_ids(ctx))
    if checked_id.problem:
        raise TetherError(checked_id.problem)
    values, problems = _check_all(spec, service, answers)
    if problems:
        raise TetherError(
            "Nothing was written: " + " ".join(problems),
            hint="Run `tether add` on a terminal to be asked, or fix the --set values.",
        )
    root = ctx.workspace.root
    ref = f"secrets/{id}.sops.yaml"
    recipients = age_keys.configured_recipients(root, ref)
    if not recipients:
        raise SecretsError(
            f"{root / age_keys.SOPS_CONFIG} names no age recipient for {ref}; nothing was written.",
            hint="Run `tether secrets keygen` to make your key and add it there.",
        )
    credentials = {
        f.name: values[f.name] for f in spec.credential_fields if values.get(f.name) is not None
    }
    ciphertext = encrypt_values(root, root / ref, credentials)  # plaintext only on sops' stdin
    new = NewIntegration(
        id=id,
        name=values["name"],
        service=service,
        service_display=spec.display_name,
        capabilities=values["capabilities"],
        cron=values["cron"],
        timezone=values["timezone"],
        credentials=ref,
        dry_run=bool(values["dry_run"]),
        settings=form.settings_to_write(spec, values),
    )
    integration_path = root / "integrations" / f"{id}.yaml"
    written = _write_new(root / ref, ciphertext)
    try:
        _write_new(integration_path, render(new).encode())
        _validate_one(ctx, integration_path)
    except BaseException:
        for path in (integration_path, written):
            path.unlink(missing_ok=True)
        raise
    return {
        "id": id,
        "integration": f"integrations/{id}.yaml",
        "credentials": ref,
        "recipients": recipients,
        "fields": sorted(credentials),
        "next": ["tether plan", "tether apply", f"tether sync {id}"],
    }


def _check_all(
    spec: ServiceSpec, service: str, answers: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    asked = form.questions(spec)
    known = {q.key for q in asked}
    problems = []
    for key in answers:
        bare = key.removeprefix("credentials.")
        if bare not in known:
            hint = did_you_mean(bare, sorted(known))
            problems.append(
                f"'{key}' is not a field of the {service} form" + (f" ({hint})." if hint else ".")
            )
    texts = {k.removeprefix("credentials."): v for k, v in answers.items()}
    timezone = texts.get("timezone", "").strip() or DEFAULT_TIMEZONE
    values: dict[str, Any] = {}
    for question in asked:
        text = texts.get(question.key, "")
        if question.advanced and question.key not in texts:
            continue
        answer = form.check(spec, question, text, timezone)
        if answer.problem:
            problems.append(answer.problem)
        values[question.key] = answer.value
    return values, problems


def _write_new(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise TetherError(f"{path} already exists; nothing was overwritten.") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _validate_one(ctx: Context, path: Path) -> None:
    from tether.config.integration import IntegrationChecker
    from tether.config.workspace import credentials_reader
    from tether.engine.services import service_infos

    display = str(path.relative_to(ctx.workspace.root))
    checker = IntegrationChecker(path, display, service_infos(), credentials_reader(ctx.workspace))
    checker.check()
    if checker.problems:
        raise ConfigError(checker.problems)


# -- secrets -----------------------------------------------------------------------------------


@operation("secrets_keygen", "admin")
def secrets_keygen(
    ctx: Context, output: str | None = None, now: str | None = None
) -> dict[str, Any]:
    """Make an age key (or reuse the one there) and add its recipient to .sops.yaml."""
    _only_in_process(ctx, "secrets_keygen")
    key_file = Path(output).expanduser() if output else ctx.workspace.age_key_file
    held = age_keys.held_recipients(key_file)
    if held:
        recipient, created = held[0], False
    else:
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
        recipient, created = age_keys.write_new_key(key_file, moment), True
    added = age_keys.add_recipient(ctx.workspace.root, recipient)
    secrets_dir = ctx.workspace.root / "secrets"
    existing = sorted(p.name for p in secrets_dir.glob("*.sops.yaml"))
    return {
        "key_file": str(key_file),
        "created": created,
        "recipient": recipient,
        "added_to_sops_yaml": added,
        "key_file_in_use": key_file.resolve() == ctx.workspace.age_key_file.resolve(),
        "existing_secrets": existing,
    }


@operation("secrets_check", "viewer")
def secrets_check(ctx: Context) -> dict[str, Any]:
    """Which secrets files are encrypted, for whom, and whether a key you hold opens each."""
    from tether.config import yamlpos

    root = ctx.workspace.root
    held = set(age_keys.held_recipients(ctx.workspace.age_key_file))
    files = []
    for path in sorted((root / "secrets").glob("*.sops.yaml")):
        relative = str(path.relative_to(root))
        configured = [  # age recipients only: other key kinds are listed per file by kind
            r for r in age_keys.configured_recipients(root, relative) if r.startswith("age1")
        ]
        try:
            document = yamlpos.load_untyped(path.read_text())
        except (yamlpos.YamlSyntaxError, UnicodeDecodeError):
            document = None
        encrypted = sops_metadata(document) is not None
        recipients = file_recipients(document) if encrypted else []
        problems = []
        if not encrypted:
            problems.append("not SOPS-encrypted")
        elif not held & set(recipients):
            problems.append("not encrypted for a key you hold")
        missing = [r for r in configured if r not in recipients] if encrypted else []
        if missing:
            problems.append(f"not encrypted for {len(missing)} recipient(s) in .sops.yaml")
        files.append(
            {
                "path": relative,
                "encrypted": encrypted,
                "recipients": recipients,
                "yours": bool(held & set(recipients)),
                "missing_recipients": missing,
                "problems": problems,
            }
        )
    return {
        "key_file": str(ctx.workspace.age_key_file),
        "held": sorted(held),
        "files": files,
        "ok": all(not f["problems"] for f in files),
    }


@operation("secrets_set", "admin")
def secrets_set(ctx: Context, id: str, field: str, text: str) -> dict[str, Any]:
    """Replace one credential of an integration; the other values stay untouched, unseen."""
    _only_in_process(ctx, "secrets_set")
    from tether.config import yamlpos

    path = ctx.workspace.root / "integrations" / f"{id}.yaml"
    if not path.is_file():
        raise NotFoundError(
            f"No integration '{id}' (integrations/{id}.yaml).",
            hint="Create it with `tether add`; `tether validate` lists the integrations.",
        )
    doc = yamlpos.load_untyped(path.read_text())
    service = str(doc.get("service")) if isinstance(doc, dict) else ""
    ref = str(doc.get("credentials") or f"secrets/{id}.sops.yaml")
    spec = _spec(service)
    fields = [f.name for f in spec.credential_fields]
    if field not in fields:
        hint = did_you_mean(field, fields)
        raise TetherError(
            f"'{field}' is not a credential field of {service}.",
            hint=(hint + " " if hint else "") + f"{service} fields: {', '.join(fields)}.",
        )
    question = next(q for q in form.questions(spec) if q.key == field)
    answer = form.check(spec, question, text)
    if answer.problem or answer.value is None:
        raise TetherError(answer.problem or f"{question.label} is required; nothing changed.")
    inside = ctx.workspace.inside(ref)
    if inside is None:  # never write (or decrypt) a file out of the workspace
        raise TetherError(
            f"integrations/{id}.yaml points credentials at {ref}, outside the workspace; "
            "nothing changed.",
            hint=f"Point it at a file in the workspace, e.g. credentials: secrets/{id}.sops.yaml",
        )
    secrets_path = inside
    if secrets_path.is_file():
        set_value(secrets_path, field, answer.value, ctx.workspace.age_key_file)
        return {"id": id, "field": field, "credentials": ref, "created": False}
    # No file yet (an integration written by hand): start it with this field, encrypted on the
    # way in like `add` does, so it never exists in plaintext.
    ciphertext = encrypt_values(ctx.workspace.root, secrets_path, {field: answer.value})
    _write_new(secrets_path, ciphertext)
    return {"id": id, "field": field, "credentials": ref, "created": True}
