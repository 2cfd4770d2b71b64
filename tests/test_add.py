"""`tether add` for scripts and CI (--set, environment, stdin), its refusals, and proof that the
form comes from the service catalogue alone: a service registered here gets a working form."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from add_support import NewUser, new_user
from leak_watch import watch

from tether.config.secrets import decrypt
from tether.connectors import registry
from tether.connectors.base import (
    CredentialField,
    Page,
    ServiceSettings,
    ServiceSpec,
    capabilities,
)
from tether.sandbox import shopify as sandbox


@pytest.fixture
def user(tmp_path: Path) -> NewUser:
    return new_user(tmp_path)


def written(user: NewUser) -> list[str]:
    names = [p.name for p in (user.workspace / "integrations").iterdir()]
    names += [p.name for p in (user.workspace / "secrets").iterdir()]
    return sorted(n for n in names if n != ".gitkeep")


def test_add_without_a_terminal_takes_set_stdin_and_env_then_plans_applies_and_syncs(
    user: NewUser,
) -> None:
    token = "shpat_" + secrets.token_hex(16)
    store = f"ci-{secrets.token_hex(4)}.myshopify.com"
    with sandbox.serve(sandbox.Scenario(orders=20, access_token=token, restore_rate=1e6)) as srv:
        args = [
            sys.executable, "-m", "tether", "-w", str(user.workspace), "add", "shopify", "shop_ci",
            "--set", "name=Shopify CI",
            "--set", "capabilities=sales_orders",
            "--set", "cron=0 0 */6 * * *",
            "--set", "timezone=America/New_York",
            "--set", f"settings.base_url={srv.url}",
            "--set", "access_token=-",
        ]  # fmt: skip
        env = {**user.env, "TETHER_ADD_STORE_URL": store}
        with watch(user.watched, [token, store]) as seen:
            proc = subprocess.run(args, input=token + "\n", capture_output=True, text=True, env=env)
            results = [user.tether(c) for c in ("validate", "plan")]
            results.append(user.tether("apply", "--auto-approve"))
            results.append(user.tether("sync", "shop_ci"))
    assert proc.returncode == 0, proc.stderr
    assert "created secrets/shop_ci.sops.yaml" in proc.stdout and "Next: tether plan" in proc.stdout
    for output in (proc.stdout + proc.stderr, *(r.output for r in results)):
        assert token not in output and store not in output
    for result in results:
        assert result.exit_code == 0, result.output
    assert seen.hits == set() and seen.passes > 1
    text = (user.workspace / "integrations" / "shop_ci.yaml").read_text()
    assert 'cron: "0 0 */6 * * *"' in text and "timezone: America/New_York" in text
    assert "capabilities: [sales_orders]" in text and f"base_url: {srv.url}" in text
    assert "history_days" not in text  # defaults stay out of the file
    values = decrypt(user.workspace / "secrets" / "shop_ci.sops.yaml", user.key_file)
    assert values == {"store_url": store, "access_token": token}
    import duckdb

    con = duckdb.connect(str(user.workspace / "state" / "tether.duckdb"), read_only=True)
    runs = con.execute("select records_fetched, error_code from executions").fetchall()
    con.close()
    assert len(runs) == 1 and runs[0][0] > 0 and runs[0][1] is None, runs  # the token worked


def test_add_refuses_without_a_terminal_when_a_required_field_is_missing(user: NewUser) -> None:
    result = user.tether("add", "shopify", "shop", "--set", "store_url=acme.myshopify.com")
    assert result.exit_code == 1
    assert (
        "Not a terminal" in result.stderr
        and "access_token (Admin API Access Token)" in result.stderr
    )
    assert "--set access_token=-" in result.stderr and "TETHER_ADD_ACCESS_TOKEN" in result.stderr
    assert written(user) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cron", "0 0 * * *", "has 5 fields; Tether uses 6 fields, seconds first"),
        (
            "timezone",
            "Europe/Londn",
            "Unknown timezone 'Europe/Londn' (did you mean 'Europe/London'?)",
        ),
        (
            "capabilities",
            "sales_orders,warehouse_inventory",
            "Shopify does not offer 'warehouse_inventory'",
        ),
        ("store_url", "not a url", "Store URL must be a URL or host name"),
        (
            "settings.history_days",
            "0",
            "Setting history_days: input should be greater than or equal to 1",
        ),
        ("dry_run", "maybe", "answer yes or no"),
        ("colour", "blue", "'colour' is not a field of the shopify form"),
    ],
)
def test_a_bad_answer_is_explained_and_nothing_is_written(
    user: NewUser, field: str, value: str, message: str
) -> None:
    result = user.tether(
        "add", "shopify", "shop", "--set", f"{field}={value}", "--set", "access_token=-",
        "--set", "store_url=acme.myshopify.com" if field != "store_url" else "name=x",
        input="shpat_x",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Nothing was written" in result.stderr
    assert written(user) == []


def test_a_secret_on_the_command_line_is_warned_about_and_never_echoed(user: NewUser) -> None:
    result = user.tether(
        "add", "shopify", "--set", "store_url=a.myshopify.com", "--set", "access_token=shpat_cli"
    )
    assert result.exit_code == 0, result.output
    assert "Warning: --set access_token=… puts a secret in the process list" in result.stderr
    assert "shpat_cli" not in result.output
    assert written(user) == ["shopify.sops.yaml", "shopify.yaml"]  # the id defaults to the service
    again = user.tether(
        "add", "shopify", "shopify", "--set", "store_url=b", "--set", "access_token=y"
    )
    assert again.exit_code == 1 and "An integration 'shopify' already exists" in again.stderr


def test_add_without_a_key_in_sops_yaml_says_to_run_keygen(tmp_path: Path) -> None:
    user = new_user(tmp_path, keygen=False)
    result = user.tether("add", "shopify", "s", "--set", "store_url=a", "--set", "access_token=b")
    assert result.exit_code == 1
    assert "names no age recipient" in result.stderr and "tether secrets keygen" in result.stderr
    assert written(user) == []


# -- a service the catalogue gains: `add` needs no change ---------------------------------------


class KegSettings(ServiceSettings):
    region: str
    """Data centre your KegTrack account lives in, e.g. eu-1."""
    page_size: int = 200


class KegTrackConnector:
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="kegtrack",
        display_name="KegTrack",
        description="Keg fleet tracking",
        capabilities=capabilities("warehouse_inventory", "products"),
        credential_fields=(
            CredentialField("account_id", "Account number", type="integer", placeholder="1234"),
            CredentialField("api_secret", "API secret", type="password", secret=True),
            CredentialField("service_json", "Service JSON", type="json", required=False),
        ),
        settings_model=KegSettings,
    )

    def __init__(self, settings: ServiceSettings, credentials: Mapping[str, str], **_: Any) -> None:
        pass

    def fetch(self, capability: str, cursor: Any) -> Iterator[Page]:
        yield from ()

    def close(self) -> None:
        pass


@pytest.fixture
def with_kegtrack(monkeypatch: pytest.MonkeyPatch) -> None:
    known = registry.connectors()
    monkeypatch.setattr(registry, "connectors", lambda: {**known, "kegtrack": KegTrackConnector})


@pytest.mark.usefixtures("with_kegtrack")
def test_a_service_added_to_the_catalogue_gets_a_form_from_its_metadata(user: NewUser) -> None:
    base = ["add", "kegtrack", "kegs", "--set", "api_secret=-"]
    missing = user.tether(*base, input="s3cret-keg")
    assert missing.exit_code == 1
    assert (
        "settings.region (region)" in missing.stderr
        and "account_id (Account number)" in missing.stderr
    )

    not_a_number = user.tether(
        *base, "--set", "account_id=12a", "--set", "settings.region=eu-1", input="s"
    )
    assert "Account number must be a whole number" in not_a_number.stderr
    bad_json = user.tether(
        *base, "--set", "account_id=12", "--set", "settings.region=eu-1",
        "--set", "service_json={oops", input="s",
    )  # fmt: skip
    assert "Service JSON must be JSON" in bad_json.stderr
    wrong_capability = user.tether(
        *base, "--set", "account_id=12", "--set", "settings.region=eu-1",
        "--set", "capabilities=sales_orders", input="s",
    )  # fmt: skip
    assert "KegTrack does not offer 'sales_orders'" in wrong_capability.stderr
    assert written(user) == []

    ok = user.tether(
        *base, "--set", "account_id=1234", "--set", "settings.region=eu-1", input="s3cret-keg"
    )
    assert ok.exit_code == 0, ok.output
    assert "s3cret-keg" not in ok.output
    text = (user.workspace / "integrations" / "kegs.yaml").read_text()
    assert "service: kegtrack" in text and "region: eu-1" in text
    assert "capabilities: [warehouse_inventory, products]" in text
    values = decrypt(user.workspace / "secrets" / "kegs.sops.yaml", user.key_file)
    assert values == {"account_id": "1234", "api_secret": "s3cret-keg"}
    assert user.tether("validate").exit_code == 0


def test_a_name_yaml_would_misread_is_written_quoted_and_reads_back_exactly(user: NewUser) -> None:
    from ruamel.yaml import YAML

    name = 'Shop: #1 "US" - yes'
    result = user.tether(
        "add", "shopify", "odd", "--set", f"name={name}", "--set", "store_url=a.myshopify.com",
        "--set", "access_token=-", input="shpat_x",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((user.workspace / "integrations" / "odd.yaml").read_text())
    assert doc["name"] == name and doc["schedule"] == {"cron": "0 0 0 * * *", "timezone": "UTC"}
    assert user.tether("validate").exit_code == 0


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("add", {"service": "shopify", "id": "s", "answers": {"access_token": "shpat_d"}}),
        ("secrets_keygen", {}),
        ("secrets_set", {"id": "s", "field": "access_token", "text": "shpat_d"}),
    ],
)
def test_credential_writers_refuse_to_run_inside_the_daemon(
    user: NewUser, name: str, params: dict[str, Any]
) -> None:
    import duckdb

    from tether import ops
    from tether.config.project import load_project
    from tether.errors import TetherError

    daemon_like = ops.Context(
        load_project(user.workspace), ops.SharedStateAccess(duckdb.connect()), "u", "admin"
    )
    with pytest.raises(TetherError, match="runs only in the `tether` command"):
        ops.run(daemon_like, name, params)
    assert written(user) == []


def test_without_a_terminal_the_service_must_be_named_and_known(user: NewUser) -> None:
    none = user.tether("add")
    assert none.exit_code == 1 and "needs SERVICE without a terminal" in none.stderr
    assert "shopify" in none.stderr  # the catalogue is listed
    typo = user.tether("add", "shopfy")
    assert typo.exit_code == 1 and "Unknown service 'shopfy'" in typo.stderr
    assert "did you mean 'shopify'?" in typo.stderr
    bad_id = user.tether(
        "add", "shopify", "Shop-US", "--set", "store_url=a", "--set", "access_token=b"
    )
    assert bad_id.exit_code == 1 and "not a valid integration id" in bad_id.stderr
    assert written(user) == []
