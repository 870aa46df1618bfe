from datetime import timedelta

from django.utils import timezone

from annotator.models import JobStatus, PreannotationJob, TrainingJob, WorkerHeartbeat

ALIVE_SECONDS = 90


def worker_status() -> dict[str, object]:
    """Workers seen in the last ``ALIVE_SECONDS``, what they serve, and the queued work."""
    now = timezone.now()
    workers = [
        {
            "hostname": beat.hostname,
            "queues": beat.queues,
            "accelerator": beat.accelerator,
            "alive": beat.last_seen >= now - timedelta(seconds=ALIVE_SECONDS),
            "last_seen": beat.last_seen,
            "started_at": beat.started_at,
        }
        for beat in WorkerHeartbeat.objects.filter(last_seen__gte=now - timedelta(days=1))
    ]
    alive = [w for w in workers if w["alive"]]
    return {
        "workers": workers,
        "queues": {
            queue: {
                "workers": sum(queue in w["queues"] for w in alive),
                "gpu": any(queue in w["queues"] and "cuda" in w["accelerator"] for w in alive),
            }
            for queue in ("cpu", "gpu")
        },
        "queued_jobs": {
            "training": TrainingJob.objects.filter(status=JobStatus.QUEUED).count(),
            "preannotation": PreannotationJob.objects.filter(status=JobStatus.QUEUED).count(),
        },
    }
