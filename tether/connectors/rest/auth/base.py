"""What every auth kind is: a spec model that names the credential fields it reads and builds the
``httpx.Auth`` that signs each request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import httpx

    from tether.connectors.http import HttpPolicy


class AuthContext(Protocol):
    """What an auth kind may use besides the credentials: the HTTP policy (for a token request
    that must obey the same timeouts, retries and errors), the service's display name and the
    base URL."""

    policy: HttpPolicy
    service: str
    base_url: str
    """The API's effective base URL (a token URL may be relative to it)."""


class AuthModel(BaseModel):
    """Base of every ``auth:`` block; ``type`` picks the kind. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    def credential_names(self) -> tuple[str, ...]:
        """The credential fields this auth reads (all required)."""
        raise NotImplementedError

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        raise NotImplementedError
