from django.utils import timezone

from annotator.models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str, queues: list[str], accelerator: str) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={"queues": sorted(queues), "accelerator": accelerator, "last_seen": now},
        create_defaults={
            "queues": sorted(queues),
            "accelerator": accelerator,
            "last_seen": now,
            "started_at": now,
        },
    )
