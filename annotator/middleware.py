from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    """Refuse an over-size body from its declared length, before a byte is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"code": "invalid_content_length", "detail": "Content-Length is not a number."},
                status=400,
            )
        limit = settings.RADLABEL_MAX_REQUEST_BYTES
        if length > limit:
            return JsonResponse(
                {
                    "code": "request_too_large",
                    "detail": f"The body ({length} bytes) exceeds the limit of {limit} bytes.",
                },
                status=413,
            )
        if request.META.get("HTTP_CONTENT_ENCODING", "identity") not in ("", "identity"):
            return JsonResponse(
                {"code": "unsupported_content_encoding", "detail": "Send the body uncompressed."},
                status=415,
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
