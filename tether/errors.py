"""One tree of errors a user can meet; each knows how to explain itself.

Anything that is not a ``TetherError`` is a bug: the CLI shows its traceback only with ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TetherError(Exception):
    """An error with a message for the user and, where one helps, a hint saying what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle every attribute (the hint, a subclass's fields), not just ``args``: errors
        # cross from the fetch worker process to the sync.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[TetherError], args: tuple[Any, ...], state: dict[str, Any]) -> TetherError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding, located as ``path:line:col`` (1-based)."""

    path: str
    line: int
    col: int
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.message}"
        return text if not self.hint else f"{text}\n    hint: {self.hint}"


class ConfigError(TetherError):
    """The workspace is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the workspace")

    def render(self) -> str:
        lines = [p.render() for p in self.problems]
        lines.append(f"Error: {self.message}; nothing was changed.")
        return "\n".join(lines)

    @classmethod
    def at(
        cls, path: Path | str, line: int, col: int, message: str, hint: str | None = None
    ) -> ConfigError:
        return cls([Problem(str(path), line, col, message, hint)])


class WorkspaceNotFoundError(TetherError):
    pass


class PlanError(TetherError):
    pass


class StalePlanError(PlanError):
    pass


class StateError(TetherError):
    pass


class StateLockedError(StateError):
    pass


class PermissionDeniedError(TetherError):
    """The caller's role may not perform the action (HTTP 403 from the daemon)."""

    def __init__(self, action: str, role: str, needed: str) -> None:
        super().__init__(
            f"Permission denied: '{action}' needs the {needed} role; you are {_article(role)} {role}.",
            hint="Ask an admin to add your user to [access] in tether.toml.",
        )
        self.action = action
        self.role = role
        self.needed = needed


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


class NotFoundError(TetherError):
    pass


class UsageError(TetherError):
    """Options that cannot be read or do not make sense together (a date, an empty window)."""


class SecretsError(TetherError):
    pass


class ConnectorError(TetherError):
    """A failure talking to a service. ``code`` is the error code recorded on the execution."""

    code = "SOURCE_ERROR"


class AuthError(ConnectorError):
    code = "AUTH_FAILED"


class RateLimitedError(ConnectorError):
    code = "RATE_LIMITED"


class UnavailableError(ConnectorError):
    code = "CONNECTION_TIMEOUT"


class DataError(ConnectorError):
    """The service answered with something we cannot use (malformed body, schema mismatch)."""

    code = "SOURCE_ERROR"


class UnsupportedCapabilityError(ConnectorError):
    code = "SOURCE_ERROR"


def error_to_dict(exc: TetherError) -> dict[str, object]:
    """The wire form of an error (daemon API), rebuilt on the client by ``error_from_dict``."""
    data: dict[str, object] = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    if isinstance(exc, ConfigError):
        data["problems"] = [p.__dict__ for p in exc.problems]
    if isinstance(exc, PermissionDeniedError):
        data.update(action=exc.action, role=exc.role, needed=exc.needed)
    return data


def error_from_dict(data: dict[str, object]) -> TetherError:
    kind = str(data.get("type", "TetherError"))
    if kind == "ConfigError":
        problems = [Problem(**p) for p in data.get("problems", [])]  # type: ignore[attr-defined]
        return ConfigError(problems)
    if kind == "PermissionDeniedError":
        return PermissionDeniedError(str(data["action"]), str(data["role"]), str(data["needed"]))
    cls = _ERROR_TYPES.get(kind, TetherError)
    hint = data.get("hint")
    return cls(str(data.get("message", "")), str(hint) if hint else None)


_ERROR_TYPES: dict[str, type[TetherError]] = {
    cls.__name__: cls
    for cls in (
        TetherError, WorkspaceNotFoundError, PlanError, StalePlanError, StateError,
        StateLockedError, NotFoundError, SecretsError, ConnectorError, AuthError,
        RateLimitedError, UnavailableError, DataError, UnsupportedCapabilityError,
    )
}  # fmt: skip
