"""The one place that reads the environment.

Every setting that differs between the embedded default (``make run``) and a production
deployment comes from here; ``.env.example`` documents each variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("RADLABEL_VAR_DIR", default=str(BASE_DIR / "var")))


def local_secret(name: str, variable: str) -> str:
    """Return ``variable`` from the environment, else a key generated once into ``var/``.

    The embedded default never ships a hard-coded key: the first run writes a random one into
    an untracked file that only the owner can read. Production sets the variable.
    """
    value = env.str(variable, default="")
    if value:
        return value
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def private_sqlite_database(path: Path) -> None:
    """Keep an embedded SQLite database and the folder it lives in owner-only.

    The database holds sessions, API tokens and PACS credentials; beside it in ``var/`` are
    the keys, the media and the broker's messages. This process creates every file 0600 and
    every folder 0700 from here on (umask 077), the folder is created (or tightened to) 0700,
    and a database and WAL files made before are tightened to 0600.
    """
    os.umask(0o077)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    for suffix in ("", "-wal", "-shm"):
        existing = path.with_name(path.name + suffix)
        if existing.exists():
            existing.chmod(0o600)


_S3_URL_OPTIONS = {"endpoint_url", "region_name", "addressing_style", "signature_version"}


def file_storage(url: str) -> dict[str, object]:
    """The ``STORAGES["default"]`` entry: a local folder (``MEDIA_ROOT``) when ``url`` is empty
    and ``AWS_STORAGE_BUCKET_NAME`` is unset, else django-storages' S3 backend.

    ``url`` is ``s3://BUCKET[/PREFIX][?endpoint_url=...&region_name=...]``; the other
    ``AWS_*`` settings django-storages reads (``AWS_S3_ENDPOINT_URL``, ``AWS_S3_REGION_NAME``,
    credentials in ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``) apply as well.
    Names are never overwritten: a second file of the same name gets a name of its own, as
    on a local folder.
    """
    if not url and not env.str("AWS_STORAGE_BUCKET_NAME", default=""):
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options: dict[str, object] = {"file_overwrite": False, "default_acl": None}
    if url:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ImproperlyConfigured(
                f"RADLABEL_STORAGE_URL must look like s3://bucket/prefix, not {parts.scheme}://…"
            )
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - _S3_URL_OPTIONS)
        if unknown:
            raise ImproperlyConfigured(
                f"RADLABEL_STORAGE_URL has unknown options {unknown}; "
                f"known: {sorted(_S3_URL_OPTIONS)}"
            )
        options.update(query, bucket_name=parts.netloc, location=parts.path.strip("/"))
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
