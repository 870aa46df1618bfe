"""Box → mask with the model engine: the API asks a real Celery worker of the ``interactive``
queue (Redis broker and result backend, PostgreSQL), which runs the active version on the box."""

import io
import time

import numpy as np
import pytest
import torch

from annotator import coco
from annotator.models import Image, ModelVersionStatus, WorkerHeartbeat
from annotator.services import studies
from radlabel.demo.dicom import lesion_slices
from tests import factories
from tests.processes import celery_worker, wait_for
from worker.ml.checkpoint import save_weights_atomic
from worker.ml.model import build_model, model_config

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BOX = [30.0, 40.0, 70.0, 64.0]


def _tiny_version(world, media_root):
    """An active version of a random tiny model whose heads answer class 1 on any box: the
    whole box as its mask, with a score near 1 (so the answer is known exactly)."""
    config = model_config(num_classes=3, min_size=128, max_size=128)
    model = build_model(**config)
    with torch.no_grad():
        heads = model.roi_heads
        for layer in (heads.box_predictor.cls_score, heads.mask_predictor.mask_fcn_logits):
            layer.weight.zero_()
            layer.bias.copy_(torch.tensor([0.0, 10.0, -10.0]))
    weights = "projects/tiny/models/tiny.pt"
    sha256 = save_weights_atomic(
        {"model": model.state_dict(), "config": config, "class_names": ["nodule", "other"]},
        media_root / weights,
    )
    return factories.ModelVersionFactory(
        project=world.project,
        status=ModelVersionStatus.ACTIVE,
        backbone=config["backbone"],
        weights_file=weights,
        sha256=sha256,
        class_map={"1": world.instance_class.pk},
        training_data={"modalities": ["CT"]},
    )


def test_the_active_model_segments_the_box_in_an_interactive_worker(world, media_root, broker):
    version = _tiny_version(world, media_root)
    [lesion] = lesion_slices(1, 1, seed=9, size=128)
    [outcome] = studies.upload_ingest(
        project=world.project, actor=None, files=[("ct.dcm", io.BytesIO(lesion.data))]
    )
    image = Image.objects.get(pk=outcome.image_ids[0])
    client = world.client(world.annotator)
    body = {"box": BOX, "label_class": world.instance_class.pk}

    with celery_worker("interactive"):
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(queues__contains=["interactive"]).exists(),
            timeout=60,
            what="the interactive worker's heartbeat",
        )

        def answered_by_model():
            response = client.post(f"/api/images/{image.pk}/segment/", body, format="json")
            assert response.status_code == 200, response.data
            return response.data if response.data["engine"] == "model" else None

        # the pool's process loads torch and the version on its first task
        answer = wait_for(answered_by_model, timeout=90, what="the model engine to answer")
        started = time.monotonic()
        warm = client.post(f"/api/images/{image.pk}/segment/", body, format="json").data
        round_trip = time.monotonic() - started

    assert answer["model_version"] == version.number and "note" not in answer
    assert answer["score"] > 0.99
    found = coco.decode_mask(answer["mask"]).astype(bool)
    expected = np.zeros((128, 128), bool)
    expected[40:64, 30:70] = True
    assert (found & expected).sum() / (found | expected).sum() > 0.9
    assert answer["box"] == coco.bbox_of_mask(answer["mask"])
    assert warm["engine"] == "model" and warm["mask"] == answer["mask"]
    assert round_trip < 2.0, "a warm worker answers well within the timeout"
