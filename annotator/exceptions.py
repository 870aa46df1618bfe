"""Domain errors. Services raise them; one exception handler maps them to HTTP."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status = 404
    code = "not_found"


class ForbiddenError(ApplicationError):
    status = 403
    code = "permission_denied"


class ConflictError(ApplicationError):
    status = 409
    code = "conflict"


class VersionConflictError(ConflictError):
    code = "version_conflict"
