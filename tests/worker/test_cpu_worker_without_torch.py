"""A worker of the ``cpu`` queue (exports, PACS pulls, job upkeep) never loads torch: only the
``gpu`` and ``interactive`` queues need it, and it costs the process most of a gigabyte."""

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from annotator.models import ExportJob, Image, JobStatus
from annotator.services import annotations, coco_export, studies
from tests import factories
from tests.dicom_files import data_store
from tests.processes import celery_worker, wait_finished, wait_for

ROOT = Path(__file__).resolve().parents[2]

CPU_TASK_MODULES = (
    "worker.tasks",
    "annotator.services.coco_export",
    "annotator.services.nifti_export",
    "annotator.services.pacs",
    "annotator.services.jobs",
)


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids.extend(_process_tree(int(child)))
    return pids


def _torch_loaded(pid: int) -> bool:
    """Whether any process of the tree has torch's native library mapped."""
    return any("libtorch" in Path(f"/proc/{p}/maps").read_text() for p in _process_tree(pid))


def test_the_cpu_task_modules_import_without_torch():
    code = (
        "import sys, django; django.setup(); "
        + "; ".join(f"import {module}" for module in CPU_TASK_MODULES)
        + "; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_cpu_worker_runs_an_export_without_loading_torch_and_a_gpu_worker_loads_it(
    media_root,
):
    project = factories.ProjectFactory(slug="chest")
    admin = factories.UserFactory()
    label_class = factories.LabelClassFactory(project=project, name="nodule")
    [outcome] = studies.upload_ingest(
        project=project,
        actor=None,
        files=[("ct.dcm", io.BytesIO(data_store("693_UNCI.dcm").read_bytes()))],
    )
    annotations.annotation_create(
        image=Image.objects.get(pk=outcome.image_ids[0]),
        actor=admin,
        client_key=uuid.uuid4(),
        label_class=label_class.pk,
        box=[10, 10, 20, 20],
    )
    with celery_worker("cpu") as worker:
        job = coco_export.export_create(project=project, actor=admin, options={"images": "all"})
        finished = wait_finished(ExportJob, job.pk, timeout=90, what="the export")
        assert finished.status == JobStatus.SUCCEEDED, finished.error
        assert len(_process_tree(worker.process.pid)) > 1, "the pool's process ran the export"
        assert not _torch_loaded(worker.process.pid), "the cpu worker loaded torch"
    with celery_worker("cpu,gpu") as worker:
        assert wait_for(
            lambda: _torch_loaded(worker.process.pid), timeout=60, what="torch in the gpu worker"
        )
