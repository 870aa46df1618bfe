"""After training: the version gets its operating point, figures per split, and a promotion
decision taken against the active version on the same val images.

The training itself is replaced by a result whose detections are known (each lesion found
exactly), so the figures are known too; the active version is a real, untrained network.
"""

import shutil
from pathlib import Path

import pytest

from annotator.models import (
    Image,
    ModelVersion,
    Patient,
    PreannotationJob,
    TagSuggestion,
    TrainingJob,
)
from annotator.selectors.model_versions import training_annotations
from annotator.services import jobs
from radlabel.demo.dicom import lesion_slices
from tests import factories
from tests.detections import exact_detections
from tests.lesion_uploads import lesions_label, slices_upload
from worker import datastore
from worker.ml.checkpoint import save_weights_atomic
from worker.ml.classifier import ClassifierConfig
from worker.ml.evaluation import coco_metrics
from worker.ml.model import build_model, model_config
from worker.ml.train import TrainResult

pytestmark = pytest.mark.slow
SIZE = 64


def _exact_result(store, weights_path: Path, sha256: str) -> TrainResult:
    """A training's result whose val and test detections find each lesion exactly."""
    samples = {split: store.samples(split) for split in ("val", "test")}
    found = {split: exact_detections(s, score=0.9) for split, s in samples.items()}
    return TrainResult(
        weights_path=weights_path,
        sha256=sha256,
        metrics={s: coco_metrics(samples[s], found[s], store.class_names) for s in found},
        loss_curve=[],
        detections=found,
    )


def _retrain(world, monkeypatch, train_main) -> TrainingJob:
    """A retrain of the project by its admin, run here with ``train_main`` in place of training;
    it succeeds."""
    monkeypatch.setattr(datastore, "train_main", train_main)
    started = jobs.training_job_start(
        project=world.project, actor=world.admin, options={"image_size": SIZE}
    )
    job = datastore.training_run(job_id=started.pk)
    assert job.status == "succeeded", job.error
    return job


def _weights(path: Path) -> str:
    config = model_config(num_classes=2, backbone="resnet18_fpn", min_size=SIZE, max_size=SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": build_model(**config).state_dict(), "config": config, "class_names": ["n"]}
    return save_weights_atomic(state, path)


def _upload_labelled(client, world, slices, splits) -> list[int]:
    """The slices uploaded, their patients put in ``splits``, each lesion an accepted label."""
    image_ids = slices_upload(client, "chest", slices)
    for patient, split in zip(Patient.objects.order_by("pseudonym"), splits, strict=True):
        assert client.patch(f"/api/patients/{patient.pk}/", {"split": split}).status_code == 200
    for image_id, lesion in zip(image_ids, slices, strict=True):
        lesions_label(client, image_id, lesion, world.instance_class.pk)
    return image_ids


def test_a_trained_version_is_measured_at_its_threshold_and_compared_on_val(
    world, media_root, monkeypatch
):
    client = world.client(world.admin)
    slices = lesion_slices(6, 1, seed=7, size=SIZE)
    _upload_labelled(client, world, slices, ["train", "train", "val", "val", "val", "test"])
    val_lesions = training_annotations(project=world.project, split="val").count()
    world.project.promotion_min_val_lesions = val_lesions
    world.project.save()

    active_file = Path(media_root) / "projects" / "chest" / "models" / "active.pt"
    active = factories.ModelVersionFactory(
        project=world.project,
        status="active",
        weights_file=str(active_file.relative_to(media_root)),
        sha256=_weights(active_file),
        score_threshold=0.5,
        class_map={"1": world.instance_class.pk},
    )

    def exact_training(config, store, **kwargs):
        path = Path(config.output_dir) / "model.pt"
        shutil.copy(active_file, path)
        return _exact_result(store, path, active.sha256)

    job = _retrain(world, monkeypatch, exact_training)

    version = ModelVersion.objects.get(pk=job.model_version_id)
    assert version.score_threshold == version.metrics["operating_point"]["threshold"]
    assert version.score_threshold == pytest.approx(0.9), "the one score there is: a float32"
    val = version.metrics["val"]
    assert (val["images"], val["lesions"]) == (3, val_lesions)
    assert val["at_threshold"]["recall"]["value"] == 1.0
    assert val["at_threshold"]["bootstrap"] == {
        "samples": 2000,
        "confidence": 0.95,
        "unit": "patient",
        "units": 3,
    }
    assert val["segm_AP"] == 1.0 and val["ap_interval"]["segm_AP"] == [1.0, 1.0]
    assert version.metrics["test"]["at_threshold"]["fp_per_image"]["value"] == 0.0
    comparison = version.promotion["comparison"]
    assert comparison["images"] == 3 and comparison["candidate"] == 1.0
    assert comparison["active"] < 1.0, "the untrained active network was run on the same images"
    assert version.promotion["compared_with"] == active.number
    assert version.status == "active" and version.promotion["reason"].endswith(
        "better beyond the noise."
    )
    shown = client.get("/api/projects/chest/model-versions/").data
    assert next(v for v in shown if v["id"] == version.pk)["promotion"] == version.promotion


def _untrained_detector(config, store, **kwargs):
    """In place of training: an untrained network whose val and test detections are exact."""
    path = Path(config.output_dir) / "model.pt"
    return _exact_result(store, path, _weights(path))


def test_a_retrain_trains_the_tag_classifier_and_the_version_holds_its_figures(
    world, media_root, monkeypatch
):
    """Tagged images are positives, images a person finished without the tag negatives, an
    image neither tagged nor done is unknown; the classifier's weights are checksummed, its
    metrics per split count the images behind them, and the API shows them without the path."""
    client = world.client(world.admin)
    slices = lesion_slices(8, 2, seed=11, size=SIZE)
    _upload_labelled(client, world, slices, ["train"] * 4 + ["val"] * 2 + ["test"] * 2)
    # in each split, by position: 0 and 2 tagged, 1 finished without it, 3 neither (unknown)
    positions = [
        (index, image.pk)
        for split in ("train", "val", "test")
        for index, image in enumerate(
            Image.objects.filter(series__study__patient__split=split).order_by("pk")
        )
    ]
    for index, image_id in positions:
        if index % 2 == 0:
            tagged = client.put(
                f"/api/images/{image_id}/tags/",
                {"label_class_ids": [world.tag_class.pk]},
                format="json",
            )
            assert tagged.status_code == 200, tagged.data
        if index % 4 != 3:
            done = client.patch(f"/api/images/{image_id}/", {"status": "done"}, format="json")
            assert done.status_code == 200, done.data

    job = _retrain(world, monkeypatch, _untrained_detector)

    classifier = ModelVersion.objects.get(pk=job.model_version_id).classifier
    assert classifier["class_map"] == {"0": world.tag_class.pk}
    assert classifier["config"]["size"] == ClassifierConfig.size
    weights = Path(media_root) / classifier["weights_file"]
    assert weights.is_file() and len(classifier["sha256"]) == 64
    assert classifier["metrics"]["train"] == {"images": 6}, "8 train images, 2 unknown"
    for split in ("val", "test"):
        figures = classifier["metrics"][split]["tags"][world.tag_class.name]
        # 4 images a split: 2 tagged, 1 finished without the tag, 1 unknown (not counted)
        assert (figures["images"], figures["positives"]) == (3, 2), figures
        assert sum(figures["confusion"].values()) == 3
        assert 0.0 <= figures["auroc"]["value"] <= 1.0
    assert classifier["comparison"] is None, "no version was active"
    shown = next(
        v
        for v in client.get("/api/projects/chest/model-versions/").data
        if v["id"] == job.model_version_id
    )
    assert shown["classifier"]["sha256"] == classifier["sha256"]
    assert "weights_file" not in shown["classifier"]

    # pre-annotation with the version suggests the tag on every image, at its val threshold
    version = ModelVersion.objects.get(pk=job.model_version_id)
    ids = list(Image.objects.order_by("pk").values_list("pk", flat=True))
    pre = PreannotationJob.objects.create(
        project=world.project, model_version=version, image_ids=ids
    )
    assert datastore.preannotation_run(job_id=pre.pk).status == "succeeded"
    suggestions = TagSuggestion.objects.filter(label_class=world.tag_class)
    assert sorted(suggestions.values_list("image_id", flat=True)) == ids
    assert {s.threshold for s in suggestions} == {classifier["thresholds"][0]}
    assert all(0.0 <= s.probability <= 1.0 for s in suggestions)
    tagged = Image.objects.filter(tags=world.tag_class).values_list("pk", flat=True)
    assert all(s.decision == "accepted" for s in suggestions.filter(image_id__in=tagged))
    untagged = suggestions.exclude(image_id__in=tagged)
    assert all(s.decision == "pending" for s in untagged)
    detail = client.get(f"/api/images/{untagged[0].image_id}/").data["tag_suggestions"]
    assert detail[0]["model_version"] == version.number


def test_a_retrain_without_a_tag_that_train_can_teach_says_so(world, media_root, monkeypatch):
    client = world.client(world.admin)
    _upload_labelled(
        client, world, lesion_slices(3, 1, seed=12, size=SIZE), ["train", "val", "test"]
    )
    job = _retrain(world, monkeypatch, _untrained_detector)
    classifier = ModelVersion.objects.get(pk=job.model_version_id).classifier
    assert classifier == {
        "not_trained": "train holds no tagged image and no finished image without it"
    }
