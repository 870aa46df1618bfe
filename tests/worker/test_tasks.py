"""Every task is declared by one decorator: its name, queue and retry policy."""

from django.db import OperationalError

from annotator.models import ExportJob, PacsImportJob
from annotator.services import jobs
from worker import tasks


def test_every_job_kind_has_its_task_on_its_queue_acknowledged_late():
    for name, queue in jobs.TASKS.values():
        task = tasks.app.tasks[name]
        assert (task.queue, task.acks_late, task.reject_on_worker_lost) == (queue, True, True)
        assert task.ignore_result


def test_exports_and_pacs_pulls_retry_a_lost_database_a_bounded_number_of_times():
    for model in (ExportJob, PacsImportJob):
        task = tasks.app.tasks[jobs.TASKS[model][0]]
        assert task.autoretry_for == (OperationalError,) and task.max_retries == 3
        assert (task.retry_backoff, task.retry_backoff_max) == (5, 120)
    assert tasks.train_model.max_retries == 0, "a training is sent again only by its lease"


def test_box_to_mask_answers_and_is_acknowledged_at_once():
    task = tasks.segment_box
    assert (task.queue, task.ignore_result, task.acks_late) == ("interactive", False, False)
