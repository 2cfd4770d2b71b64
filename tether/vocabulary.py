"""The domain's words, spelled once: what an item, an execution, a trigger and a role can be.

These are ``StrEnum``s, so each member *is* its string: it compares equal to the value stored in
DuckDB, goes into SQL parameters and JSON as is, and a row read back (a plain ``str``) matches a
member without conversion. The values are part of the public SQL surface (docs/status-sql.md)
and of the daemon's wire, so a member is never renamed, only added.
"""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """What happened to one record of a sync (``sync_items.status``)."""

    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    MAPPED = "mapped"
    PARTIAL_MAPPED = "partial_mapped"


# The statuses triage lists as needing attention (v_open_errors, the monitor's error view).
NEEDS_ATTENTION = frozenset({ItemStatus.FAILED, ItemStatus.PARTIAL_MAPPED})


class ExecutionStatus(StrEnum):
    """How one execution ended, or that it is still running (``executions.status``)."""

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


FINISHED = frozenset(set(ExecutionStatus) - {ExecutionStatus.RUNNING})


class Trigger(StrEnum):
    """Why a run started (``runs.trigger``, ``executions.trigger``)."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    RETRY = "retry"  # `tether retry`: the failed items of the last execution again
    CATCH_UP = "catch_up"  # a schedule tick missed while the daemon was down
    BACKFILL = "backfill"  # `tether sync --since/--until`
    RETRY_AFTER_FAILURE = "retry_after_failure"  # the daemon's backoff after a transient failure


class Role(StrEnum):
    """Who may do what, in order: each role can do everything the ones before it can."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLES.index(self)

    def allows(self, needed: Role | str) -> bool:
        """Whether this role may run what needs ``needed``."""
        return self.rank >= Role(needed).rank


ROLES: tuple[Role, ...] = tuple(Role)
