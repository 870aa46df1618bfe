"""Worker status is scoped to the project: its own queued jobs, and no host names for
project admins (workers are shared by every project)."""

from datetime import timedelta

from django.utils import timezone

from annotator.models import JobStatus, WorkerHeartbeat
from tests import factories


def _workers():
    now = timezone.now()
    for hostname, queues, accelerator in (
        ("gpu-0@node-a.internal", ["gpu"], "cuda:0"),
        ("cpu-0@node-b.internal", ["cpu", "interactive"], "cpu"),
    ):
        WorkerHeartbeat.objects.create(
            hostname=hostname,
            queues=queues,
            accelerator=accelerator,
            started_at=now - timedelta(hours=1),
            last_seen=now,
        )


def test_project_admin_sees_only_the_projects_queue_and_no_host_names(world):
    _workers()
    factories.TrainingJobFactory(project=world.project, status=JobStatus.QUEUED)
    factories.TrainingJobFactory(project=world.other_project, status=JobStatus.QUEUED)
    for _ in range(3):
        factories.PreannotationJobFactory(project=world.other_project, status=JobStatus.QUEUED)
    response = world.client(world.admin).get("/api/projects/chest/workers/")
    assert response.status_code == 200
    assert response.data["queued_jobs"] == {"training": 1, "preannotation": 0}
    assert "node-" not in response.content.decode()
    assert sorted(w["hostname"] for w in response.data["workers"]) == ["worker 1", "worker 2"]
    assert response.data["queues"] == {
        "cpu": {"workers": 1, "gpu": False},
        "gpu": {"workers": 1, "gpu": True},
        "interactive": {"workers": 1, "gpu": False},
    }


def test_a_superuser_sees_the_host_names(world):
    _workers()
    superuser = factories.UserFactory(is_superuser=True, is_staff=True)
    response = world.client(superuser).get("/api/projects/chest/workers/")
    assert response.status_code == 200
    assert {w["hostname"] for w in response.data["workers"]} == {
        "gpu-0@node-a.internal",
        "cpu-0@node-b.internal",
    }
