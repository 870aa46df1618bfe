"""Celery tasks: thin. Each loads its job row by id and calls a service or the ML bridge.

Every task is declared by ``task``: its name, queue and retry policy. Messages carry ids only.
Job tasks are idempotent (the row's lease decides who runs, ``jobs.job_run``), so they are
acknowledged late and sent again when their worker dies; a poison message stops after
``jobs.MAX_ATTEMPTS`` claims with the job marked failed. Torch is imported inside the model
tasks only, so the web process never loads it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.signals import worker_ready
from django.db import OperationalError, connection

from annotator.models import (
    ExportJob,
    Image,
    ModelVersion,
    ModelVersionStatus,
    PacsImportJob,
    PreannotationJob,
    TrainingJob,
)
from annotator.selectors.assist import INTERACTIVE_QUEUE
from annotator.services import jobs
from annotator.services.workers import worker_heartbeat_record
from backend.celery import app as app  # the app every task here is registered on

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """Which errors send a task again, how many times, with a capped exponential backoff."""

    on: tuple[type[Exception], ...] = ()
    times: int = 0
    backoff_s: int = 5
    backoff_max_s: int = 120


NEVER = Retry()
DATABASE_LOST = Retry(on=(OperationalError,), times=3)  # a lost connection, a failover


def task(name: str, queue: str, *, retry: Retry = NEVER, answers: bool = False) -> Callable:
    """The one task decorator: explicit name, queue and retry policy; a result only if it answers.

    A task is acknowledged after it ran and sent again if its worker dies (its job row makes a
    second run harmless), except one that ``answers``: the caller waits for its result, and an
    answer that comes late is one nobody reads, so it is acknowledged at once.
    """
    options: dict[str, Any] = {
        "name": name,
        "queue": queue,
        "ignore_result": not answers,
        "acks_late": not answers,
        "reject_on_worker_lost": not answers,
        "max_retries": retry.times,
    }
    if retry.on:
        options |= {
            "autoretry_for": retry.on,
            "retry_backoff": retry.backoff_s,
            "retry_backoff_max": retry.backoff_max_s,
        }
    return app.task(**options)


# --- The model loop (queue "gpu") --------------------------------------------------------
# A job kind's task name and queue are its row's (``jobs.TASKS``), from which it is enqueued.


@task(*jobs.TASKS[TrainingJob])
def train_model(job_id: int) -> None:
    from worker.datastore import training_run

    training_run(job_id=job_id)


@task(*jobs.TASKS[PreannotationJob])
def preannotate(job_id: int) -> None:
    from worker.datastore import preannotation_run

    preannotation_run(job_id=job_id)


@task("radlabel.retrain_check", "cpu")
def retrain_check() -> None:
    started = jobs.retrain_check()
    if started:
        logger.info("started training jobs %s", started)


@task("radlabel.requeue_stale_jobs", "cpu")
def requeue_stale_jobs() -> None:
    count = jobs.jobs_requeue_stale()
    if count:
        logger.info("requeued %d stale jobs", count)


# --- Box → mask (queue "interactive") -------------------------------------------------------
# The web process waits for the answer (a few seconds at most), so this task returns a result,
# unlike every other; it is cheap and stateless, so no retry.


@task("radlabel.segment_box", INTERACTIVE_QUEUE, answers=True)
def segment_box(image_id: int, version_id: int, box: list[float], label: int) -> dict:
    """The active model's mask of class ``label`` in ``box`` ``[x1, y1, x2, y2]`` on the image
    in its default window; the network stays loaded between calls (one per version sha)."""
    from annotator.selectors.images import image_windowed
    from worker.datastore import serving_predictor

    image = Image.objects.select_related("instance").get(pk=image_id)
    version = ModelVersion.objects.get(pk=version_id)
    found = serving_predictor(version).segment_box(image_windowed(image, cached=True), box, label)
    return {"mask": found.mask_rle, "score": found.score}


@worker_ready.connect
def warm_interactive(sender, **kwargs) -> None:
    """An interactive worker of the solo pool (compose's) loads torch and every active version
    at start, so its first answer comes in time too: this process is the one that answers. A
    prefork pool's processes are forked before this runs; each loads a version at its first box."""
    if INTERACTIVE_QUEUE not in {queue.name for queue in sender.task_consumer.queues}:
        return
    if not type(sender.pool).__module__.endswith(".solo"):
        return
    from worker.datastore import serving_predictor

    for version in ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE):
        try:
            serving_predictor(version)
        except Exception:
            logger.exception("could not load v%s of project %s", version.number, version.project_id)
    connection.close()


# --- Worker presence ------------------------------------------------------------------------

HEARTBEAT_SECONDS = 30


def accelerator_description() -> str:
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return "cuda: " + ", ".join(names)
    return f"cpu ({torch.get_num_threads()} threads)"


@worker_ready.connect
def announce_worker(sender, **kwargs) -> None:
    """Record the worker's queues and accelerator now and every ``HEARTBEAT_SECONDS``."""
    hostname = sender.hostname
    queues = [queue.name for queue in sender.task_consumer.queues]
    accelerator = accelerator_description() if "gpu" in queues else "cpu"
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                worker_heartbeat_record(hostname=hostname, queues=queues, accelerator=accelerator)
            except Exception:  # noqa: BLE001 - the database may be down for a while
                logger.warning("could not record the heartbeat of %s", hostname)
            finally:
                connection.close()
            if stop.wait(HEARTBEAT_SECONDS):
                return

    threading.Thread(target=beat, name="radlabel-heartbeat", daemon=True).start()


# --- Datasets out and studies in (queue "cpu") --------------------------------------------
# Exports and PACS pulls. Idempotent like every job task; a lost database connection is retried
# a bounded number of times with backoff.


@task(*jobs.TASKS[ExportJob], retry=DATABASE_LOST)
def coco_export_task(job_id: int) -> None:
    from annotator.services.coco_export import export_run

    export_run(job_id=job_id)


@task(*jobs.TASKS[PacsImportJob], retry=DATABASE_LOST)
def pacs_import_task(job_id: int) -> None:
    from annotator.services.pacs import pacs_import_run

    pacs_import_run(job_id=job_id)


@task("radlabel.image_previews", "cpu", retry=DATABASE_LOST)
def image_previews(image_ids: list[int]) -> None:
    """The previews of an upload's images, rendered after its request answered; running twice
    is harmless (an image with a preview is skipped)."""
    from annotator.services.studies import image_previews_render

    image_previews_render(image_ids=image_ids)
