"""``type: oauth1`` — OAuth 1.0a request signing (RFC 5849), e.g. NetSuite token-based auth.

Every request is signed with the consumer key/secret and the token/secret, a fresh nonce and
timestamp, and the ``realm`` (NetSuite: the account id, ``1234567_SB1``). The signing is authlib's
(``tether/connectors/oauth1.py``), with HMAC-SHA256 added to the methods it ships.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tether.connectors.rest.auth.base import AuthContext, AuthModel

if TYPE_CHECKING:
    import httpx


class OAuth1Auth(AuthModel):
    type: Literal["oauth1"]
    consumer_key: str = "consumer_key"
    consumer_secret: str = "consumer_secret"
    token: str = "token"
    token_secret: str = "token_secret"
    """The credential fields holding the consumer key/secret and the token id/secret."""
    realm: str | None = None
    signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256"

    def credential_names(self) -> tuple[str, ...]:
        return (self.consumer_key, self.consumer_secret, self.token, self.token_secret)

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        from tether.connectors.oauth1 import OAuth1Signer

        return OAuth1Signer(
            consumer_key=credentials[self.consumer_key],
            consumer_secret=credentials[self.consumer_secret],
            token=credentials[self.token],
            token_secret=credentials[self.token_secret],
            realm=self.realm,
            signature_method=self.signature_method,
        )
