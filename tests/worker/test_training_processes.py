"""The training job with ``RADLABEL_TRAIN_PROCESSES = 2``: torchrun trains in two processes
(gloo on the CPU) while the job row gets its heartbeats; the version registered is rank 0's
checkpoint; a cancel stops the processes and the job ends cancelled; a crash of the processes
fails the job with a safe message, their output going to the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from annotator.models import JobStatus, ModelVersion, TrainingJob
from annotator.services import jobs
from radlabel.demo.dicom import lesion_slices
from tests.worker.test_training_registration import _upload_labelled
from worker import datastore
from worker.ml import launch
from worker.ml.checkpoint import load_weights

pytestmark = pytest.mark.slow
SIZE = 64
TRAIN_IMAGES = 4  # batch 2: one step an epoch in each of the two processes
PROGRESS = ("epoch", "step", "total_steps", "eta_seconds", "loss_curve")


@pytest.fixture
def project(world, media_root, settings):
    """The world's project with 4 train, 1 val and 1 test image, each lesion accepted, trained
    in two processes."""
    settings.RADLABEL_TRAIN_PROCESSES = 2
    slices = lesion_slices(TRAIN_IMAGES + 2, 1, seed=3, size=SIZE)
    splits = ["train"] * TRAIN_IMAGES + ["val", "test"]
    _upload_labelled(world.client(world.admin), world, slices, splits)
    return world.project


def _work_folders() -> list[Path]:
    return list(Path(settings.RADLABEL_WORK_DIR).glob("projects/*/training/train-*"))


def _heartbeats(monkeypatch, before=None) -> list[dict]:
    """Each heartbeat's progress as the job row holds it right after, and whether rank 0 had
    written its result yet; ``before(job, fields)`` runs first."""
    real = jobs.job_heartbeat
    beats = []

    def spy(job, **fields):
        if before is not None:
            before(job, fields)
        stop = real(job, **fields)
        row = TrainingJob.objects.values(*fields).get(pk=job.pk)
        finished = any((work / "processes" / "result.json").exists() for work in _work_folders())
        beats.append({**row, "result_written": finished})
        return stop

    monkeypatch.setattr(jobs, "job_heartbeat", spy)
    return beats


def _start(world, epochs: int) -> TrainingJob:
    options = {"image_size": SIZE, "epochs": epochs, "backbone": "resnet18_fpn"}
    return jobs.training_job_start(project=world.project, actor=world.admin, options=options)


def _running_ranks() -> list[str]:
    """The command lines of processes that run ``worker.ml.launch``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "worker.ml.launch" in command:
            found.append(command)
    return found


def test_two_processes_train_report_progress_and_register_rank_0s_model(
    world, project, monkeypatch
):
    beats = _heartbeats(monkeypatch)
    job = datastore.training_run(job_id=_start(world, epochs=2).pk)

    assert job.status == JobStatus.SUCCEEDED, job.error
    during = [beat for beat in beats if "step" in beat and not beat["result_written"]]
    assert during, "heartbeats reached the job row while the processes trained"
    assert set(PROGRESS) <= during[0].keys() and during[0]["total_steps"] == 2
    assert during[0]["loss_curve"][0][0] == 1 and np.isfinite(during[0]["eta_seconds"])
    assert [step for step, _ in job.loss_curve] == [1, 2], "one step an epoch in each process"
    version = ModelVersion.objects.get(pk=job.model_version_id)
    checkpoint = load_weights(
        Path(settings.MEDIA_ROOT) / version.weights_file, expected_sha256=version.sha256
    )
    assert checkpoint["steps"] == 2 and checkpoint["class_names"] == ["nodule"]
    assert not any(name.startswith("module.") for name in checkpoint["model"])
    assert {"val", "test", "operating_point"} <= version.metrics.keys()
    assert version.metrics["val"]["images"] == 1
    assert len(version.training_data["train"]["images"]) == TRAIN_IMAGES
    assert not _work_folders(), "the work folder, with the processes' files, is removed"


def test_a_cancel_stops_the_processes_and_the_job_ends_cancelled(world, project, monkeypatch):
    cancelled_at = []

    def cancel_once_training(job, fields):
        if "step" in fields and not cancelled_at:
            jobs.job_cancel(job=TrainingJob.objects.get(pk=job.pk), actor=world.admin)
            cancelled_at.append(time.monotonic())

    _heartbeats(monkeypatch, before=cancel_once_training)
    job = datastore.training_run(job_id=_start(world, epochs=200).pk)

    assert job.status == JobStatus.CANCELLED and job.error == "Cancelled."
    assert time.monotonic() - cancelled_at[0] < launch.STOP_SECONDS
    assert not _running_ranks(), "no training process is left running"
    assert not ModelVersion.objects.exists() and not _work_folders()


def test_a_crash_of_the_processes_fails_the_job_with_a_safe_message(
    world, project, monkeypatch, caplog
):
    real_write = launch.NpzDatastore.write

    def torn_write(root, class_names, splits):
        real_write(root, class_names, splits)
        first = sorted((Path(root) / "train").glob("*.npz"))[0]
        first.write_bytes(first.read_bytes()[:100])  # a torn sample file: the ranks crash

    monkeypatch.setattr(launch.NpzDatastore, "write", staticmethod(torn_write))
    caplog.set_level(logging.ERROR, logger="annotator.services.jobs")
    job = datastore.training_run(job_id=_start(world, epochs=2).pk)

    assert job.status == JobStatus.FAILED
    assert job.error == "The training failed; the server log has the details."
    assert "the training processes exited with 1 and no result" in caplog.text
    assert "zipfile.BadZipFile" in caplog.text, "the processes' own traceback is in the log"
    assert not _running_ranks() and not _work_folders()
