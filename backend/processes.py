"""The command lines of RadLabel's processes: the gunicorn web server, a Celery worker and
celery beat, each run with this interpreter. ``run_stack`` starts them; the tests and the
bench start the same ones with their own options."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def web_command(*, bind: str, workers: int, options: Sequence[str] = ()) -> list[str]:
    """gunicorn serving the WSGI application on ``bind`` with ``workers`` processes."""
    return [
        *(sys.executable, "-m", "gunicorn", "backend.wsgi:application"),
        *("--bind", bind, "--workers", str(workers)),
        *options,
    ]


def worker_command(
    *,
    queues: str,
    concurrency: int,
    hostname: str,
    loglevel: str = "INFO",
    options: Sequence[str] = (),
) -> list[str]:
    """A Celery worker on ``queues`` (comma-separated) that takes one task a process at a time."""
    return [
        *(sys.executable, "-m", "celery", "-A", "backend", "worker", "--queues", queues),
        *("--concurrency", str(concurrency), "--prefetch-multiplier", "1"),
        *("--loglevel", loglevel, "--hostname", hostname),
        *options,
    ]


def beat_command(*, schedule: str) -> list[str]:
    """celery beat keeping its schedule state in the file ``schedule``."""
    return [
        *(sys.executable, "-m", "celery", "-A", "backend", "beat"),
        *("--loglevel", "INFO", "--schedule", schedule),
    ]
