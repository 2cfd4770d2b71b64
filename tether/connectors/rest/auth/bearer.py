"""``type: bearer`` — ``Authorization: Bearer <token>`` (ShipBob's personal access token)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tether.connectors.rest.auth.base import AuthContext, AuthModel

if TYPE_CHECKING:
    import httpx


class BearerAuth(AuthModel):
    type: Literal["bearer"]
    token: str = "token"
    """The credential field holding the token."""
    scheme: str = "Bearer"

    def credential_names(self) -> tuple[str, ...]:
        return (self.token,)

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        from tether.connectors.rest.auth.header import HeaderAuth

        return HeaderAuth({"Authorization": f"{self.scheme} {credentials[self.token]}"})
