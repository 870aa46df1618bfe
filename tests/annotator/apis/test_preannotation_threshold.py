"""Pre-annotation proposes exactly what the version's operating point says, no more, no less."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.models import Image, PreannotationJob
from annotator.selectors.images import image_windowed
from radlabel.demo.dicom import lesion_slices
from tests import factories
from worker import tasks
from worker.ml.checkpoint import save_weights_atomic
from worker.ml.lesion_metrics import MAX_MARKS_PER_IMAGE
from worker.ml.model import build_model, model_config
from worker.ml.predictor import Predictor, uncertainty

pytestmark = pytest.mark.slow
SIZE = 64


def _version(world, media_root):
    """An untrained network: every detection scores near 0.5, spread a little."""
    config = model_config(num_classes=2, backbone="resnet18_fpn", min_size=SIZE, max_size=SIZE)
    path = Path(media_root) / "projects" / "chest" / "models" / "v1.pt"
    path.parent.mkdir(parents=True)
    sha256 = save_weights_atomic(
        {"model": build_model(**config).state_dict(), "config": config, "class_names": ["n"]},
        path,
    )
    return path, sha256


def test_preannotation_stores_exactly_the_detections_at_or_above_the_threshold(world, media_root):
    client = world.client(world.admin)
    response = client.post(
        "/api/projects/chest/uploads/",
        {
            "files": [
                SimpleUploadedFile(f"{i}.dcm", s.data)
                for i, s in enumerate(lesion_slices(1, 3, seed=2, size=SIZE))
            ]
        },
        format="multipart",
    )
    assert response.status_code == 201, response.data
    images = list(Image.objects.filter(project=world.project).order_by("pk"))
    path, sha256 = _version(world, media_root)

    everything = Predictor(path, expected_sha256=sha256, score_threshold=0.0)
    found = everything.predict([image_windowed(image) for image in images])
    # a threshold that keeps some detections of some images and drops the rest
    threshold = max(sorted((p.score for p in f), reverse=True)[9] for f in found)
    expected = {
        image.pk: sorted(p.score for p in f if p.score >= threshold)[::-1][:MAX_MARKS_PER_IMAGE]
        for image, f in zip(images, found, strict=True)
    }
    assert 0 < sum(map(len, expected.values())) < sum(map(len, found))

    version = factories.ModelVersionFactory(
        project=world.project,
        weights_file=str(path.relative_to(media_root)),
        sha256=sha256,
        score_threshold=threshold,
        class_map={"1": world.instance_class.pk},
        training_data={"modalities": ["CT"]},
    )
    activated = client.post(f"/api/model-versions/{version.pk}/activate/")
    assert activated.status_code == 200 and activated.data["score_threshold"] == threshold
    job = PreannotationJob.objects.get(model_version=version)
    tasks.preannotate(job.pk)  # the worker's task, run here
    job.refresh_from_db()
    assert job.status == "succeeded", job.error

    for image, f in zip(images, found, strict=True):
        listed = client.get(f"/api/images/{image.pk}/annotations/")
        assert listed.status_code == 200
        rows = listed.data["results"] if isinstance(listed.data, dict) else listed.data
        stored = sorted((row["score"] for row in rows), reverse=True)
        assert stored == pytest.approx(expected[image.pk], abs=1e-6), image.pk
        image.refresh_from_db()
        # the uncertainty also weighs what the model half-saw below the threshold
        assert image.uncertainty == pytest.approx(
            uncertainty([p for p in f if p.score >= min(threshold, 0.05)], threshold=threshold),
            abs=1e-6,
        )
