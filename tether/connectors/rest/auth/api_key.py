"""``type: api_key`` — a key in a header (BigCommerce's ``X-Auth-Token``) or a query parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tether.connectors.rest.auth.base import AuthContext, AuthModel

if TYPE_CHECKING:
    import httpx


class ApiKeyAuth(AuthModel):
    type: Literal["api_key"]
    name: str
    """The header or query parameter, e.g. ``X-Auth-Token`` or ``api_key``."""
    location: Literal["header", "query"] = "header"
    key: str = "api_key"
    """The credential field holding the key."""

    def credential_names(self) -> tuple[str, ...]:
        return (self.key,)

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        from tether.connectors.rest.auth.header import HeaderAuth

        value = credentials[self.key]
        if self.location == "query":
            return HeaderAuth({}, {self.name: value})
        return HeaderAuth({self.name: value})
