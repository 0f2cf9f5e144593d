"""One error format for the REST API: `{"detail": ...}` or field errors, never a 500 for bad input."""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from notifications import metrics
from notifications.exceptions import HeraldError, Invalid


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Invalid) and exc.field:
        return Response({exc.field: [exc.message]}, status=exc.status)
    if isinstance(exc, HeraldError):
        return Response({"detail": exc.message}, status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RecursionError):
        # The stdlib JSON parser recurses per nesting level: deeply nested input is bad input.
        return Response({"detail": "JSON parse error - nested too deeply."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable or locked: the transaction rolled back, nothing was
        # stored, and a retry (with the same Idempotency-Key) is safe.
        response = Response(
            {"detail": "The database is unavailable; retry shortly."}, status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
        response["Retry-After"] = "1"
        return response
    if isinstance(exc, Throttled):
        metrics.RATE_LIMITED.labels(where="rest").inc()
    return drf_exception_handler(exc, context)
