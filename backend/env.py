"""The one place that reads the environment.

Every setting that differs between the embedded default (``make run``) and a production
deployment comes from here; ``.env.example`` documents each variable.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

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
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()
