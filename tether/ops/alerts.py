"""Alert operations: ``alerts`` (viewer: routes and recent deliveries), ``alerts_test``.

``alerts_test`` sends a test message through the routes of the workspace's ``alerts.yaml`` (so
a route can be tried before it is applied), synchronously, and reports per destination whether
the receiver accepted it. Destination URLs are decrypted for the call and never returned.
"""

from __future__ import annotations

from typing import Any

from tether.config.alerts import load_alerts
from tether.config.secrets import decrypt
from tether.engine.alerts import DeliveryFailed, apprise_send, scrub
from tether.errors import ConfigError, NotFoundError, TetherError
from tether.ops import Context, operation


@operation("alerts", "viewer")
def alerts(ctx: Context, limit: int = 20) -> dict[str, Any]:
    """Alert routes (applied) and the latest deliveries."""
    from tether.engine.alerts import applied_alerts

    with ctx.state.read() as con:
        if con is None:
            return {"routes": [], "deliveries": []}
        applied = applied_alerts(con)
        rows = con.execute(
            "SELECT id, created_at, route, destination, event, integration_id, title, status, "
            "attempts, last_error FROM alert_deliveries ORDER BY id DESC LIMIT ?",
            [limit],
        ).fetchall()
    names = ("id", "created_at", "route", "destination", "event", "integration_id", "title",
             "status", "attempts", "last_error")  # fmt: skip
    return {
        "routes": (applied or {}).get("routes", []),
        "deliveries": [
            {k: (v.isoformat() if k == "created_at" else v) for k, v in zip(names, r, strict=True)}
            for r in rows
        ],
    }


@operation("alerts_test", "operator")
def alerts_test(ctx: Context, route: str | None = None) -> dict[str, Any]:
    """Send a test message through one route (or every route) of alerts.yaml."""
    ids = [p.stem for p in (ctx.workspace.root / "integrations").glob("*.y*ml")]
    config, problems = load_alerts(ctx.workspace, ids)
    if problems:
        raise ConfigError(problems)
    if config is None or not config.routes:
        raise NotFoundError(
            "No alert routes: alerts.yaml does not exist or has no `routes:`.",
            hint="See docs/alerts.md for a route that sends failures to Slack.",
        )
    if route is not None and route not in config.routes:
        raise NotFoundError(
            f"No alert route '{route}'.", hint=f"Routes: {', '.join(config.routes)}."
        )
    urls = decrypt(ctx.workspace.resolve(config.destinations_ref), ctx.workspace.age_key_file)
    results = []
    for name, r in config.routes.items():
        if route is not None and name != route:
            continue
        for destination in r.to:
            outcome: dict[str, Any] = {"route": name, "destination": destination}
            url = urls.get(destination)
            try:
                if url is None:
                    raise DeliveryFailed(f"'{destination}' is not in {config.destinations_ref}")
                apprise_send(
                    url,
                    f"Tether test message (route {name})",
                    f"If you can read this, route '{name}' reaches '{destination}' "
                    f"(sent by {ctx.actor}).",
                    "info",
                )
                outcome.update(delivered=True, error=None)
            except DeliveryFailed as exc:
                outcome.update(delivered=False, error=scrub(str(exc), urls.values()))
            results.append(outcome)
    failed = [r for r in results if not r["delivered"]]
    if failed:
        detail = "; ".join(f"{r['route']}/{r['destination']}: {r['error']}" for r in failed)
        raise TetherError(
            f"{len(failed)} of {len(results)} test messages were not delivered: {detail}",
            hint="Check the URL in the destinations file (`sops edit`) and the receiver.",
        )
    return {"sent": results}
