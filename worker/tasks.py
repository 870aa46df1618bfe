"""Celery tasks: thin. Each loads its job row by id and calls a service or the ML bridge.

Messages carry ids only. Job tasks are idempotent (the row's lease decides who runs), so they
use ``acks_late`` with ``reject_on_worker_lost``; a poison message stops after
``jobs.MAX_ATTEMPTS`` claims with the job marked failed. Torch is imported inside the model
tasks only, so the web process never loads it.
"""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready
from django.db import OperationalError, connection

from annotator.models import Image, ModelVersion, ModelVersionStatus
from annotator.selectors.assist import INTERACTIVE_QUEUE
from annotator.services import jobs
from annotator.services.workers import worker_heartbeat_record
from backend.celery import app

logger = logging.getLogger(__name__)


def job_task(name: str, queue: str):  # noqa: ANN201 - a decorator
    """The one task decorator: explicit name and queue, no result, late ack, requeue on loss."""
    return app.task(
        name=name,
        queue=queue,
        ignore_result=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=0,
    )


# --- The model loop (queue "gpu") --------------------------------------------------------


@job_task("radlabel.train_model", "gpu")
def train_model(job_id: int) -> None:
    from worker.datastore import training_run

    training_run(job_id=job_id)


@job_task("radlabel.preannotate", "gpu")
def preannotate(job_id: int) -> None:
    from worker.datastore import preannotation_run

    preannotation_run(job_id=job_id)


@app.task(name="radlabel.retrain_check", queue="cpu", ignore_result=True)
def retrain_check() -> None:
    started = jobs.retrain_check()
    if started:
        logger.info("started training jobs %s", started)


@app.task(name="radlabel.requeue_stale_jobs", queue="cpu", ignore_result=True)
def requeue_stale_jobs() -> None:
    count = jobs.jobs_requeue_stale()
    if count:
        logger.info("requeued %d stale jobs", count)


# --- Box → mask (queue "interactive") -------------------------------------------------------
# The web process waits for the answer (a few seconds at most), so this task returns a result,
# unlike every other; it is cheap and stateless, so an early ack and no retry: an answer that
# comes late is an answer nobody reads.


@app.task(
    name="radlabel.segment_box", queue=INTERACTIVE_QUEUE, ignore_result=False, acks_late=False
)
def segment_box(image_id: int, version_id: int, box: list[float], label: int) -> dict:
    """The active model's mask of class ``label`` in ``box`` ``[x1, y1, x2, y2]`` on the image
    in its default window; the network stays loaded between calls (one per version sha)."""
    from annotator.selectors.images import image_windowed
    from worker.datastore import serving_predictor

    image = Image.objects.select_related("instance").get(pk=image_id)
    version = ModelVersion.objects.get(pk=version_id)
    found = serving_predictor(version).segment_box(image_windowed(image), box, label)
    return {"mask": found.mask_rle, "score": found.score}


@worker_ready.connect
def warm_interactive(sender, **kwargs) -> None:  # noqa: ANN001 - Celery's consumer
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
        except Exception:  # noqa: BLE001 - a broken version must not stop the worker
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
def announce_worker(sender, **kwargs) -> None:  # noqa: ANN001 - Celery's consumer
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
# Exports and PACS pulls. Idempotent (the job row's lease decides who runs), so late ack; a
# lost database connection is retried a bounded number of times with backoff.

DATA_TASK_OPTIONS = {
    "queue": "cpu",
    "ignore_result": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "max_retries": 3,
    "retry_backoff": 5,
    "retry_backoff_max": 120,
}


@app.task(name="radlabel.coco_export", **DATA_TASK_OPTIONS)
def coco_export_task(job_id: int) -> None:
    from annotator.services.coco_export import export_run

    export_run(job_id=job_id)


@app.task(name="radlabel.pacs_import", **DATA_TASK_OPTIONS)
def pacs_import_task(job_id: int) -> None:
    from annotator.services.pacs import pacs_import_run

    pacs_import_run(job_id=job_id)
