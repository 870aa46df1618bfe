from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import JobStatus, PreannotationJob, Project, TrainingJob, WorkerHeartbeat

ALIVE_SECONDS = 90


def alive_beats() -> QuerySet[WorkerHeartbeat]:
    """Heartbeats of the workers alive now (seen in the last ``ALIVE_SECONDS``)."""
    return WorkerHeartbeat.objects.filter(
        last_seen__gte=timezone.now() - timedelta(seconds=ALIVE_SECONDS)
    )


def gpu_worker_has_cuda() -> bool:
    """Whether a live worker serving the gpu queue (training, pre-annotation) has CUDA."""
    return any(
        "gpu" in beat.queues and "cuda" in beat.accelerator
        for beat in alive_beats().only("queues", "accelerator")
    )


def worker_status(*, project: Project, user: User) -> dict[str, object]:
    """Workers seen in the last day, what they serve, and the project's own queued work.

    Workers are shared by every project, so only their queues, accelerator and liveness are
    shown; host names only to superusers (who run the servers), others see ``worker <n>``.
    Queued jobs are this project's, never another's.
    """
    now = timezone.now()
    beats = WorkerHeartbeat.objects.filter(last_seen__gte=now - timedelta(days=1)).order_by(
        "started_at", "hostname"
    )
    workers = [
        {
            "hostname": beat.hostname if user.is_superuser else f"worker {number}",
            "queues": beat.queues,
            "accelerator": beat.accelerator,
            "alive": beat.last_seen >= now - timedelta(seconds=ALIVE_SECONDS),
            "last_seen": beat.last_seen,
            "started_at": beat.started_at,
        }
        for number, beat in enumerate(beats, start=1)
    ]
    alive = [w for w in workers if w["alive"]]
    queued = {"project": project, "status": JobStatus.QUEUED}
    return {
        "workers": workers,
        "queues": {
            queue: {
                "workers": sum(queue in w["queues"] for w in alive),
                "gpu": any(queue in w["queues"] and "cuda" in w["accelerator"] for w in alive),
            }
            for queue in ("cpu", "gpu", "interactive")
        },
        "queued_jobs": {
            "training": TrainingJob.objects.filter(**queued).count(),
            "preannotation": PreannotationJob.objects.filter(**queued).count(),
        },
    }
