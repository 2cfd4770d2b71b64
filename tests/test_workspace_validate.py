"""The bad-config corpus: every problem reported at once as path:line:col, state untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder, run_tether

CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_x"}


def good(ws: WorkspaceBuilder) -> None:
    ws.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)


def write(ws: WorkspaceBuilder, rel: str, text: str) -> None:
    path = ws.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def state_digest(ws: WorkspaceBuilder) -> str:
    return hashlib.sha256(ws.state_path.read_bytes()).hexdigest()


VALID_HEAD = "name: Shop\nservice: shopify\ncredentials: secrets/shop.sops.yaml\n"

# (file, content, expected "path:line:col: message" fragment, expected hint fragment)
CASES = [
    ("integrations/shop.yaml", "name: Shop\nservice: [shopify\n", "integrations/shop.yaml:3:1: YAML syntax error", None),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nenabeld: true\n",
     "integrations/shop.yaml:5:1: unknown key 'enabeld'", "did you mean 'enabled'?"),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nenabled: 'yes'\n",
     "integrations/shop.yaml:5:10: enabled: input should be a valid boolean", None),
    ("integrations/shop.yaml", "name: Shop\nservice: shopfy\ncredentials: secrets/shop.sops.yaml\ncapabilities: [sales_orders]\n",
     "integrations/shop.yaml:2:10: unknown service 'shopfy'", "Known services: amazon, bigcommerce, bigquery, brewman, "),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities:\n  - sales_orders\n  - sales_history\n",
     "integrations/shop.yaml:6:5: capability 'sales_history' is not offered by shopify", "shopify offers: sales_orders"),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nschedule:\n  cron: '0 0 * * *'\n",
     "integrations/shop.yaml:6:9: cron '0 0 * * *' has 5 fields; Tether uses 6 fields, seconds first", None),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nschedule:\n  cron: '0 0 25 * * *'\n",
     "integrations/shop.yaml:6:9: invalid cron '0 0 25 * * *'", None),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nschedule:\n  timezone: America/New_Yrok\n",
     "integrations/shop.yaml:6:13: unknown timezone 'America/New_Yrok'", "did you mean 'America/New_York'?"),
    ("integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\nsettings:\n  histroy_days: 3\n",
     "integrations/shop.yaml:6:3: unknown setting 'histroy_days' for shopify", "did you mean 'history_days'?"),
    ("integrations/shop.yaml", "name: Shop\nservice: shopify\ncapabilities: [sales_orders]\ncredentials: secrets/nope.sops.yaml\n",
     "integrations/shop.yaml:4:14: credentials file 'secrets/nope.sops.yaml' does not exist", "tether secrets set shop FIELD"),
    ("integrations/Shop-US.yaml", VALID_HEAD + "capabilities: [sales_orders]\n",
     "integrations/Shop-US.yaml:1:1: integration id 'Shop-US' (the file name) must match [a-z0-9_]+", None),
    ("integrations/shop.yaml", "service: shopify\ncapabilities: [sales_orders]\ncredentials: secrets/shop.sops.yaml\n",
     "integrations/shop.yaml:1:1: missing required key 'name'", None),
    ("mappings/skus.csv", "sku,external,integration\nA,B,\n",
     "mappings/skus.csv:1:1: wrong header 'sku,external,integration'; expected 'sku,external_id,integration'", None),
    ("mappings/skus.csv", "sku,external_id,integration\n,SKU-1,\n",
     "mappings/skus.csv:2:1: empty sku", None),
    ("mappings/skus.csv", "sku,external_id,integration\nA,SKU-1,\nA,SKU-1,\n",
     "mappings/skus.csv:3:1: duplicate row: external id 'SKU-1' (all integrations) is already mapped to 'A' on line 2", None),
    ("mappings/skus.csv", "sku,external_id,integration\nA,SKU-1,shop\nB,X,\nC,SKU-1,shop\n",
     "mappings/skus.csv:4:1: external id 'SKU-1' (integration 'shop') is mapped to two targets: 'A' on line 2 and 'C' on line 4", None),
    ("mappings/channels.csv", "channel,external_id,integration\nweb,online_store,shopp\n",
     "mappings/channels.csv:2:18: unknown integration 'shopp'", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rel", "text", "expected", "hint"), CASES, ids=[c[2].split(": ", 1)[1][:40] for c in CASES]
)
def test_bad_config_is_reported_with_location_and_state_is_unchanged(
    workspace: WorkspaceBuilder, rel: str, text: str, expected: str, hint: str | None
) -> None:
    good(workspace)
    workspace.apply()
    before = state_digest(workspace)
    if rel.startswith("integrations/") and rel != "integrations/shop.yaml":
        (workspace.root / "integrations" / "shop.yaml").unlink()
    write(workspace, rel, text)
    for command in ("validate", "plan", "apply"):
        args = ["-w", str(workspace.root), command] + (
            ["--auto-approve"] if command == "apply" else []
        )
        result = run_tether(*args)
        assert result.exit_code == 1, (command, result.output)
        assert expected in result.stderr, result.stderr
        if hint:
            assert hint in result.stderr
        assert "nothing was changed" in result.stderr
        assert "Traceback" not in result.output
    assert state_digest(workspace) == before


def test_every_problem_is_reported_at_once(workspace: WorkspaceBuilder) -> None:
    good(workspace)
    write(workspace, "integrations/other.yaml", "name: X\nservice: nope\ncapabilities: [a]\n")
    write(workspace, "mappings/skus.csv", "sku,external_id,integration\nA,SKU-1,ghost\n")
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    assert "integrations/other.yaml:2:10: unknown service 'nope'" in result.stderr
    assert "mappings/skus.csv:2:9: unknown integration 'ghost'" in result.stderr
    assert "2 problems in the workspace" in result.stderr


def test_plaintext_credentials_are_refused(workspace: WorkspaceBuilder) -> None:
    write(
        workspace,
        "secrets/shop.sops.yaml",
        "store_url: a.myshopify.com\naccess_token: shpat_plain\n",
    )
    write(workspace, "integrations/shop.yaml", VALID_HEAD + "capabilities: [sales_orders]\n")
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    assert (
        "integrations/shop.yaml:3:14: credentials file 'secrets/shop.sops.yaml' is not SOPS-encrypted"
        in result.stderr
    )
    assert "shpat_plain" not in result.output


def test_credentials_missing_a_required_field(workspace: WorkspaceBuilder) -> None:
    workspace.integration(
        "shop", "shopify", ["sales_orders"], credentials={"store_url": "a.myshopify.com"}
    )
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    assert "lacks required field 'access_token' for shopify" in result.stderr


def test_valid_workspace_passes(workspace: WorkspaceBuilder) -> None:
    good(workspace)
    workspace.mappings("sku", [("HAT", "SKU-1", "shop")])
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 0
    assert "Success! 1 integrations, 1 sku mapping are valid." in result.stdout


def test_outside_a_workspace_says_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TETHER_WORKSPACE", raising=False)
    result = run_tether("plan")
    assert result.exit_code == 1
    assert "No tether.toml found" in result.stderr
    assert "tether init DIR" in result.stderr


def test_bad_tether_toml_has_a_location(workspace: WorkspaceBuilder) -> None:
    (workspace.root / "tether.toml").write_text('[daemon]\ncatch_up = "always"\n')
    result = run_tether("-w", str(workspace.root), "validate")
    assert result.exit_code == 1
    assert "tether.toml:2:1: daemon.catch_up" in result.stderr


def test_fast_sops_scan_agrees_with_a_yaml_parse(workspace: WorkspaceBuilder) -> None:
    from tether.config import secrets, yamlpos
    from tether.config.workspace import _scan_sops_yaml

    ref = workspace.credentials(
        "bq",
        {"project_id": "p", "service_account_json": '{\n  "type": "service_account"\n}\n'},
    )
    text = (workspace.root / ref).read_text()
    scanned = _scan_sops_yaml(text)
    document = yamlpos.load_untyped(text)
    assert scanned is not None
    assert scanned.keys == ("project_id", "service_account_json")
    assert scanned.fingerprint == secrets.fingerprint(document)
    assert _scan_sops_yaml("project_id: p\n") is None, "plaintext falls back to a real parse"
    assert _scan_sops_yaml('{"sops": {"mac": "x"}}') is None, "JSON falls back to a real parse"
