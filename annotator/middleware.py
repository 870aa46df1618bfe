from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Sign-in routes: no session, no CSRF; a body there is a username and a password.
_AUTH_PATHS = ("/api/auth/", "/admin/login/")


def _body_limit(request: HttpRequest) -> int:
    """Multipart uploads may be large; everything else is parsed in memory (DRF's JSON parser
    reads the whole stream), so it gets a small limit, and the sign-in routes a tiny one."""
    if request.path.startswith(_AUTH_PATHS):
        return settings.RADLABEL_MAX_AUTH_BODY_BYTES
    if request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data"):
        return settings.RADLABEL_MAX_REQUEST_BYTES
    return settings.RADLABEL_MAX_BODY_BYTES


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
        limit = _body_limit(request)
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
