"""RadLabel settings. One file for every deployment: the environment switches the columns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from backend.env import (
    BASE_DIR,
    VAR_DIR,
    env,
    file_storage,
    local_secret,
    private_sqlite_database,
)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = local_secret("secret_key", "DJANGO_SECRET_KEY")
# Key for the per-project HMACs that pseudonymise patients and remap UIDs on ingest.
RADLABEL_DEID_KEY = local_secret("deid_key", "RADLABEL_DEID_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotator",
]

MIDDLEWARE = [
    "annotator.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "annotator.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'radlabel.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    private_sqlite_database(Path(DATABASES["default"]["NAME"]))
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.exists() else []
MEDIA_ROOT = env.path("RADLABEL_MEDIA_ROOT", default=str(VAR_DIR / "media"))
# This host's own scratch, never shared: training work folders and resume states, and a cache
# of model weights read from a remote store.
RADLABEL_WORK_DIR = env.path("RADLABEL_WORK_DIR", default=str(VAR_DIR / "work"))
# The most that cache holds (its least recently used files go first).
RADLABEL_CACHE_BYTES = env.int("RADLABEL_CACHE_BYTES", default=20 * 1024**3)
# Stored files (DICOM, previews, model weights, exports): MEDIA_ROOT, or an S3-compatible
# store when RADLABEL_STORAGE_URL=s3://bucket/prefix?endpoint_url=... (backend.env.file_storage).
STORAGES = {
    "default": file_storage(env.str("RADLABEL_STORAGE_URL", default="")),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# or set the settings django-storages reads (credentials: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY in the environment).
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None

# Uploads: caps apply before a byte of the body is parsed (annotator.middleware).
RADLABEL_MAX_REQUEST_BYTES = env.int("RADLABEL_MAX_REQUEST_BYTES", default=2 * 1024**3)
# bodies that are not multipart uploads (JSON), and those of the sign-in routes
RADLABEL_MAX_BODY_BYTES = env.int("RADLABEL_MAX_BODY_BYTES", default=4 * 1024**2)
RADLABEL_MAX_AUTH_BODY_BYTES = env.int("RADLABEL_MAX_AUTH_BODY_BYTES", default=16 * 1024)
RADLABEL_MAX_FILE_BYTES = env.int("RADLABEL_MAX_FILE_BYTES", default=512 * 1024**2)
# What one instance's pixels may decode to (Rows x Columns x frames x samples x bytes).
RADLABEL_MAX_DECODED_BYTES = env.int("RADLABEL_MAX_DECODED_BYTES", default=1024**3)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("RADLABEL_MAX_FILES_PER_REQUEST", default=1000)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024**2
FILE_UPLOAD_PERMISSIONS = 0o640

# Security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("RADLABEL_SESSION_SECONDS", default=12 * 3600)
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_FAILURE_VIEW = "annotator.exception_handlers.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
HTTPS = env.bool(
    "RADLABEL_HTTPS", default=not DEBUG and "sqlite" not in DATABASES["default"]["ENGINE"]
)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env.bool("RADLABEL_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
# PACS endpoints may only use these hosts when set; private and loopback hosts need listing.
RADLABEL_PACS_ALLOWED_HOSTS = env.list("RADLABEL_PACS_ALLOWED_HOSTS", default=[])
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "annotator.apis.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "annotator.apis.schema.AutoSchema",
    "EXCEPTION_HANDLER": "annotator.exception_handlers.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": env.str("RADLABEL_LOGIN_RATE", default="10/min")},
    # Reverse proxies in front of the web process whose X-Forwarded-For is trusted; with
    # none, the client address is the TCP peer and a client's own header is ignored.
    "NUM_PROXIES": env.int("RADLABEL_TRUSTED_PROXIES", default=0),
}
# API tokens for scripts: stored as a SHA-512 digest, shown once, expiring, revocable.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("RADLABEL_API_TOKEN_HOURS", default=30 * 24)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RadLabel API",
    "DESCRIPTION": "Annotation-assist for medical imaging: projects, DICOM studies, labels.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotator.apis.schema.document_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ImageStatusEnum": "annotator.models.ImageStatus",
        "AnnotationStatusEnum": "annotator.models.AnnotationStatus",
        "JobStatusEnum": "annotator.models.JobStatus",
        "ModelVersionStatusEnum": "annotator.models.ModelVersionStatus",
        "ImageProgressEnum": "annotator.apis.studies.IMAGE_PROGRESS",
        "NewAnnotationStatusEnum": "annotator.apis.annotations.NEW_ANNOTATION_STATUS",
    },
}

# Shared by every web process (sign-in throttles count across them): Redis in production, a
# file cache in var/ on the embedded stack.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("CACHE_URL")}
        if env.str("CACHE_URL", default="")
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}

# Celery: the job row is the truth; Celery only moves it forward.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    # Results (only box → mask asks for one) as files beside the broker's.
    CELERY_RESULT_BACKEND = f"file://{_broker_dir / 'results'}"
    (_broker_dir / "results").mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL  # Redis: results (only box → mask's) beside tasks
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 300  # box → mask's answers are read within seconds, then forgotten
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("RADLABEL_LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
# The held-out quality gate: a model proposes only once its val segm AP reaches this.
RADLABEL_PROMOTION_MIN_SEGM_AP = env.float("RADLABEL_PROMOTION_MIN_SEGM_AP", default=0.1)
# Training processes of a retrain (torchrun, DistributedDataParallel): one per GPU on a GPU host.
RADLABEL_TRAIN_PROCESSES = env.int("RADLABEL_TRAIN_PROCESSES", default=1)
CELERY_BEAT_SCHEDULE = {
    "retrain-check": {
        "task": "radlabel.retrain_check",
        "schedule": env.float("RADLABEL_RETRAIN_CHECK_SECONDS", default=600.0),
    },
    "requeue-stale-jobs": {"task": "radlabel.requeue_stale_jobs", "schedule": 60.0},
}
