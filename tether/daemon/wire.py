"""What travels on the daemon socket: JSON bodies, and errors as JSON and back.

A failed operation answers ``{"error": {"type": "StateLockedError", "message": …, "hint": …}}``
with an HTTP status from ``http_status``; the client rebuilds the same ``TetherError`` subclass
from it, so the CLI prints the same message with or without a daemon.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from tether import errors
from tether.errors import TetherError

PROGRESS_HEADER = "X-Tether-Progress"
"""Request header asking for a streamed answer: ND-JSON ``{"progress": …}`` lines, then the
final ``{"result": …}`` or ``{"error": …}`` line."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Path | UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def http_status(exc: BaseException) -> int:
    if isinstance(exc, errors.PermissionDeniedError):
        return 403
    if isinstance(exc, errors.NotFoundError):
        return 404
    if isinstance(exc, errors.StateLockedError | errors.StalePlanError):
        return 409
    if isinstance(exc, errors.ConfigError):
        return 422
    if isinstance(exc, TetherError):
        return 400
    return 500


_PLAIN = (str, int, float, bool, type(None))


def error_to_json(exc: BaseException) -> dict[str, Any]:
    """The error document for a failed operation (never a traceback; the daemon logs those)."""
    if not isinstance(exc, TetherError):
        return {
            "type": "InternalError",
            "message": f"Internal error in the daemon: {type(exc).__name__}: {exc}",
            "hint": "This is a bug; the daemon's log has the traceback.",
        }
    doc: dict[str, Any] = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    detail = {
        k: v
        for k, v in vars(exc).items()
        if k not in ("message", "hint", "problems")
        and not k.startswith("_")
        and isinstance(v, _PLAIN)
    }
    if detail:
        doc["detail"] = detail
    if isinstance(exc, errors.ConfigError):
        doc["problems"] = [dataclasses.asdict(p) for p in exc.problems]
    return doc


def _error_classes() -> dict[str, type[TetherError]]:
    found: dict[str, type[TetherError]] = {}
    pending: list[type[TetherError]] = [TetherError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, cls)
        pending.extend(cls.__subclasses__())
    return found


def error_from_json(doc: dict[str, Any]) -> TetherError:
    """Rebuild the error the daemon raised, as the same class when this process knows it."""
    cls = _error_classes().get(str(doc.get("type")), TetherError)
    exc = cls.__new__(cls)
    TetherError.__init__(exc, str(doc.get("message", "")), doc.get("hint"))
    for key, value in (doc.get("detail") or {}).items():
        setattr(exc, key, value)
    if isinstance(exc, errors.ConfigError):
        exc.problems = [errors.Problem(**p) for p in doc.get("problems", [])]
    return exc


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits AF_UNIX's ~107-byte limit (deep workspaces, tmp dirs).

    Long paths are reached through the parent directory's file descriptor in /proc (Linux).
    """
    text = str(path)
    if len(text.encode()) < 100:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
