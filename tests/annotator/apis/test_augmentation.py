"""A project's augmentation settings through the API (who may, what is refused, what is
stored, what a retrain and its version use) and their preview (who may, which images, how many,
what comes back)."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from annotator.models import AuditEvent, ModelVersion, Patient, Project
from radlabel.augmentation import OPS, AugmentationSettings
from radlabel.demo.dicom import lesion_slices
from tests.lesion_uploads import lesions_label, slices_upload

URL = "/api/projects/chest/augmentation/"
PREVIEW = "/api/projects/chest/augmentation/preview/"
SIZE = 64
ALL_OFF = {name: {"enabled": False} for name in OPS}


def _upload(world, n=1, seed=3):
    """``n`` synthetic CT slices with their lesions as the admin's (accepted) labels; returns
    each image's id and its lesion masks."""
    client = world.client(world.admin)
    slices = lesion_slices(n, 1, seed=seed, size=SIZE)
    image_ids = slices_upload(client, "chest", slices)
    for image_id, lesion in zip(image_ids, slices, strict=True):
        lesions_label(client, image_id, lesion, world.instance_class.pk)
    return [(image_id, lesion.masks) for image_id, lesion in zip(image_ids, slices, strict=True)]


def test_admins_read_the_defaults_with_each_ops_range(world):
    response = world.client(world.admin).get(URL)
    assert response.status_code == 200
    assert response.data["settings"] == AugmentationSettings().to_json()
    rotation = next(op for op in response.data["ops"] if op["name"] == "rotation")
    assert (rotation["low"], rotation["high"], rotation["title"]) == (0.0, 180.0, "Rotation")
    assert [op["name"] for op in response.data["ops"]] == list(OPS)


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_admins_read_or_change_the_settings(world, role):
    client = world.client(getattr(world, role))
    assert client.get(URL).status_code == 403
    body = {"settings": {"vflip": {"enabled": True}}}
    assert client.put(URL, body, format="json").status_code == 403
    assert world.client(world.outsider).get(URL).status_code == 404
    assert world.client().get(URL).status_code in (401, 403)
    assert Project.objects.get(slug="chest").augmentation == {}


def test_an_admin_saves_settings_that_are_stored_and_audited(world):
    client = world.client(world.admin)
    body = {
        "settings": {"vflip": {"enabled": True, "probability": 0.25}, "noise": {"enabled": False}}
    }
    response = client.put(URL, body, format="json")
    assert response.status_code == 200, response.data
    settings = response.data["settings"]
    assert settings["vflip"] == {"enabled": True, "strength": 1.0, "probability": 0.25}
    assert settings["noise"]["enabled"] is False
    assert settings["rotation"] == {"enabled": True, "strength": 10.0, "probability": 0.7}
    assert client.get(URL).data["settings"] == settings
    assert Project.objects.get(slug="chest").augmentation == settings
    event = AuditEvent.objects.get(action="project.augmentation_updated")
    assert event.after == settings and event.before == AugmentationSettings().to_json()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"sharpen": {"enabled": True}}, "sharpen"),
        ({"rotation": {"angle": 3}}, "angle"),
        ({"rotation": {"strength": 181}}, "rotation.strength is between 0 and 180"),
        ({"noise": {"probability": 1.5}}, "noise.probability is between 0 and 1"),
        ({"blur": {"strength": 0}}, "blur.strength is between 0.1 and 5"),
        ({"hflip": {"strength": 3}}, "hflip has no strength"),
        ({"occlusion": {"enabled": "maybe"}}, "enabled"),
    ],
)
def test_unknown_keys_and_out_of_range_values_are_refused_by_name(world, given, named):
    client = world.client(world.admin)
    response = client.put(URL, {"settings": given}, format="json")
    assert response.status_code == 400
    assert named in json.dumps(response.data)
    assert Project.objects.get(slug="chest").augmentation == {}


def test_a_body_without_settings_is_refused(world):
    response = world.client(world.admin).put(URL, {"rotation": {}}, format="json")
    assert response.status_code == 400 and "rotation" in json.dumps(response.data)


@pytest.mark.slow
def test_a_retrain_trains_with_the_projects_settings_and_its_version_records_them(
    world, media_root, monkeypatch
):
    from worker import datastore
    from worker.ml.checkpoint import save_weights_atomic
    from worker.ml.model import build_model, model_config
    from worker.ml.train import TrainResult

    _upload(world, n=2)
    client = world.client(world.admin)
    for patient in Patient.objects.all():  # splits come from a keyed hash: pin one to train
        assert client.patch(f"/api/patients/{patient.pk}/", {"split": "train"}).status_code == 200
    chosen = {"vflip": {"enabled": True}, "occlusion": {"enabled": True, "strength": 0.3}}
    saved = client.put(URL, {"settings": chosen}, format="json").data["settings"]
    seen = []

    def training(config, store, **kwargs):
        seen.append(config.augmentation)
        path = Path(config.output_dir) / "model.pt"
        model_cfg = model_config(
            num_classes=2, backbone="resnet18_fpn", min_size=SIZE, max_size=SIZE
        )
        sha = save_weights_atomic({"model": build_model(**model_cfg).state_dict()}, path)
        return TrainResult(
            weights_path=path,
            sha256=sha,
            metrics={"val": {}, "test": {}},
            loss_curve=[],
            detections={"val": [], "test": []},
        )

    monkeypatch.setattr(datastore, "train_main", training)
    monkeypatch.setattr(datastore, "version_metrics", lambda *a, **k: (0.5, {}, {"val": []}))
    started = client.post("/api/projects/chest/training-jobs/", {"image_size": SIZE}, format="json")
    assert started.status_code == 202, started.data
    # a change after the start is not what that training uses
    client.put(URL, {"settings": ALL_OFF}, format="json")
    job = datastore.training_run(job_id=started.data["id"])
    assert job.status == "succeeded", job.error
    assert seen == [AugmentationSettings.from_json(saved)]
    version = ModelVersion.objects.get(pk=job.model_version_id)
    assert version.config["augmentation"] == saved
    listed = client.get("/api/projects/chest/model-versions/").data
    assert next(v for v in listed if v["id"] == version.pk)["config"]["augmentation"] == saved


def _pngs(response):
    assert response.status_code == 200, response.data
    decoded = []
    for sample in response.data["samples"]:
        raw = base64.b64decode(sample)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        decoded.append(np.asarray(PILImage.open(io.BytesIO(raw)).convert("RGB")))
    return decoded


def _tinted(rgb):
    """Pixels the drawing coloured (the image itself is grey)."""
    return (rgb[..., 0].astype(int) - rgb[..., 2].astype(int)) > 20


@pytest.mark.slow
def test_the_preview_draws_each_sample_with_its_labels_on_the_pixels(world, media_root):
    [(image_id, masks)] = _upload(world)
    client = world.client(world.admin)
    samples = _pngs(client.get(PREVIEW, {"image": image_id, "n": 3}))
    assert len(samples) == 3 and all(s.shape == (SIZE, SIZE, 3) for s in samples)

    # all ops off: the drawn labels sit exactly on the lesions
    off = client.get(PREVIEW, {"image": image_id, "n": 1, "settings": json.dumps(ALL_OFF)})
    assert off.data["settings"] == AugmentationSettings.from_json(ALL_OFF).to_json()
    [drawn] = _pngs(off)
    lesions = np.any(masks, axis=0)
    assert _tinted(drawn)[lesions].mean() > 0.95

    # a vertical flip, always: the labels are drawn on the flipped lesions
    flip = {**ALL_OFF, "vflip": {"enabled": True, "probability": 1.0}}
    [flipped] = _pngs(
        client.get(PREVIEW, {"image": image_id, "n": 1, "settings": json.dumps(flip)})
    )
    assert _tinted(flipped)[lesions[::-1]].mean() > 0.95
    assert not np.array_equal(_tinted(flipped), _tinted(drawn))


@pytest.mark.slow
def test_the_preview_uses_the_saved_settings_without_any_in_the_query(world, media_root):
    [(image_id, _)] = _upload(world)
    client = world.client(world.admin)
    client.put(URL, {"settings": ALL_OFF}, format="json")
    response = client.get(PREVIEW, {"image": image_id, "n": 2})
    a, b = _pngs(response)
    assert response.data["settings"] == AugmentationSettings.from_json(ALL_OFF).to_json()
    assert np.array_equal(a, b), "nothing random is on"


@pytest.mark.slow
def test_the_preview_is_for_admins_of_the_images_project(world, media_root):
    [(image_id, _)] = _upload(world)
    query = {"image": image_id, "n": 2}
    for role in ("annotator", "reviewer"):
        assert world.client(getattr(world, role)).get(PREVIEW, query).status_code == 403
    assert world.client(world.outsider).get(PREVIEW, query).status_code == 404
    # the outsider's own project does not reach another project's image
    other = f"/api/projects/{world.other_project.slug}/augmentation/preview/"
    assert world.client(world.outsider).get(other, query).status_code == 404
    admin = world.client(world.admin)
    assert admin.get(PREVIEW, {"image": 999999, "n": 2}).status_code == 404


@pytest.mark.slow
def test_the_preview_of_another_projects_image_is_not_found(world, media_root):
    from annotator.models import Membership

    [(image_id, _)] = _upload(world)
    Membership.objects.create(project=world.other_project, user=world.admin, role="admin")
    other = f"/api/projects/{world.other_project.slug}/augmentation/preview/"
    response = world.client(world.admin).get(other, {"image": image_id, "n": 2})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"n": 0}, "n is between 1 and 16"),
        ({"n": 17}, "n is between 1 and 16"),
        ({"n": "many"}, "n is an integer"),
        ({"settings": "{not json"}, "settings is not JSON"),
        ({"settings": json.dumps({"gamma": {"strength": 9}})}, "gamma.strength"),
    ],
)
@pytest.mark.slow
def test_the_preview_refuses_a_bad_count_or_bad_settings(world, media_root, query, named):
    [(image_id, _)] = _upload(world)
    response = world.client(world.admin).get(PREVIEW, {"image": image_id, **query})
    assert response.status_code == 400
    assert named in response.data["detail"]


def test_the_preview_needs_an_image(world):
    response = world.client(world.admin).get(PREVIEW, {"n": 2})
    assert response.status_code == 400 and "image" in response.data["detail"]
