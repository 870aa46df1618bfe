"""Job rows move forward here: start, claim under a lease, run, heartbeat, finish, cancel, requeue.

A Celery message only says "look at job N". Whoever claims the row holds a lease that its
heartbeats extend; a redelivered message for a job that is finished, cancelled or leased by a
live worker does nothing; a job whose worker died is claimed again, at most ``MAX_ATTEMPTS``
times, then it fails with the reason.

Every job kind runs through ``job_run``: its work is a callable ``work(job, heartbeat)`` that
returns the fields its success stores; ``heartbeat(**progress)`` extends the lease, stores the
progress and raises ``JobCancelled`` when the job was cancelled. The runner finishes the job:
succeeded, cancelled, or failed with a message safe to show (a domain error's own words, else
one sentence; the details go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotator.exceptions import ApplicationError, ConflictError
from annotator.models import (
    ACTIVE_JOB_STATUSES,
    ExportJob,
    ImageStatus,
    JobStatus,
    ModelVersion,
    PacsImportJob,
    PreannotationJob,
    Project,
    Role,
    Split,
    TrainingJob,
)
from annotator.models.jobs import Job
from annotator.selectors.augmentation import project_augmentation
from annotator.selectors.images import image_list, proposable_images
from annotator.selectors.model_versions import (
    accepted_since_last_version,
    active_model_version,
    training_annotations,
)
from annotator.selectors.workers import gpu_worker_has_cuda
from annotator.services.audit import audit_record
from annotator.services.models import model_version_activate
from radlabel.backbones import NAMES as BACKBONES

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
LEASE_SECONDS = 120
# Measured here: in 10 CPU minutes the ImageNet-pretrained Lite0 reached test segm AP50 0.58 on
# the demo's lesions, ResNet-18 FPN from scratch 0.23 (bench/ml_demo_learning.py).
DEFAULT_BACKBONE = "efficientnet_lite0_fpn"
GPU_DEFAULT_BACKBONE = "resnet50_fpn"  # when a live worker of the gpu queue has CUDA
DEFAULT_EPOCHS = 20  # when neither an epoch count nor a time budget is given
TASKS: dict[type[Job], tuple[str, str]] = {
    TrainingJob: ("radlabel.train_model", "gpu"),
    PreannotationJob: ("radlabel.preannotate", "gpu"),
    ExportJob: ("radlabel.coco_export", "cpu"),
    PacsImportJob: ("radlabel.pacs_import", "cpu"),
}

J = TypeVar("J", bound=Job)


class JobCancelled(Exception):
    """The job was cancelled (or is no longer this worker's): its work stops here."""


class Heartbeat(Protocol):
    def __call__(self, **progress: Any) -> None: ...


def job_enqueue(job: Job) -> None:
    """Send the job's task after the surrounding transaction commits.

    If the broker is down the row stays queued and ``jobs_requeue_stale`` sends it later.
    """
    from worker import tasks  # the task module imports this one

    name, queue = TASKS[type(job)]

    def send() -> None:
        try:
            tasks.app.tasks[name].apply_async(args=[job.pk], queue=queue)
        except Exception:
            logger.exception("could not enqueue %s for job %s; it will be requeued", name, job.pk)
            return
        type(job).objects.filter(pk=job.pk).update(enqueued_at=timezone.now())

    transaction.on_commit(send)


def job_start(
    model: type[J],
    *,
    project: Project,
    actor: AbstractBaseUser | None,
    action: str,
    after: dict[str, Any],
    **fields: Any,
) -> J:
    """Create a job row of ``model`` with ``fields``, audit it as ``action`` and send its task
    once the transaction commits: all of it, or none."""
    with transaction.atomic():
        job = model.objects.create(project=project, created_by=actor, **fields)
        audit_record(actor=actor, project=project, action=action, obj=job, after=after)
        job_enqueue(job)
    return job


def job_claim(model: type[J], job_id: int, *, lease_seconds: int = LEASE_SECONDS) -> J | None:
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in ACTIVE_JOB_STATUSES:
            return None
        if job.status == JobStatus.RUNNING and job.lease_until and job.lease_until > now:
            return None
        if job.cancel_requested:
            _finish(job, JobStatus.CANCELLED, "Cancelled.")
            return None
        if job.attempts >= MAX_ATTEMPTS:
            _finish(
                job,
                JobStatus.FAILED,
                f"Gave up after {job.attempts} attempts: the worker stopped each time.",
            )
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.lease_until = now + timedelta(seconds=lease_seconds)
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "attempts", "lease_until", "started_at"])
    return job


def job_heartbeat(job: Job, *, lease_seconds: int = LEASE_SECONDS, **fields: Any) -> bool:
    """Extend the lease and store progress; True means stop (cancelled, or no longer ours)."""
    updated = (
        type(job)
        .objects.filter(pk=job.pk, status=JobStatus.RUNNING)
        .update(lease_until=timezone.now() + timedelta(seconds=lease_seconds), **fields)
    )
    if not updated:
        return True
    return type(job).objects.filter(pk=job.pk).values_list("cancel_requested", flat=True).get()


def job_run(
    model: type[J],
    job_id: int,
    work: Callable[[J, Heartbeat], dict[str, Any]],
    *,
    noun: str,
    closing: Callable[[J], dict[str, Any]] | None = None,
) -> J | None:
    """Claim job ``job_id``, run ``work`` on it, finish it; the finished row, or None when the
    job was not this worker's to run (finished, cancelled, leased by a live worker, or out of
    attempts).

    ``noun`` names the job in the message of an unexpected failure ("The export failed; ...");
    ``closing(job)`` gives fields that every ending stores, whatever the outcome.
    """
    job = job_claim(model, job_id)
    if job is None:
        logger.info("%s job %s is not runnable here; nothing to do", noun, job_id)
        return None

    def heartbeat(**progress: Any) -> None:
        if job_heartbeat(job, **progress):
            raise JobCancelled

    fields: dict[str, Any] = {}
    try:
        fields = work(job, heartbeat)
    except JobCancelled:
        status, error = JobStatus.CANCELLED, "Cancelled."
        logger.info("%s job %s cancelled", noun, job.pk)
    except ApplicationError as failure:
        status, error = JobStatus.FAILED, failure.detail
        logger.info("%s job %s failed: %s", noun, job.pk, failure.code)
    except Exception:
        status, error = JobStatus.FAILED, f"The {noun} failed; the server log has the details."
        logger.exception("%s job %s failed", noun, job.pk)
    else:
        status, error = JobStatus.SUCCEEDED, ""
    with transaction.atomic():
        finished = model.objects.select_for_update().get(pk=job.pk)
        _finish(finished, status, error, **fields, **(closing(job) if closing else {}))
    return finished


def _finish(job: Job, status: str, error: str = "", **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.status = status
    job.error = error[:2000]
    job.finished_at = timezone.now()
    job.lease_until = None
    if status == JobStatus.SUCCEEDED:
        job.progress = 1.0
    job.save()


def job_cancel(*, job: J, actor: AbstractBaseUser) -> J:
    with transaction.atomic():
        job = type(job).objects.select_for_update().get(pk=job.pk)
        if job.status not in ACTIVE_JOB_STATUSES:
            raise ConflictError(f"The job is {job.status}.", code="job_finished")
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        if job.status == JobStatus.QUEUED:
            _finish(job, JobStatus.CANCELLED, "Cancelled before it started.")
        audit_record(actor=actor, project=job.project, action="job.cancel_requested", obj=job)
    return job


def jobs_requeue_stale(*, resend_after_seconds: int = 1800) -> int:
    """Send again the jobs whose message is missing, each at most once per lease or period.

    A job is resent when its worker died (the lease expired and no message went out since), when
    sending failed (never enqueued), or, as a net for a broker that lost messages, when its last
    message is older than ``resend_after_seconds``. A job waiting its turn behind a long one is
    not resent every minute.
    """
    now = timezone.now()
    count = 0
    for model in TASKS:
        stale = model.objects.filter(status__in=ACTIVE_JOB_STATUSES).filter(
            Q(status=JobStatus.RUNNING, lease_until__lt=now, enqueued_at__lt=F("lease_until"))
            | Q(enqueued_at__isnull=True)
            | Q(enqueued_at__lt=now - timedelta(seconds=resend_after_seconds))
        )
        for job in stale:
            with transaction.atomic():
                job_enqueue(job)
            count += 1
    return count


def _training_options(options: dict[str, Any]) -> dict[str, Any]:
    """Stop after ``epochs``, after ``time_budget_s``, or whichever comes first when both are
    given; a time budget alone trains until it is spent (``epochs`` None)."""
    budget = options.get("time_budget_s")
    epochs = options.get("epochs", DEFAULT_EPOCHS if budget is None else None)
    clean = {
        "epochs": int(epochs) if epochs is not None else None,
        "time_budget_s": budget,
        "image_size": int(options.get("image_size", 512)),
        "backbone": options.get("backbone"),
        "init": options.get("init", "scratch"),
    }
    if clean["epochs"] is not None and not 1 <= clean["epochs"] <= 1000:
        raise ApplicationError("epochs is between 1 and 1000.", code="invalid_options")
    if clean["time_budget_s"] is not None and not 10 <= float(clean["time_budget_s"]) <= 7 * 86400:
        raise ApplicationError("time_budget_s is between 10 s and a week.", code="invalid_options")
    if not 64 <= clean["image_size"] <= 2048:
        raise ApplicationError("image_size is between 64 and 2048.", code="invalid_options")
    if clean["backbone"] is not None and clean["backbone"] not in BACKBONES:
        raise ApplicationError(
            f"backbone is one of {', '.join(BACKBONES)}.", code="invalid_options"
        )
    if clean["init"] not in ("scratch", "active"):
        raise ApplicationError("init is 'scratch' or 'active'.", code="invalid_options")
    return clean


def default_backbone(*, fine_tune_from: ModelVersion | None = None) -> str:
    """The backbone of a training that names none: the fine-tuned version's own; on a fleet
    with a CUDA worker serving the gpu queue, ``resnet50_fpn``; else the pretrained Lite0."""
    if fine_tune_from is not None:
        return fine_tune_from.backbone
    return GPU_DEFAULT_BACKBONE if gpu_worker_has_cuda() else DEFAULT_BACKBONE


def training_job_start(
    *, project: Project, actor: AbstractBaseUser | None, options: dict[str, Any]
) -> TrainingJob:
    clean = _training_options(options)
    active = active_model_version(project=project)
    if clean["init"] == "active" and active is None:
        raise ConflictError("There is no active model to fine-tune.", code="no_active_model")
    if clean["backbone"] is None:
        clean["backbone"] = default_backbone(
            fine_tune_from=active if clean["init"] == "active" else None
        )
    if not training_annotations(project=project, split=Split.TRAIN).exists():
        raise ConflictError("The train split has no accepted labels yet.", code="no_training_data")
    # the project's augmentation as it is now: the version's config records what trained it
    clean["augmentation"] = project_augmentation(project=project).to_json()
    try:
        job = job_start(
            TrainingJob,
            project=project,
            actor=actor,
            action="training.started",
            after=clean,
            options=clean,
        )
    except IntegrityError as error:
        running = TrainingJob.objects.filter(
            project=project, status__in=ACTIVE_JOB_STATUSES
        ).first()
        raise ConflictError(
            f"Training job {running.pk if running else '?'} is already queued or running.",
            code="training_in_progress",
            extra={"job": running.pk if running else None},
        ) from error
    return job


def preannotation_start(
    *,
    project: Project,
    actor: AbstractBaseUser | None,
    image_ids: list[int] | None = None,
    filters: dict[str, str] | None = None,
) -> PreannotationJob:
    """Pre-annotate ``image_ids``, else every frame the worklist ``filters`` match (even when
    the worklist groups its rows), with the active model: those it may propose on."""
    version = active_model_version(project=project)
    if version is None:
        raise ConflictError("The project has no active model yet.", code="no_active_model")
    if image_ids is None:
        frames = {k: v for k, v in (filters or {}).items() if k != "group"}
        matching = image_list(project=project, role=Role.ADMIN, filters=frames)
        image_ids = list(matching.values_list("pk", flat=True))
    ids = list(
        proposable_images(version=version)
        .filter(pk__in=image_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        raise ApplicationError(
            "No images to pre-annotate (quarantined, or of a modality the model never saw).",
            code="no_images",
        )
    return job_start(
        PreannotationJob,
        project=project,
        actor=actor,
        action="preannotation.started",
        after={"images": len(ids), "model_version": version.number},
        model_version=version,
        image_ids=ids,
    )


def retrain_due(*, project: Project) -> bool:
    """At least ``retrain_threshold`` labels accepted on train since the last version."""
    return accepted_since_last_version(project=project) >= project.retrain_threshold


def retrain_check() -> list[int]:
    """Start a training job for each project that is due and not already training."""
    started = []
    for project in Project.objects.exclude(
        pk__in=TrainingJob.objects.filter(status__in=ACTIVE_JOB_STATUSES).values("project_id")
    ):
        if retrain_due(project=project):
            try:
                started.append(training_job_start(project=project, actor=None, options={}).pk)
            except ConflictError:
                continue
    return started


def model_version_promote(
    *, version: ModelVersion, actor: AbstractBaseUser | None, reason: str
) -> ModelVersion:
    """Activate ``version`` and let it propose on every image no person has worked on yet."""
    version = model_version_activate(version=version, actor=actor, reason=reason)
    waiting = list(
        proposable_images(version=version)
        .filter(status__in=[ImageStatus.UNLABELLED, ImageStatus.PROPOSED])
        .values_list("pk", flat=True)
    )
    if waiting:
        preannotation_start(project=version.project, actor=actor, image_ids=waiting)
    return version
