"""REST API for sign-in tokens, API tokens, WebSocket tickets and creating subscribers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiToken
from notifications.api import (
    MAX_ID,
    StrictCharField,
    StrictEmailField,
    StrictRegexField,
    page,
    query_int,
    query_limit,
)
from notifications.exceptions import Invalid, NotFound
from notifications.serialization import iso


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` in the OpenAPI schema."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, from POST /auth/token/ or POST /tokens/",
        }


class AuthThrottle(AnonRateThrottle):
    scope = "auth"


class CredentialsSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


class ObtainTokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [AuthThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"  # bad credentials answer 401, not 403

    @extend_schema(
        request=CredentialsSerializer, responses=inline_serializer("AuthToken", {"token": serializers.CharField()})
    )
    def post(self, request: Request) -> Response:
        """Exchange a username and password for a new API token (earlier ones stay valid)."""
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request._request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise AuthenticationFailed("Unable to sign in with these credentials.")
        _, key = services.token_create(user=user, name="created by POST /auth/token/")
        return Response({"token": key})


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = StrictCharField(max_length=100)
    prefix = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class NewTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    key = serializers.CharField(read_only=True)


def token_data(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at) if token.last_used_at else None,
    }


class TokenListView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "TokenPage", {"results": TokenSerializer(many=True), "next": serializers.URLField(allow_null=True)}
        )
    )
    def get(self, request: Request) -> Response:
        """Your tokens: names and prefixes, never keys."""
        limit, after = query_limit(request), query_int(request, "after") or 0
        tokens = list(ApiToken.objects.filter(user=request.user, id__gt=after).order_by("id")[:limit])
        return page(
            request,
            [token_data(t) for t in tokens],
            limit=limit,
            cursor="after",
            cursor_value=tokens[-1].pk if tokens else after,
        )

    @extend_schema(request=TokenSerializer, responses={201: NewTokenSerializer})
    def post(self, request: Request) -> Response:
        """Create a named token; its key is in this answer and nowhere else, ever."""
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.token_create(user=request.user, name=serializer.validated_data["name"])
        body = {k: v for k, v in token_data(token).items() if k != "last_used_at"}
        return Response({**body, "key": key}, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        """Revoke a token; sockets it opened are closed (4401)."""
        token = ApiToken.objects.filter(user=request.user, pk=token_id).first() if token_id <= MAX_ID else None
        if token is None:
            raise NotFound("No such token.")
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TicketView(APIView):
    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "Ticket", {"ticket": serializers.CharField(), "expires_in": serializers.IntegerField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        """A single-use WebSocket credential, valid 60 s (for browsers: `?ticket=`)."""
        ticket, ttl = services.ticket_create(user=request.user)
        return Response({"ticket": ticket, "expires_in": ttl}, status=status.HTTP_201_CREATED)


class NewSubscriberSerializer(serializers.Serializer):
    username = StrictRegexField(r"^[\w.@+-]{1,150}\Z", max_length=150, trim_whitespace=False)
    email = StrictEmailField(required=False, allow_blank=True)
    password = StrictCharField(required=False, allow_blank=True, max_length=128, trim_whitespace=False)


class SubscriberCreateView(APIView):
    @extend_schema(
        request=NewSubscriberSerializer,
        responses={
            201: inline_serializer(
                "NewSubscriber", {"username": serializers.CharField(), "token": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        """Create one user (object) or up to 1000 (list, all or nothing), each with a token (staff)."""
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can create subscribers.")
        many = isinstance(request.data, list)
        if many and not 1 <= len(request.data) <= 1000:
            raise Invalid("A list must hold 1 to 1000 users.")
        if not many and not isinstance(request.data, dict):
            raise Invalid("Expected an object or a list of objects.")
        serializer = NewSubscriberSerializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        specs = serializer.validated_data if many else [serializer.validated_data]
        created = services.users_create(specs=specs)
        body = [{"username": user.username, "token": key} for user, key in created]
        return Response(body if many else body[0], status=status.HTTP_201_CREATED)
