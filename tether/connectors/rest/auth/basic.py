"""``type: basic`` — HTTP basic auth (WooCommerce's consumer key and secret over HTTPS)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tether.connectors.rest.auth.base import AuthContext, AuthModel

if TYPE_CHECKING:
    import httpx


class BasicAuth(AuthModel):
    type: Literal["basic"]
    username: str = "username"
    """The credential field holding the user name."""
    password: str = "password"
    """The credential field holding the password."""

    def credential_names(self) -> tuple[str, ...]:
        return (self.username, self.password)

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        import httpx

        return httpx.BasicAuth(credentials[self.username], credentials[self.password])
