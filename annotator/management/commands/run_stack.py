"""Run web, one Celery worker and celery beat in the foreground; Ctrl-C stops them all.

The worker serves every queue (cpu, gpu and interactive) with two processes, so a box drawn
while a training runs still gets its box → mask answer from the other process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from backend.processes import beat_command, web_command, worker_command


class Command(BaseCommand):
    help = "Run the web server, one Celery worker (queues cpu, gpu, interactive) and celery beat."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, bind: str, web_workers: int, **options: Any) -> None:
        commands = {
            "web": web_command(
                bind=bind,
                workers=web_workers,
                options=("--access-logfile", "-", "--graceful-timeout", "5"),
            ),
            "worker": worker_command(
                queues="cpu,gpu,interactive", concurrency=2, hostname="embedded@%h"
            ),
            "beat": beat_command(schedule=str(settings.CELERY_BEAT_SCHEDULE_FILENAME)),
        }
        processes = {
            name: subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)
            for name, command in commands.items()
        }
        self.stdout.write(f"RadLabel is running on http://{bind}/ (Ctrl-C stops it)")
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.3)
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("RadLabel stopped.")
        if exit_code:
            raise SystemExit(exit_code)
