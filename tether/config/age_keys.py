"""Age keys and the workspace's ``.sops.yaml``: make a key, know whose keys a file is for.

A key file is what ``age-keygen`` writes (and ``SOPS_AGE_KEY_FILE`` reads): comment lines and one
``AGE-SECRET-KEY-1…`` line per identity. The secret line never leaves this module except into the
file, created 0600 before anything is written to it.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tether.errors import SecretsError

SOPS_CONFIG = ".sops.yaml"
RULE_FOR_SECRETS = r"secrets/.*\.sops\.yaml$"
_PLACEHOLDER = re.compile(r"^REPLACE|^$")


def held_recipients(key_file: Path) -> list[str]:
    """The public keys of the identities in ``key_file`` (empty if there is no such file)."""
    import pyrage

    if not key_file.is_file():
        return []
    found = []
    for line in key_file.read_text().splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                found.append(str(pyrage.x25519.Identity.from_str(line).to_public()))
            except Exception:  # pyrage raises its own error types; the line is just not a key
                raise SecretsError(
                    f"{key_file} has a line that is not a valid age secret key.",
                    hint="Restore the file from your backup, or make a new key elsewhere with "
                    "`tether secrets keygen --output FILE`.",
                ) from None
    return found


def write_new_key(key_file: Path, now: datetime) -> str:
    """Create ``key_file`` (0600, parents 0700) with a new identity; return its recipient.

    Refuses to touch an existing file: a key file may hold the only copy of a key.
    """
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretsError(f"{key_file} already exists.") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(
            f"# created: {now.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
            f"# public key: {recipient}\n"
            f"{identity}\n"
        )
    return recipient


def _load_config(root: Path) -> tuple[Any, Any]:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: keeps the user's comments and layout
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / SOPS_CONFIG
    document = yaml.load(path.read_text()) if path.is_file() else None
    return yaml, document


def _matching_rule(document: Any, relative: str) -> Any:
    rules = document.get("creation_rules") if isinstance(document, dict) else None
    for rule in rules or []:
        pattern = rule.get("path_regex") if isinstance(rule, dict) else None
        if pattern is None or re.search(str(pattern), relative):
            return rule
    return None


OTHER_KEY_KINDS = ("pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms")


def _listed(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(v).strip() for v in items if not _PLACEHOLDER.match(str(v).strip())]


def _recipients_of(rule: Any) -> list[str]:
    """Age recipients of a rule (top level or in ``key_groups``); other key kinds by name, so a
    rule that encrypts with PGP or a KMS counts as having recipients too."""
    if not isinstance(rule, dict):
        return []
    found = _listed(rule.get("age"))
    for group in [rule, *(rule.get("key_groups") or [])]:
        if not isinstance(group, dict):
            continue
        if group is not rule:
            found.extend(_listed(group.get("age")))
        found.extend(f"{kind}:{v}" for kind in OTHER_KEY_KINDS for v in _listed(group.get(kind)))
    return found


def configured_recipients(root: Path, relative: str) -> list[str]:
    """The age recipients ``.sops.yaml`` encrypts ``relative`` (e.g. secrets/x.sops.yaml) for."""
    _, document = _load_config(root)
    return _recipients_of(_matching_rule(document, relative))


def add_recipient(root: Path, recipient: str) -> bool:
    """Add ``recipient`` to the rule for ``secrets/``; ``False`` if it was already there."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml, document = _load_config(root)
    if document is None:
        document = CommentedMap(creation_rules=CommentedSeq())
    rule = _matching_rule(document, "secrets/x.sops.yaml")
    if rule is None:
        rule = CommentedMap(path_regex=RULE_FOR_SECRETS)
        document.setdefault("creation_rules", CommentedSeq()).append(rule)
    current = _recipients_of(rule)
    if recipient in current:
        return False
    listed = CommentedSeq([*current, recipient])
    old = rule.get("age")
    rule["age"] = listed
    if isinstance(old, str) and _PLACEHOLDER.match(old.strip()):
        # the scaffold's placeholder comment ("age1…") no longer describes the value
        rule.ca.items.pop("age", None)
    path = root / SOPS_CONFIG
    with path.open("w") as handle:
        yaml.dump(document, handle)
    return True
