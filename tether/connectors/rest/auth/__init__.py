"""The ``auth:`` kinds a spec may name, one module each. A new kind is a model with a ``type``
literal, ``credential_names()`` and ``build()`` (see ``base.py``), added to ``AuthSpec`` below."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tether.connectors.rest.auth.api_key import ApiKeyAuth
from tether.connectors.rest.auth.base import AuthContext, AuthModel
from tether.connectors.rest.auth.basic import BasicAuth
from tether.connectors.rest.auth.bearer import BearerAuth
from tether.connectors.rest.auth.oauth1 import OAuth1Auth
from tether.connectors.rest.auth.oauth2 import OAuth2RefreshAuth

AuthSpec = Annotated[
    BearerAuth | BasicAuth | ApiKeyAuth | OAuth2RefreshAuth | OAuth1Auth,
    Field(discriminator="type"),
]

__all__ = ["AuthContext", "AuthModel", "AuthSpec"]
