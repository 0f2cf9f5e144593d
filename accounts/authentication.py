"""DRF authentication by `Authorization: Token <key>` against hashed API tokens."""

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.services import token_authenticate


def parse_token_header(value: str) -> str | None:
    """The key of an `Authorization: Token <key>` header value, or None if not of that form."""
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() != "token":
        return None
    return parts[1]


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`; anything else falls through to the next authenticator."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("token"):
            return None
        key = parse_token_header(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Token <key>'.")
        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
