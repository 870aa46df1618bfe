"""Django for the bench scripts that need it: the repository importable, the settings module
(the environment's, else the one a script names), Django set up; and a scratch PostgreSQL
database made afresh for a run that writes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]


def django_setup(*, settings: str = "backend.settings.base", migrate: bool = False) -> None:
    """Set Django up (and with ``migrate``, bring its database's tables up to date)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def scratch_database(name: str) -> None:
    """Drop and create the database ``name`` on the server ``DATABASE_URL`` names (else the
    local one), and point ``DATABASE_URL`` at it."""
    import psycopg

    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/radlabel"))
    with psycopg.connect(urlunsplit(base._replace(path="/postgres")), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(base._replace(path=f"/{name}"))
