"""Job rows: leases decide who runs, redeliveries are harmless, poison messages stop."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.exceptions import ApplicationError
from annotator.models import (
    AuditEvent,
    JobStatus,
    ModelVersionStatus,
    TrainingJob,
    WorkerHeartbeat,
)
from annotator.services import jobs
from annotator.services.models import model_version_activate
from tests import factories


def test_a_job_is_claimed_once_while_its_lease_lives(db):
    job = factories.TrainingJobFactory()
    first = jobs.job_claim(TrainingJob, job.pk)
    assert first is not None and first.status == JobStatus.RUNNING and first.attempts == 1
    assert jobs.job_claim(TrainingJob, job.pk) is None
    TrainingJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    again = jobs.job_claim(TrainingJob, job.pk)
    assert again is not None and again.attempts == 2


def test_a_poison_job_fails_after_the_last_attempt(db):
    job = factories.TrainingJobFactory(
        status=JobStatus.RUNNING,
        attempts=jobs.MAX_ATTEMPTS,
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    assert jobs.job_claim(TrainingJob, job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Gave up after 3 attempts" in job.error


def test_finished_and_cancelled_jobs_are_not_run_again(db):
    done = factories.TrainingJobFactory(status=JobStatus.SUCCEEDED)
    cancelled = factories.TrainingJobFactory(cancel_requested=True)
    assert jobs.job_claim(TrainingJob, done.pk) is None
    assert jobs.job_claim(TrainingJob, cancelled.pk) is None
    cancelled.refresh_from_db()
    assert cancelled.status == JobStatus.CANCELLED


def test_heartbeat_extends_the_lease_and_reports_cancellation(db):
    job = jobs.job_claim(TrainingJob, factories.TrainingJobFactory().pk)
    assert jobs.job_heartbeat(job, step=5, total_steps=10, progress=0.5) is False
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert jobs.job_heartbeat(job, step=6) is True
    job.refresh_from_db()
    assert job.step == 6 and job.lease_until > timezone.now()


def _run(work, **kwargs):
    job = factories.TrainingJobFactory()
    return jobs.job_run(TrainingJob, job.pk, work, noun="training", **kwargs), job


def test_a_run_stores_its_heartbeats_and_the_fields_of_its_success(db):
    def work(job, heartbeat):
        heartbeat(step=3, total_steps=10, progress=0.3)
        assert TrainingJob.objects.get(pk=job.pk).step == 3
        return {"step": 10}

    finished, _ = _run(work)
    assert (finished.status, finished.error, finished.step, finished.progress) == (
        JobStatus.SUCCEEDED,
        "",
        10,
        1.0,
    )
    assert finished.lease_until is None and finished.finished_at is not None


def test_a_run_cancelled_while_it_works_stops_at_its_next_heartbeat(db):
    reached = []

    def work(job, heartbeat):
        TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        heartbeat(step=1)
        reached.append("after the heartbeat")
        return {}

    finished, _ = _run(work)
    assert (finished.status, finished.error, finished.step) == (
        JobStatus.CANCELLED,
        "Cancelled.",
        1,
    )
    assert not reached


def test_a_failed_run_shows_a_domain_errors_words_and_nothing_else(db):
    def refused(job, heartbeat):
        raise ApplicationError("The PACS did not answer as expected.")

    def broken(job, heartbeat):
        raise OSError("disk full at /srv/secret/media")

    assert _run(refused)[0].error == "The PACS did not answer as expected."
    failed, _ = _run(broken)
    assert failed.status == JobStatus.FAILED
    assert failed.error == "The training failed; the server log has the details."


def test_every_ending_stores_the_closing_fields(db):
    def closing(job):
        return {"epoch": 7}

    def broken(job, heartbeat):
        raise RuntimeError("boom")

    assert _run(lambda job, heartbeat: {}, closing=closing)[0].epoch == 7
    assert _run(broken, closing=closing)[0].epoch == 7


def test_a_redelivered_message_for_a_finished_or_held_job_runs_nothing(db):
    ran = []
    _, job = _run(lambda job, heartbeat: {})
    assert jobs.job_run(TrainingJob, job.pk, lambda *a: ran.append(a), noun="training") is None
    held = factories.TrainingJobFactory(
        status=JobStatus.RUNNING, attempts=1, lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert jobs.job_run(TrainingJob, held.pk, lambda *a: ran.append(a), noun="training") is None
    assert not ran


@pytest.mark.django_db(transaction=True)
def test_second_training_start_answers_409_and_sends_one_message(world, broker):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    factories.AnnotationFactory(image=image, label_class=world.instance_class, status="accepted")
    client = world.client(world.admin)
    first = client.post("/api/projects/chest/training-jobs/", {"epochs": 2}, format="json")
    second = client.post("/api/projects/chest/training-jobs/", {"epochs": 2}, format="json")
    assert first.status_code == 202, first.data
    assert (second.status_code, second.data["code"]) == (409, "training_in_progress")
    assert second.data["job"] == first.data["id"]
    assert broker.llen("gpu") == 1
    denied = world.client(world.annotator).post(
        "/api/projects/chest/training-jobs/", {}, format="json"
    )
    assert denied.status_code == 403 and broker.llen("gpu") == 1


def test_training_needs_accepted_labels_on_train(world):
    response = world.client(world.admin).post(
        "/api/projects/chest/training-jobs/", {}, format="json"
    )
    assert (response.status_code, response.data["code"]) == (409, "no_training_data")


def _two_of_three_accepted(world):
    """A retrain threshold of 3 and an image with 2 accepted labels; the image."""
    world.project.retrain_threshold = 3
    world.project.save()
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    factories.AnnotationFactory.create_batch(
        2, image=image, label_class=world.instance_class, status="accepted"
    )
    return image


def test_retrain_is_due_after_enough_new_accepted_labels(world):
    image = _two_of_three_accepted(world)
    assert jobs.retrain_due(project=world.project) is False
    factories.AnnotationFactory(image=image, label_class=world.instance_class, status="accepted")
    assert jobs.retrain_due(project=world.project) is True
    factories.ModelVersionFactory(project=world.project)
    assert jobs.retrain_due(project=world.project) is False


def test_activation_keeps_one_active_version_and_is_audited(world):
    first = factories.ModelVersionFactory(project=world.project)
    second = factories.ModelVersionFactory(project=world.project)
    model_version_activate(version=first, actor=None, reason="rule")
    response = world.client(world.admin).post(f"/api/model-versions/{second.pk}/activate/")
    assert response.status_code == 200 and response.data["status"] == "active"
    first.refresh_from_db()
    assert first.status == ModelVersionStatus.RETIRED
    rollback = world.client(world.admin).post(f"/api/model-versions/{first.pk}/activate/")
    assert rollback.status_code == 200
    events = AuditEvent.objects.filter(action="model_version.activated").order_by("id")
    assert [e.actor_id for e in events] == [None, world.admin.pk, world.admin.pk]


def test_preannotation_needs_an_active_model(world):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    response = world.client(world.admin).post(
        "/api/projects/chest/preannotate/", {"image_ids": [image.pk]}, format="json"
    )
    assert (response.status_code, response.data["code"]) == (409, "no_active_model")


def test_lost_and_orphaned_jobs_are_resent_once_not_every_minute(
    db, broker, django_capture_on_commit_callbacks
):
    never_sent = factories.TrainingJobFactory()
    orphan = factories.PreannotationJobFactory(
        status=JobStatus.RUNNING,
        enqueued_at=timezone.now() - timedelta(minutes=10),
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    waiting = factories.PreannotationJobFactory(enqueued_at=timezone.now() - timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_requeue_stale() == 2
    assert broker.llen("gpu") == 2
    never_sent.refresh_from_db()
    orphan.refresh_from_db()
    assert never_sent.enqueued_at is not None and orphan.enqueued_at > orphan.lease_until
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_requeue_stale() == 0, "a job waiting its turn is not resent"
    assert broker.llen("gpu") == 2
    waiting.refresh_from_db()
    assert waiting.enqueued_at < timezone.now() - timedelta(minutes=19)


@pytest.mark.parametrize(
    ("options", "epochs", "budget"),
    [
        ({"time_budget_s": 600}, None, 600),  # minutes only: train until they are spent
        ({"epochs": 3}, 3, None),
        ({"epochs": 3, "time_budget_s": 600}, 3, 600),  # whichever ends first
        ({}, jobs.DEFAULT_EPOCHS, None),
    ],
)
def test_a_run_stops_after_the_epochs_or_the_minutes_it_was_given(world, options, epochs, budget):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    factories.AnnotationFactory(image=image, label_class=world.instance_class, status="accepted")
    response = world.client(world.admin).post(
        "/api/projects/chest/training-jobs/", options, format="json"
    )
    assert response.status_code == 202, response.data
    assert response.data["options"]["epochs"] == epochs
    assert response.data["options"]["time_budget_s"] == budget


def _beat(hostname, queues, accelerator, seen_seconds_ago=0):
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname=hostname,
        queues=queues,
        accelerator=accelerator,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=seen_seconds_ago),
    )


def _start_training(world, options):
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    factories.AnnotationFactory(image=image, label_class=world.instance_class, status="accepted")
    response = world.client(world.admin).post(
        "/api/projects/chest/training-jobs/", options, format="json"
    )
    assert response.status_code == 202, response.data
    return response.data["options"]["backbone"]


def test_a_training_that_names_no_backbone_gets_resnet50_only_from_a_live_cuda_worker(world):
    _beat("cpu-0@a", ["cpu"], "cpu")
    _beat("gpu-0@b", ["gpu"], "cpu (2 threads)")
    _beat("gpu-1@c", ["gpu"], "cuda: NVIDIA H200", seen_seconds_ago=600)  # gone
    assert _start_training(world, {}) == jobs.DEFAULT_BACKBONE == "efficientnet_lite0_fpn"
    TrainingJob.objects.update(status=JobStatus.SUCCEEDED)
    _beat("gpu-2@d", ["gpu"], "cuda: NVIDIA H200")
    assert _start_training(world, {}) == jobs.GPU_DEFAULT_BACKBONE == "resnet50_fpn"
    TrainingJob.objects.update(status=JobStatus.SUCCEEDED)
    assert _start_training(world, {"backbone": "mobilenet_v3_fpn"}) == "mobilenet_v3_fpn"


def test_a_fine_tune_that_names_no_backbone_keeps_the_active_versions(world):
    _beat("gpu-0@d", ["gpu"], "cuda: NVIDIA H200")
    version = factories.ModelVersionFactory(
        project=world.project, backbone="efficientnet_lite0_fpn"
    )
    model_version_activate(version=version, actor=world.admin, reason="by hand")
    assert _start_training(world, {"init": "active"}) == "efficientnet_lite0_fpn"


def test_the_models_page_hears_how_close_the_next_retrain_is(world):
    _two_of_three_accepted(world)
    status = world.client(world.admin).get("/api/projects/chest/retrain/")
    assert status.data == {"accepted_since_last_version": 2, "threshold": 3, "due": False}
    assert world.client(world.annotator).get("/api/projects/chest/retrain/").status_code == 403
