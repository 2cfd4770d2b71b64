"""`tether add shopify` driven through its prompts on a pseudo-terminal, as a new user would:
init → secrets keygen → add (with a wrong answer at every prompt) → validate → plan → apply →
a first sync against the Shopify sandbox. No credential value may appear in any file under the
workspace, HOME or the command's temp dir at any moment, nor in what the terminal shows."""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

import add_support
import pexpect
import pytest
from conftest import run_tether
from leak_watch import scan_once, watch

from tether.config.secrets import decrypt
from tether.sandbox import shopify as sandbox


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    return add_support.user_env(tmp_path)


def test_watch_sees_a_planted_value(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "f").write_bytes(b"prefix shpat_canary suffix")
    assert scan_once([tmp_path], [b"shpat_canary"]) == {str(tmp_path / "deep" / "f")}
    assert scan_once([tmp_path], [b"shpat_other"]) == set()
    assert scan_once([tmp_path], [b"shpat_canary"], since=time.time() + 60) == set()  # old file
    # the system temp dir is watched for new files, even ones gone before the command ends
    recent = tempfile.NamedTemporaryFile(dir=tempfile.gettempdir())  # noqa: SIM115
    with watch([], ["shpat_recent"]) as seen, recent as handle:
        handle.write(b"shpat_recent")
        handle.flush()
        started = seen.passes
        deadline = time.monotonic() + 20
        while seen.passes < started + 2 and time.monotonic() < deadline:  # a whole pass after
            time.sleep(0.01)
    assert seen.hits == {handle.name}


def test_add_shopify_through_its_prompts_then_validate_plan_apply_and_sync(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    workspace = tmp_path / "acme"
    token = "shpat_" + secrets.token_hex(16)
    store = f"acme-{secrets.token_hex(4)}.myshopify.com"
    init = run_tether("init", str(workspace), env=user_env)
    assert init.exit_code == 0, init.output
    steps = [
        line.strip() for line in init.stdout.splitlines() if line.strip()[:2] in {"1.", "2.", "3."}
    ]
    assert steps == ["1. tether secrets keygen", "2. tether add shopify", "3. tether apply"]
    keygen = run_tether("-w", str(workspace), "secrets", "keygen", env=user_env)
    assert keygen.exit_code == 0, keygen.output
    key_file = Path(user_env["HOME"]) / ".config" / "sops" / "age" / "keys.txt"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "AGE-SECRET-KEY" not in keygen.output

    roots = [workspace, Path(user_env["HOME"]), Path(user_env["TMPDIR"])]
    with sandbox.serve(sandbox.Scenario(orders=30, access_token=token, restore_rate=1e6)) as srv:
        with watch(roots, [token, store]) as seen:
            child = pexpect.spawn(
                sys.executable,
                [
                    "-m",
                    "tether",
                    "-w",
                    str(workspace),
                    "add",
                    "shopify",
                    "shop_us",
                    "--set",
                    f"settings.base_url={srv.url}",
                ],
                env=user_env,
                encoding="utf-8",
                timeout=30,
                dimensions=(40, 120),
            )
            transcript: list[str] = []
            child.logfile_read = _Collect(transcript)
            child.expect(r"Integration name \[Shopify\]: ")
            child.sendline("Shopify US")

            child.expect(r"Capabilities \[.*\]: ")
            child.sendline("sales_orders,refunds")
            child.expect("Shopify does not offer 'refunds'")
            child.expect(r"Capabilities \[.*\]: ")
            child.sendline("1,3")

            child.expect(r"Timezone \[UTC\]: ")
            child.sendline("Mars/Olympus")
            child.expect("Unknown timezone 'Mars/Olympus'")
            child.expect(r"Timezone \[UTC\]: ")
            child.send("Europe/Lond\t")  # Tab completes the IANA name
            child.expect("on")
            child.sendline("")

            child.expect(r"Schedule \(cron\) \[0 0 0 \* \* \*\]: ")
            child.sendline("0 0 * * *")
            child.expect("has 5 fields; Tether uses 6 fields, seconds first")
            child.expect(r"Schedule \(cron\) \[0 0 0 \* \* \*\]: ")
            child.sendline("0 30 2 * * *")
            child.expect(r"next runs \(Europe/London\):")
            child.expect(r"02:30:00 (GMT|BST).*\r\n.*02:30:00 (GMT|BST).*\r\n.*02:30:00 (GMT|BST)")

            child.expect(r"Dry run .*\[no\]: ")
            child.sendline("")
            child.expect(r"Change optional service settings\? \[y/N\]: ")
            child.sendline("n")

            child.expect(r"Store URL \* \(e\.g\. your-store\.myshopify\.com\): ")
            child.sendline("")
            child.expect("Store URL is required.")
            child.expect(r"Store URL \* .*: ")
            child.sendline(store)

            child.expect(r"Admin API Access Token \* .*: ")
            child.sendline("")
            child.expect("Admin API Access Token is required.")
            child.expect(r"Admin API Access Token \* .*: ")
            child.sendline(token)

            child.expect("created secrets/shop_us.sops.yaml")
            child.expect(pexpect.EOF)
            child.close()
        assert child.exitstatus == 0, "".join(transcript)
        shown = "".join(transcript)
        assert token not in shown  # the secret was never echoed
        assert "Next: tether plan" in shown
        assert seen.passes > 3 and seen.hits == set(), seen.hits

        text = (workspace / "integrations" / "shop_us.yaml").read_text()
        assert "name: Shopify US" in text and "capabilities: [sales_orders, products]" in text
        assert 'cron: "0 30 2 * * *"' in text and "timezone: Europe/London" in text
        for wrong in ("refunds", "Mars", '0 0 * * *"'):
            assert wrong not in text

        ws = ["-w", str(workspace)]
        with watch(roots, [token, store]) as seen:
            results = [
                run_tether(*ws, "validate", env=user_env),
                run_tether(*ws, "plan", env=user_env),
                run_tether(*ws, "apply", "--auto-approve", env=user_env),
                run_tether(*ws, "sync", "shop_us", env=user_env),
            ]
        for result in results:
            assert result.exit_code == 0, result.output
            assert token not in result.output and store not in result.output
        assert "+ shop_us" in results[1].output or "shop_us" in results[1].output
        assert seen.hits == set(), seen.hits

    import duckdb

    con = duckdb.connect(str(workspace / "state" / "tether.duckdb"), read_only=True)
    rows = con.execute(
        "select domain_type, records_fetched, error_code from executions order by id"
    ).fetchall()
    con.close()
    assert rows and rows[0][0] == "sales_orders" and rows[0][1] > 0 and rows[0][2] is None, rows


class _Collect:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        pass


def test_add_with_no_arguments_asks_the_service_the_id_and_optional_settings(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    workspace = tmp_path / "acme"
    assert run_tether("init", str(workspace), env=user_env).exit_code == 0
    assert run_tether("-w", str(workspace), "secrets", "keygen", env=user_env).exit_code == 0
    (workspace / "integrations" / "shopify.yaml").write_text("taken: true\n")  # id taken
    env = {**user_env, "TETHER_ADD_STORE_URL": "a.myshopify.com", "TETHER_ADD_ACCESS_TOKEN": "t"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tether", "-w", str(workspace), "add"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    transcript: list[str] = []
    child.logfile_read = _Collect(transcript)
    child.expect(r"Service\S* \*")
    child.expect("Shopify: E-commerce platform for sales orders and products")
    child.expect("Service: ")
    child.sendline("shopfy")
    child.expect("Unknown service 'shopfy'")
    child.expect("Service: ")
    child.sendline("shopify")
    child.expect(r"Integration id \[shopify_2\]: ")  # shopify is taken
    child.sendline("shopify")
    child.expect("An integration 'shopify' already exists")
    child.expect(r"Integration id \[shopify_2\]: ")
    child.sendline("")
    for prompt in ("Integration name", "Capabilities", "Timezone", r"Schedule \(cron\)", "Dry run"):
        child.expect(prompt + r" .*\]: ")
        child.sendline("")
    child.expect(r"Change optional service settings\? \[y/N\]: ")
    child.sendline("y")
    child.expect(r"base_url: ")
    child.sendline("")
    child.expect("How far back the first")  # the setting's own description, from its model
    child.expect(r"history_days \[365\]: ")
    child.sendline("0")
    child.expect("Setting history_days: input should be greater than or equal to 1")
    child.expect(r"history_days \[365\]: ")
    child.sendline("30")
    # The remaining optional settings keep their defaults; credentials come from the environment.
    while child.expect([r"\]: ", "created secrets/shopify_2.sops.yaml"]) == 0:
        child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, "".join(transcript)
    text = (workspace / "integrations" / "shopify_2.yaml").read_text()
    assert "history_days: 30" in text and "page_size" not in text
    assert 'cron: "0 0 0 * * *"' in text and "timezone: UTC" in text
    assert "Store URL" not in "".join(transcript)  # not asked: TETHER_ADD_STORE_URL answered it


def test_secrets_set_on_a_terminal_asks_twice_without_echo(tmp_path: Path) -> None:
    user = add_support.new_user(tmp_path)
    added = user.tether(
        "add", "shopify", "shop", "--set", "store_url=a.myshopify.com", "--set", "access_token=-",
        input="shpat_old",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    token = "shpat_" + secrets.token_hex(12)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tether", "-w", str(user.workspace), "secrets", "set", "shop", "access_token"],
        env=user.env,
        encoding="utf-8",
        timeout=30,
    )
    transcript: list[str] = []
    child.logfile_read = _Collect(transcript)
    child.expect("New value for access_token: ")
    child.sendline(token)
    child.expect("Repeat for confirmation: ")
    child.sendline(token + "x")
    child.expect("Error: The two entered values do not match.")
    child.expect("New value for access_token: ")
    child.sendline(token)
    child.expect("Repeat for confirmation: ")
    child.sendline(token)
    child.expect("Updated access_token in secrets/shop.sops.yaml")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and token not in "".join(transcript)
    values = decrypt(user.workspace / "secrets" / "shop.sops.yaml", user.key_file)
    assert values["access_token"] == token and values["store_url"] == "a.myshopify.com"
