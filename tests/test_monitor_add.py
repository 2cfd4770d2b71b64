"""The monitor's "New integration" form: the same form as `tether add`, checked as you type,
writing the same files — driven with Textual's Pilot on a real workspace and the real sops."""

from __future__ import annotations

from pathlib import Path

import pytest
from add_support import NewUser, new_user
from monitor_support import make_app, region_text, settle, toasts
from textual.widgets import Button, Input, Select, SelectionList

from tether.config.project import load_project
from tether.config.secrets import decrypt
from tether.daemon.client import LocalBackend
from tether.tui.screens.add import AddIntegrationDialog
from tether.tui.setup_source import SetupSource

pytestmark = pytest.mark.anyio


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NewUser:
    made = new_user(tmp_path)
    monkeypatch.setenv("HOME", made.env["HOME"])  # the key file under the user's HOME
    return made


async def test_new_integration_form_checks_as_you_type_and_writes_encrypted_files(
    user: NewUser,
) -> None:
    setup = SetupSource(LocalBackend(load_project(user.workspace)))
    app = make_app(setup=setup)
    async with app.run_test(size=(120, 60), notifications=True) as pilot:
        await settle(pilot)
        assert any(c.title == "New integration" for c in app.get_system_commands(app.screen))
        app.action_new_integration()
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AddIntegrationDialog)
        dialog.query_one("#service", Select).value = "shopify"
        await settle(pilot)

        async def note(key: str) -> str:
            """What the field's note line shows, scrolled into view as a user would."""
            selector = f"#field-{key.replace('.', '__')}-note"
            dialog.query_one(selector).scroll_visible(animate=False)
            await settle(pilot)
            return region_text(app, selector)

        create = dialog.query_one("#create", Button)
        assert "Store URL is required." in await note("store_url") and create.disabled

        dialog.query_one("#field-timezone", Input).value = "Mars/Olympus"
        await settle(pilot)
        assert "Unknown timezone 'Mars/Olympus'" in await note("timezone")
        dialog.query_one("#field-timezone", Input).value = "Asia/Tokyo"
        dialog.query_one("#field-cron", Input).value = "0 0 * * *"
        await settle(pilot)
        assert "has 5 fields" in await note("cron")
        dialog.query_one("#field-cron", Input).value = "0 15 9 * * *"
        await settle(pilot)
        assert (
            "next runs (Asia/Tokyo):" in await note("cron")
            and (await note("cron")).count("09:15:00 JST") == 3
        )

        caps = dialog.query_one("#field-capabilities", SelectionList)
        caps.deselect_all()
        await settle(pilot)
        assert "Choose at least one capability." in await note("capabilities")
        caps.select("products")
        dialog.query_one("#field-name", Input).value = "Tokyo shop"
        dialog.query_one("#field-store_url", Input).value = "tokyo.myshopify.com"
        token = dialog.query_one("#field-access_token", Input)
        assert token.password  # a secret field is never shown
        token.value = "shpat_from_the_form"
        await settle(pilot)
        assert not create.disabled
        await pilot.click("#create")
        await settle(pilot)
        assert not isinstance(app.screen, AddIntegrationDialog)
        assert "Created integrations/shopify.yaml" in toasts(app)
        assert "shpat_from_the_form" not in toasts(app)

    text = (user.workspace / "integrations" / "shopify.yaml").read_text()
    assert "name: Tokyo shop" in text and "capabilities: [products]" in text
    assert 'cron: "0 15 9 * * *"' in text and "timezone: Asia/Tokyo" in text
    values = decrypt(user.workspace / "secrets" / "shopify.sops.yaml", user.key_file)
    assert values == {"store_url": "tokyo.myshopify.com", "access_token": "shpat_from_the_form"}
    assert user.tether("validate").exit_code == 0


async def test_without_a_setup_source_the_monitor_offers_no_form() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        assert not any(c.title == "New integration" for c in app.get_system_commands(app.screen))
