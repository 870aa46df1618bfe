"""Test settings: base plus overrides. The database comes from the environment (PostgreSQL)."""

from backend.env import env
from backend.settings.base import *  # noqa: F403

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/radlabel")
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HTTPS = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "1000/min"}}  # noqa: F405
# One process's memory: throttle counts never leak between test runs sharing var/.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Task messages go to a Redis database of their own, which tests can inspect.
CELERY_BROKER_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
# Tiny test trainings cannot reach the production quality gate.
RADLABEL_PROMOTION_MIN_SEGM_AP = 0.0
# Serve frontend/dist through the static finders, without a collectstatic step.
WHITENOISE_USE_FINDERS = True
