"""API tokens for scripts (django-rest-knox): only a digest is stored, each expires."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from knox.models import AuthToken


def api_token_create(*, user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new token for ``user`` and its only plain-text copy, to be shown once."""
    return AuthToken.objects.create(user=user)


def api_token_revoke(*, token: AuthToken) -> None:
    token.delete()
