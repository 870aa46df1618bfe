"""Small permission predicates, combined with ``&``, ``|`` and ``~``.

Project roles are checked where objects are loaded (``annotator.access``); these predicates
only gate routes that are not about one project.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class ReadOnly(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS


class IsServerAdmin(BasePermission):
    """People who run the server: they create projects."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.is_staff))
