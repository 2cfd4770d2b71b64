"""The one health rule (``tether.engine.health.assess``), as a pure function on plain data."""

from __future__ import annotations

from typing import Any

from tether.engine.health import HealthFlag, Inputs, assess, summary


def run(
    n: int,
    *,
    status: str = "success",
    records: int = 1000,
    failed: int = 0,
    took: float = 40.0,
    domain: str = "sales_orders",
    **more: Any,
) -> dict[str, Any]:
    return {"id": n, "domain_type": domain, "status": status, "records_fetched": records,
            "failed": failed, "duration_s": took, **more}  # fmt: skip


def flags(*executions: dict[str, Any], **inputs: Any) -> list[HealthFlag]:
    return assess(Inputs(executions=executions, **inputs))


def codes(found: list[HealthFlag]) -> list[str]:
    return [f.code for f in found]


def test_healthy_history_has_no_flags() -> None:
    assert flags(*[run(n) for n in range(6, 0, -1)]) == []
    assert summary([]) == "ok"


def test_one_failed_sync_needs_attention() -> None:
    found = flags(run(2, status="failed", error_code="UNAVAILABLE", error="503 from the WMS"))
    assert codes(found) == ["failed"]
    assert found[0].message == "sales_orders: last sync failed: UNAVAILABLE 503 from the WMS"
    assert found[0].severity == "error" and found[0].key == "failed:sales_orders"


def test_a_failure_streak_is_one_flag_whose_message_counts_it() -> None:
    found = flags(run(4, status="failed"), run(3, status="failed"), run(2, status="failed"), run(1))
    assert codes(found) == ["failed"]
    assert found[0].message == "sales_orders: last 3 syncs failed"
    assert flags(run(2), run(1, status="failed")) == []  # recovered
    assert flags(run(2, status="running"), run(1)) == []  # a run in progress is not judged


def test_rejected_credentials_are_one_flag_for_the_integration() -> None:
    auth = {"status": "failed", "error_code": "AUTH_FAILED", "error": "401 Unauthorized"}
    found = flags(run(2, domain="inventory", **auth), run(1, **auth))
    assert codes(found) == ["auth_failed"]
    assert found[0].message == (
        "credentials rejected (AUTH_FAILED) in inventory, sales_orders: 401 Unauthorized"
    )
    assert summary(found) == "auth failed"


def test_rate_limited_several_runs_in_a_row() -> None:
    found = flags(
        run(3, rate_limit_wait_s=20.0),
        run(2, status="partial", error_code="RATE_LIMITED"),
        run(1, rate_limit_wait_s=12.0),
    )
    assert codes(found) == ["rate_limited"]
    assert found[0].message == "sales_orders: rate limited in the last 3 syncs (32s waited)"
    assert flags(run(3, rate_limit_wait_s=20.0), run(2), run(1, rate_limit_wait_s=12.0)) == []


def test_rising_failed_count_is_flagged_per_domain_type() -> None:
    found = flags(run(4, failed=40), run(3, failed=12), run(2, failed=3), run(1))
    assert codes(found) == ["rising_failures"]
    assert found[0].message == "sales_orders: failed items rising 3 → 12 → 40"


def test_records_far_below_usual_volume_not_only_zero() -> None:
    found = flags(run(5, records=40), run(4), run(3), run(2), run(1))
    assert codes(found) == ["records_low"]
    assert found[0].message == "sales_orders: fetched 40 records (usually 1,000)"
    found = flags(run(5, records=0), run(4), run(3), run(2), run(1))
    assert found[0].message == "sales_orders: no records fetched (usually 1,000)"
    assert flags(run(5, records=400), run(4), run(3), run(2), run(1)) == []  # 40 %: normal
    assert flags(run(2, records=0), run(1)) == []  # too little history


def test_duration_far_above_usual() -> None:
    found = flags(run(5, took=300.0), run(4), run(3), run(2), run(1))
    assert codes(found) == ["slow"]
    assert found[0].message == "sales_orders: took 5m 00s (usually 40s)"
    assert flags(run(5, took=100.0), run(4), run(3), run(2), run(1)) == []


def test_unmapped_keys_of_the_newest_execution() -> None:
    found = flags(
        run(1, status="partial"),
        unmapped=[
            ("sales_orders", "UNMAPPED_SKU", "ABC-12", 60),
            ("sales_orders", "UNMAPPED_SKU", "ABC-13", 40),
            ("sales_orders", "UNMAPPED_CHANNEL", "pos", 3),
        ],
    )
    assert codes(found) == ["unmapped"]
    assert found[0].message == (
        "sales_orders: 2 unmapped SKUs (100 items), 1 unmapped channel (3 items)"
    )
    assert found[0].keys == ("SKU:ABC-12", "SKU:ABC-13", "channel:pos")


def test_verify_mismatch_and_overdue() -> None:
    verify = [
        {"domain_type": "sales_orders", "status": "missing", "message": "source 120, state 118"},
        {"domain_type": "products", "status": "match", "message": None},
    ]
    found = flags(run(1), verify=verify, overdue=True)
    assert codes(found) == ["verify_mismatch", "overdue"]
    assert found[0].message == "sales_orders: source 120, state 118"
    assert summary(found) == "verify mismatch +1"
