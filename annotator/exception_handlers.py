"""Every API error is JSON ``{"code", "detail", ...}``; nothing internal reaches the client."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotator.exceptions import ApplicationError

logger = logging.getLogger(__name__)


def _drf_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return "invalid"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"code": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            {"code": "invalid", "detail": "The request is invalid.", "errors": exc.detail},
            status=exc.status_code,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        response.data = {"code": _drf_code(exc), "detail": str(exc.detail)}
    return response


def server_error(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    """Generic 500 body with a correlation id; the traceback stays in the protected log."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("unhandled error, correlation id %s", error_id)
    return JsonResponse(
        {"code": "server_error", "detail": "Internal error.", "error_id": error_id}, status=500
    )


def not_found(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A CSRF refusal under ``/api/`` is a JSON 403 like every other API error (the same body
    DRF gives a session write without the token); other pages keep Django's page."""
    if not request.path.startswith("/api/"):
        return django_csrf_failure(request, reason=reason)
    return JsonResponse(
        {"code": "permission_denied", "detail": f"CSRF Failed: {reason}"}, status=403
    )
