"""The model loop with a real Celery worker process on Redis against PostgreSQL.

Ingest → labels accepted → retrain → a new version registered with metrics → promoted by the
rule → new images pre-annotated; and the worker SIGKILLed mid-training and mid-pre-annotation
loses no job, duplicates no proposal and leaves no half-written model.
"""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotator.models import (
    Annotation,
    Image,
    JobStatus,
    ModelVersion,
    Patient,
    PreannotationJob,
    Source,
    TrainingJob,
)
from annotator.services import jobs
from radlabel.demo.dicom import lesion_slices
from radlabel.demo.lesions import CLASS_NAMES
from tests import factories
from tests.lesion_uploads import lesions_label, slices_upload
from tests.processes import celery_worker, wait_for
from worker.ml.checkpoint import load_weights

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SIZE = 128
BUDGET_S = 60  # training seconds: the first attempt is killed after its first epoch


def _job(model, pk):
    return model.objects.get(pk=pk)


def test_retrain_promote_preannotate_and_survive_sigkill(media_root):
    client = _labelled_project()
    version = _trained_through_a_kill(client)
    new_ids = _preannotated_through_a_kill(client, version)
    images = Image.objects.filter(pk__in=new_ids)
    proposals = Annotation.objects.filter(image__in=images, source=Source.MODEL)
    before = sorted(proposals.values_list("image_id", "box_x", "box_y", "score"))
    rerun = client.post("/api/projects/loop/preannotate/", {"image_ids": new_ids}, format="json")
    assert rerun.status_code == 202
    with celery_worker():
        wait_for(
            lambda: _job(PreannotationJob, rerun.data["id"]).status == JobStatus.SUCCEEDED,
            timeout=240,
            what="the re-run",
        )
    after = sorted(
        Annotation.objects.filter(image__in=images, source=Source.MODEL).values_list(
            "image_id", "box_x", "box_y", "score"
        )
    )
    assert len(after) == len(before), "a re-run replaces proposals, never duplicates them"


def _labelled_project():
    """A project of 8 patients' labelled lesion slices (4 train, 2 val, 2 test) and its admin's
    client."""
    client = factories.api_project("loop", "Loop", list(CLASS_NAMES))
    classes = [c["id"] for c in client.get("/api/projects/loop/").data["label_classes"]]

    slices = lesion_slices(8, 2, seed=5, size=SIZE)
    image_ids = slices_upload(client, "loop", slices)
    for image_id, lesion in zip(image_ids, slices, strict=True):
        lesions_label(client, image_id, lesion, classes)
    splits = ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    for patient, split in zip(Patient.objects.order_by("pseudonym"), splits, strict=True):
        response = client.patch(f"/api/patients/{patient.pk}/", {"split": split}, format="json")
        assert response.status_code == 200
    return client


def _trained_through_a_kill(client):
    """A retrain whose worker is killed after its first epoch resumes on the next worker,
    finishes within its budget and registers one version, active (promoted by hand when the
    rule keeps it a candidate)."""
    started = client.post(
        "/api/projects/loop/training-jobs/",
        {"epochs": 1000, "time_budget_s": BUDGET_S, "image_size": SIZE},
        format="json",
    )
    assert started.status_code == 202, started.data
    job_id = started.data["id"]
    project_id = _job(TrainingJob, job_id).project_id
    models_dir = Path(settings.MEDIA_ROOT) / "projects" / str(project_id) / "models"
    work_dir = Path(settings.RADLABEL_WORK_DIR) / "projects" / str(project_id) / "training"
    training_state = work_dir / f"resume-{job_id}" / "training.pth"

    with celery_worker() as worker:
        wait_for(training_state.exists, timeout=240, what="training to complete an epoch")
        worker.kill()
    job = _job(TrainingJob, job_id)
    assert job.status == JobStatus.RUNNING and job.attempts == 1
    assert not ModelVersion.objects.exists()
    assert not list(models_dir.glob("*.pt")), "no model file outside the attempt's work folder"
    assert training_state.exists(), "the dead attempt's training state is kept for the retry"

    TrainingJob.objects.filter(pk=job_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert jobs.jobs_requeue_stale() == 1
    with celery_worker():
        wait_for(
            lambda: _job(TrainingJob, job_id).status not in jobs.ACTIVE_JOB_STATUSES,
            timeout=300,
            what="training to finish",
        )
    job = _job(TrainingJob, job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2 and job.loss_curve
    steps = [step for step, _ in job.loss_curve]
    assert steps == list(range(1, len(steps) + 1)), "one curve, no step counted twice"
    version = ModelVersion.objects.get()
    assert job.model_version_id == version.pk
    assert set(version.metrics) >= {"val", "test", "operating_point"}
    assert version.score_threshold == version.metrics["operating_point"]["threshold"]
    assert version.metrics["val"]["lesions"] == version.metrics["val"]["at_threshold"]["lesions"]
    assert version.promotion["reason"], "the page says why it was or was not promoted"
    if version.status == "candidate":  # a one-minute model on 2 val patients: promoted by hand
        promoted = client.post(f"/api/model-versions/{version.pk}/activate/")
        assert promoted.status_code == 200, promoted.data
        version.refresh_from_db()
    assert version.status == "active"
    weights = Path(settings.MEDIA_ROOT) / version.weights_file
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == version.sha256
    checkpoint = load_weights(weights, expected_sha256=version.sha256)
    assert checkpoint["resumed_epochs"] >= 1, "the second attempt resumed, not restarted"
    # Both attempts together trained for the budget, give or take the step that crossed it.
    assert checkpoint["train_seconds"] <= BUDGET_S + 20
    assert not list(work_dir.glob("train-*")), "work folders are removed"
    assert not list(work_dir.glob("resume-*")), "the training state goes with the job"
    assert not list(models_dir.glob(".partial-*")), "no half-published weights are left"
    return version


def _preannotated_through_a_kill(client, version):
    """New uploads are pre-annotated by the active version, also when the worker is killed
    halfway; returns the new images' ids."""
    more = lesion_slices(1, 24, seed=11, size=SIZE)
    new_ids = slices_upload(client, "loop", more)
    job = PreannotationJob.objects.get()
    assert job.image_ids == sorted(new_ids) and job.model_version_id == version.pk
    with celery_worker() as worker:
        wait_for(
            lambda: _job(PreannotationJob, job.pk).done >= 4,
            timeout=240,
            what="pre-annotation to make progress",
        )
        worker.kill()
    assert _job(PreannotationJob, job.pk).status == JobStatus.RUNNING
    PreannotationJob.objects.filter(pk=job.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    jobs.jobs_requeue_stale()
    with celery_worker():
        wait_for(
            lambda: _job(PreannotationJob, job.pk).status != JobStatus.RUNNING,
            timeout=240,
            what="pre-annotation to finish",
        )
    job = _job(PreannotationJob, job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.done == len(new_ids)
    images = Image.objects.filter(pk__in=new_ids)
    assert all(image.uncertainty is not None for image in images)
    proposals = Annotation.objects.filter(image__in=images, source=Source.MODEL)
    assert all(p.model_version_id == version.pk for p in proposals)
    per_image = [proposals.filter(image=image).count() for image in images]
    assert max(per_image, default=0) <= 20
    return new_ids
