"""Reads for the box → mask assist."""

from annotator.selectors.workers import alive_beats

INTERACTIVE_QUEUE = "interactive"


def interactive_worker_alive() -> bool:
    """Whether a worker serving the interactive queue sent a heartbeat lately."""
    return any(
        INTERACTIVE_QUEUE in queues for queues in alive_beats().values_list("queues", flat=True)
    )
