"""Completeness operation (viewer): ``verify`` counts the source against the state.

The source is counted first, without holding the state (a count can take a while: TrackStar
pages through its list); the state's counts and the record in ``verify_runs`` follow in one
short write. A viewer may verify: recording the result changes no data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tether.ops import Context, operation


@operation("verify", "viewer")
def verify(
    ctx: Context,
    integration: str,
    since: str | None = None,
    until: str | None = None,
    capabilities: list[str] | None = None,
) -> dict[str, Any]:
    """Compare the source's record counts with the state's, per capability, over a window."""
    from tether.engine import verify as checks
    from tether.engine.sync import load_integration, open_connector
    from tether.engine.window import DEFAULT_DAYS, parse_window, window_json
    from tether.errors import StateError, TetherError

    now = datetime.now(UTC)
    window = parse_window(since, until, now=now, default_days=DEFAULT_DAYS)
    with ctx.state.read() as con:
        if con is None:
            raise StateError(
                "There is no state yet, so nothing to verify.",
                hint="Run `tether apply`, then `tether sync`, first.",
            )
        found = load_integration(con, integration)
    chosen = list(capabilities or found.capabilities)
    unknown = [c for c in chosen if c not in found.capabilities]
    if unknown:
        raise TetherError(
            f"Integration '{found.id}' does not sync {', '.join(unknown)}.",
            hint=f"Its capabilities: {', '.join(found.capabilities)}.",
        )
    connector = open_connector(found, ctx.workspace)
    try:
        counted = checks.count_source(connector, chosen, window)
    finally:
        connector.close()
    check_id: int | None = None
    try:
        with ctx.state.write("verify") as con:
            results = checks.compare(con, found.id, counted, window)
            check_id = checks.record(con, found.id, results, window, actor=ctx.actor, now=now)
    except PermissionError:
        # A viewer without write access to the state directory (no daemon): the counts are
        # still worth having; they are just not recorded.
        with ctx.state.read() as con:
            assert con is not None
            results = checks.compare(con, found.id, counted, window)
    return {
        "integration": found.id,
        "check_id": check_id,
        "recorded": check_id is not None,
        "window": window_json(window),
        "outcome": checks.outcome(results),
        "capabilities": [c.as_json() for c in results],
    }
