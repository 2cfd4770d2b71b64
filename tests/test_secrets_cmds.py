"""`tether secrets keygen|set|check`: the age key is made safely and never shown, one credential
changes without the others being shown, and a file you cannot open is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from add_support import NewUser, new_user
from leak_watch import watch

from tether.config import age_keys
from tether.config.secrets import decrypt, encrypt_file, generate_age_key


@pytest.fixture
def user(tmp_path: Path) -> NewUser:
    return new_user(tmp_path)


def add_shop(user: NewUser, token: str = "shpat_first") -> None:
    result = user.tether(
        "add", "shopify", "shop", "--set", "store_url=acme.myshopify.com",
        "--set", "access_token=-", input=token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_keygen_makes_a_private_key_and_adds_its_recipient_once(tmp_path: Path) -> None:
    user = new_user(tmp_path, keygen=False)
    first = user.tether("secrets", "keygen")
    assert first.exit_code == 0, first.output
    assert user.key_file.stat().st_mode & 0o777 == 0o600
    assert user.key_file.parent.stat().st_mode & 0o777 == 0o700
    lines = user.key_file.read_text().splitlines()
    secret_line = next(line for line in lines if line.startswith("AGE-"))
    assert secret_line not in first.output and "AGE-SECRET-KEY" not in first.output
    (recipient,) = age_keys.held_recipients(user.key_file)
    assert f"Public key: {recipient}" in first.stdout
    assert age_keys.configured_recipients(user.workspace, "secrets/x.sops.yaml") == [recipient]
    assert "# `tether secrets keygen` adds yours" in (user.workspace / ".sops.yaml").read_text()

    again = user.tether("secrets", "keygen")
    assert again.exit_code == 0 and "Using the existing key" in again.stdout
    assert ".sops.yaml already lists it" in again.stdout
    assert secret_line in user.key_file.read_text()  # never overwritten
    assert age_keys.configured_recipients(user.workspace, "secrets/x.sops.yaml") == [recipient]


def test_keygen_to_a_given_file_adds_a_second_recipient_and_says_how_to_use_it(
    user: NewUser, tmp_path: Path
) -> None:
    add_shop(user)
    other = tmp_path / "teammate" / "keys.txt"
    result = user.tether("secrets", "keygen", "--output", str(other), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["created"] and doc["key_file"] == str(other) and not doc["key_file_in_use"]
    assert "AGE-SECRET-KEY" not in result.output
    assert len(age_keys.configured_recipients(user.workspace, "secrets/x.sops.yaml")) == 2
    text = user.tether("secrets", "keygen", "--output", str(other)).stdout
    assert f"SOPS_AGE_KEY_FILE={other}" in text


def test_set_rotates_one_credential_from_stdin_without_showing_any(user: NewUser) -> None:
    add_shop(user)
    user.tether("apply", "--auto-approve")
    with watch(user.watched, ["shpat_rotated", "shpat_first", "acme.myshopify.com"]) as seen:
        result = user.tether("secrets", "set", "shop", "access_token", input="shpat_rotated\n")
    assert seen.hits == set()  # sops set decrypts in memory: no plaintext file, even briefly
    assert result.exit_code == 0, result.output
    assert "Updated access_token in secrets/shop.sops.yaml (value not shown)" in result.stdout
    assert "shpat_" not in result.output and "acme" not in result.output
    values = decrypt(user.workspace / "secrets" / "shop.sops.yaml", user.key_file)
    assert values == {"store_url": "acme.myshopify.com", "access_token": "shpat_rotated"}
    plan = user.tether("plan")
    assert "sensitive value changed" in plan.output and "shpat_" not in plan.output


def test_set_refuses_unknown_fields_bad_values_and_unknown_integrations(user: NewUser) -> None:
    add_shop(user)
    before = (user.workspace / "secrets" / "shop.sops.yaml").read_bytes()
    unknown = user.tether("secrets", "set", "shop", "acess_token", input="x")
    assert unknown.exit_code == 1 and "did you mean 'access_token'?" in unknown.stderr
    empty = user.tether("secrets", "set", "shop", "store_url", input="")
    assert empty.exit_code == 1 and "Store URL is required" in empty.stderr
    missing = user.tether("secrets", "set", "nope", "access_token", input="x")
    assert missing.exit_code == 1 and "No integration 'nope'" in missing.stderr
    assert (user.workspace / "secrets" / "shop.sops.yaml").read_bytes() == before


def test_check_names_files_you_cannot_open_and_files_not_encrypted(user: NewUser) -> None:
    add_shop(user)
    ok = user.tether("secrets", "check")
    assert ok.exit_code == 0, ok.output
    assert "ok secrets/shop.sops.yaml" in ok.stdout and "(yours)" in ok.stdout

    _, stranger = generate_age_key()
    theirs = user.workspace / "secrets" / "theirs.sops.yaml"
    theirs.write_text("api_key: x\n")
    encrypt_file(theirs, stranger)
    (user.workspace / "secrets" / "plain.sops.yaml").write_text("api_key: oops\n")
    bad = user.tether("secrets", "check")
    assert bad.exit_code == 1
    assert "✗  secrets/theirs.sops.yaml" in bad.stdout
    assert "not encrypted for a key you hold" in bad.stdout
    assert "✗  secrets/plain.sops.yaml" in bad.stdout and "not SOPS-encrypted" in bad.stdout
    assert "oops" not in bad.output
    doc = json.loads(user.tether("secrets", "check", "--json").stdout)
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path["secrets/theirs.sops.yaml"]["recipients"] == [stranger]
    assert by_path["secrets/theirs.sops.yaml"]["missing_recipients"] == doc["held"]
    assert by_path["secrets/shop.sops.yaml"]["yours"] is True and doc["ok"] is False


def test_set_starts_a_missing_credentials_file_field_by_field_for_a_hand_written_integration(
    user: NewUser,
) -> None:
    (user.workspace / "integrations" / "shop.yaml").write_text(
        "name: Shop\nservice: shopify\ncapabilities: [sales_orders]\n"
        "credentials: secrets/shop.sops.yaml\n"
    )
    missing = user.tether("validate")
    assert missing.exit_code == 1 and "tether secrets set shop FIELD" in missing.output
    with watch(user.watched, ["shpat_by_hand", "hand.myshopify.com"]) as seen:
        first = user.tether("secrets", "set", "shop", "store_url", input="hand.myshopify.com")
        half = user.tether("validate")
        second = user.tether("secrets", "set", "shop", "access_token", input="shpat_by_hand")
    assert "Created store_url in secrets/shop.sops.yaml" in first.stdout
    assert "lacks required field 'access_token'" in half.output
    assert "Updated access_token" in second.stdout
    assert seen.hits == set()
    assert user.tether("validate").exit_code == 0
    values = decrypt(user.workspace / "secrets" / "shop.sops.yaml", user.key_file)
    assert values == {"store_url": "hand.myshopify.com", "access_token": "shpat_by_hand"}
