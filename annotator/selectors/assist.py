"""Reads for the box → mask assist."""

from datetime import timedelta

from django.utils import timezone

from annotator.models import WorkerHeartbeat
from annotator.selectors.workers import ALIVE_SECONDS

INTERACTIVE_QUEUE = "interactive"


def interactive_worker_alive() -> bool:
    """Whether a worker serving the interactive queue sent a heartbeat lately."""
    beats = WorkerHeartbeat.objects.filter(
        last_seen__gte=timezone.now() - timedelta(seconds=ALIVE_SECONDS)
    ).values_list("queues", flat=True)
    return any(INTERACTIVE_QUEUE in queues for queues in beats)
