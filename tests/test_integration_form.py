"""The setup form's pure checks, with the clock injected: what each answer becomes, or why not."""

from __future__ import annotations

from datetime import UTC, datetime

from tether.connectors.registry import services
from tether.engine import integration_form as form


def shopify_question(key: str) -> form.Question:
    return next(q for q in form.questions(services()["shopify"]) if q.key == key)


def test_the_schedule_preview_shows_the_next_three_runs_across_a_dst_change() -> None:
    after = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # New York springs forward on 8 March
    answer = form.check_schedule("0 30 2 * * *", "America/New_York", after)
    assert answer.problem is None and answer.value == "0 30 2 * * *"
    assert answer.notes == [
        "next runs (America/New_York):",
        "  Sat 2026-03-07 02:30:00 EST",
        "  Sun 2026-03-08 03:00:00 EDT",  # 02:30 does not exist that night: fires at the gap's end
        "  Mon 2026-03-09 02:30:00 EDT",
    ]


def test_a_cron_that_never_fires_is_refused() -> None:
    answer = form.check_schedule("0 0 0 30 2 *", "UTC", datetime(2026, 1, 1, tzinfo=UTC))
    assert answer.problem is not None and "Invalid cron '0 0 0 30 2 *'" in answer.problem


def test_capabilities_take_names_or_numbers_and_keep_the_order_given() -> None:
    spec = services()["shopify"]
    caps = shopify_question("capabilities")
    assert form.check(spec, caps, "products, 1,products").value == ["products", "sales_orders"]
    assert form.check(spec, caps, "").value == [c.name for c in spec.capabilities]
    refused = form.check(spec, caps, "5")
    assert refused.problem is not None and "does not offer '5'" in refused.problem


def test_credential_fields_are_checked_by_their_declared_type() -> None:
    spec = services()["redshift"]
    port = next(q for q in form.questions(spec) if q.key == "port")
    assert port.kind == "integer" and form.check(spec, port, "5439").value == 5439
    assert form.check(spec, port, "54x").problem == f"{port.label} must be a whole number."
    token = shopify_question("access_token")
    assert token.secret and token.required and token.placeholder == "shpat_…"
    assert form.check(services()["shopify"], token, "  ").problem is not None


def test_ids_must_be_new_and_file_safe() -> None:
    assert form.check_id("shop_us", set()).value == "shop_us"
    bad = form.check_id("Shop-US", set())
    assert bad.problem is not None and "lowercase letters" in bad.problem
    taken = form.check_id("shop", {"shop"})
    assert taken.problem is not None and "tether secrets set shop FIELD" in taken.problem
    assert form.default_id("shopify", {"shopify", "shopify_2"}) == "shopify_3"


def test_settings_use_the_service_model_and_only_changes_are_written() -> None:
    spec = services()["shopify"]
    days = shopify_question("settings.history_days")
    assert days.advanced and days.default == "365" and "first (full) sync" in days.help
    assert form.check(spec, days, "30").value == 30
    assert form.check(spec, days, "zero").problem is not None
    written = form.settings_to_write(spec, {"settings.history_days": 365, "settings.bulk": False})
    assert written == {"bulk": False}
