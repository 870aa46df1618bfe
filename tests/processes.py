"""Real processes for integration tests: a Celery worker, servers on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from backend.processes import web_command, worker_command

ROOT = Path(__file__).resolve().parents[1]


class Worker:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as an OOM killer would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def spawned_database_url() -> str:
    """The URL of the database this test runs on, for processes the test starts."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def require_tool(missing: str | None) -> None:
    """Skip a test whose tool is missing, loudly; in CI (``CI`` set) fail instead: a run that
    skipped whole areas must not pass."""
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing}; CI installs it (make system-packages)", pytrace=False)
    pytest.skip(missing)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base_url: str, process: subprocess.Popen, *, seconds: float = 60) -> None:
    """Wait until the server answers ``/api/health/``; fail if its process exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early with {process.returncode}")
        try:
            if requests.get(f"{base_url}/api/health/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{base_url} did not become healthy")


@contextmanager
def celery_worker(
    queues: str = "cpu,gpu",
    *,
    timeout: float = 90,
    environment: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    prefix: Sequence[str] = (),
) -> Iterator[Worker]:
    """A worker on this test's database and broker, sharing its media and work folders unless
    ``environment`` says otherwise (a worker on another host has folders of its own); its
    command run under ``prefix`` (``ip netns exec NAME``: on another host)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.test",
        "DATABASE_URL": spawned_database_url(),
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "RADLABEL_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RADLABEL_WORK_DIR": str(settings.RADLABEL_WORK_DIR),
        "PYTHONPATH": str(ROOT),
        **(environment or {}),
    }
    process = subprocess.Popen(
        [
            *prefix,
            *worker_command(
                queues=queues,
                concurrency=1,
                hostname=f"test-{uuid.uuid4().hex[:8]}@%h",
                options=("--without-mingle", "--without-gossip"),
            ),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = Worker(process)
    try:
        if not worker.ready.wait(timeout):
            raise RuntimeError(f"the worker did not start:\n{worker.output[-3000:]}")
        yield worker
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM the process group of a server started in a session of its own, SIGKILL it if
    it has not stopped within 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def web_server(
    environment: Mapping[str, str],
    log: Path,
    *,
    workers: int = 2,
    options: tuple[str, ...] = (),
) -> Iterator[str]:
    """gunicorn on a free loopback port with ``environment``, logging to ``log``; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        server = subprocess.Popen(
            web_command(bind=f"127.0.0.1:{port}", workers=workers, options=options),
            cwd=ROOT,
            env=dict(environment),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(url, server)
        yield url
    finally:
        stop_process(server)


def wait_for(predicate, *, timeout: float, interval: float = 0.5, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_finished(model, pk: int, *, timeout: float, what: str):
    """The job row ``pk`` of ``model`` once a worker has finished it (succeeded or failed)."""
    from annotator.models import JobStatus  # bench scripts import this module before Django

    return wait_for(
        lambda: model.objects.filter(
            pk=pk, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]
        ).first(),
        timeout=timeout,
        what=what,
    )
