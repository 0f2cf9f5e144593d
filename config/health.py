"""Liveness probe (`/healthz`); readiness and metrics live beside it."""

from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving HTTP."""
    return JsonResponse({"status": "ok"})
