"""Box → mask through the HTTP API: the classical engine on a synthetic lesion of a real CT slice,
who may ask, bad boxes, classes and windows, and every reason the model engine is passed over."""

import io
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from annotator import coco
from annotator.models import Annotation, Image, ImageStatus, ModelVersionStatus, WorkerHeartbeat
from annotator.services import studies
from radlabel.demo.dicom import lesion_slices
from tests import factories

SIZE = 128


@pytest.fixture(scope="module")
def lesion():
    """A 128² synthetic-lesion CT slice (the demo window is its default) and its first lesion."""
    [lesion_slice] = lesion_slices(1, 1, seed=9, size=SIZE)
    return lesion_slice.data, lesion_slice.masks[0].astype(bool)


@pytest.fixture
def image(world, lesion):
    [outcome] = studies.upload_ingest(
        project=world.project, actor=None, files=[("ct.dcm", io.BytesIO(lesion[0]))]
    )
    assert outcome.ok, outcome.as_dict()
    return Image.objects.get(pk=outcome.image_ids[0])


def _drawn_box(mask):
    """The lesion's box as a person draws it: a little loose on two sides, tight on two."""
    ys, xs = np.nonzero(mask)
    w, h = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    return [
        float(xs.min() - 0.08 * w),
        float(ys.min()),
        float(xs.max() + 1 + 0.05 * w),
        float(ys.max() + 1 - 0.05 * h),
    ]


def _segment(world, user, image, **body):
    return world.client(user).post(f"/api/images/{image.pk}/segment/", body, format="json")


def _dice(rle, truth):
    found = coco.decode_mask(rle).astype(bool)
    return 2 * (found & truth).sum() / (found.sum() + truth.sum())


def test_classical_engine_fits_the_lesion_and_the_result_saves_as_an_assist_annotation(
    world, image, lesion
):
    truth = lesion[1]
    response = _segment(
        world,
        world.annotator,
        image,
        box=_drawn_box(truth),
        label_class=world.instance_class.pk,
    )
    assert response.status_code == 200, response.data
    body = response.data
    assert body["engine"] == "classical"
    assert body["model_version"] is None and body["score"] is None
    assert body["note"] == "This project has no active model yet: the classical engine answered."
    assert body["mask"]["size"] == [SIZE, SIZE]
    assert _dice(body["mask"], truth) >= 0.7
    assert body["box"] == coco.bbox_of_mask(body["mask"])
    assert body["ms"] > 0
    assert not Annotation.objects.exists(), "segmenting stores nothing"

    saved = world.client(world.annotator).post(
        f"/api/images/{image.pk}/annotations/",
        {
            "client_key": str(uuid.uuid4()),
            "label_class": world.instance_class.pk,
            "box": body["box"],
            "mask": body["mask"],
            "source": "assist",
        },
        format="json",
    )
    assert saved.status_code == 201, saved.data
    assert saved.data["source"] == "assist"
    assert Annotation.objects.get().source == "assist"


def test_a_person_cannot_save_an_annotation_as_the_models(world, image):
    response = world.client(world.annotator).post(
        f"/api/images/{image.pk}/annotations/",
        {
            "client_key": str(uuid.uuid4()),
            "label_class": world.instance_class.pk,
            "box": [1, 1, 5, 5],
            "source": "model",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "source" in response.data["errors"]


def test_the_window_sent_is_the_one_segmented(world, image, lesion):
    box = _drawn_box(lesion[1])
    shown = _segment(world, world.annotator, image, box=box, label_class=world.instance_class.pk)
    # every value of the slice is far above this window: a flat white box holds no lesion
    blank = _segment(
        world,
        world.annotator,
        image,
        box=box,
        label_class=world.instance_class.pk,
        window=[-5000, 10],
    )
    assert blank.status_code == 200, blank.data
    assert coco.mask_area(shown.data["mask"]) > 0 == coco.mask_area(blank.data["mask"])
    assert blank.data["box"] == [box[0], box[1], box[2] - box[0], box[3] - box[1]]


@pytest.mark.parametrize("role", ["annotator", "reviewer", "admin"])
def test_every_labeller_may_segment(world, image, role):
    response = _segment(
        world,
        getattr(world, role),
        image,
        box=[10, 10, 40, 40],
        label_class=world.instance_class.pk,
    )
    assert response.status_code == 200, response.data


def test_another_projects_image_is_not_found_like_a_missing_one(world, image):
    body = {"box": [10, 10, 40, 40], "label_class": world.instance_class.pk}
    outsider = _segment(world, world.outsider, image, **body)
    missing = world.client(world.outsider).post(
        f"/api/images/{image.pk + 1000}/segment/", body, format="json"
    )
    assert outsider.status_code == missing.status_code == 404
    assert outsider.data == missing.data
    assert world.client().post(f"/api/images/{image.pk}/segment/", body).status_code in (401, 403)


def test_a_reviewed_image_is_segmented_only_once_a_reviewer_reopens_it(world, image):
    Image.objects.filter(pk=image.pk).update(status=ImageStatus.REVIEWED)
    body = {"box": [10, 10, 40, 40], "label_class": world.instance_class.pk}
    for who in (world.annotator, world.reviewer):
        locked = _segment(world, who, image, **body)
        assert locked.status_code == 403 and locked.data["code"] == "image_reviewed"
    reopen = world.client(world.reviewer).patch(
        f"/api/images/{image.pk}/", {"status": "in_progress"}, format="json"
    )
    assert reopen.status_code == 200
    assert _segment(world, world.annotator, image, **body).status_code == 200


@pytest.mark.parametrize(
    ("box", "code", "words"),
    [
        ([-5, 10, 40, 40], "invalid_box", "outside the 128x128 image"),
        ([10, 10, 40, 129], "invalid_box", "outside the 128x128 image"),
        ([10, 10, 10, 40], "invalid_box", "has no area"),
        ([40, 40, 10, 10], "invalid_box", "has no area"),
        ([10, 10, 11, 40], "invalid_box", "each side is at least 2 px"),
        ([0, 0, 128, 128], "box_too_large", "50% of the image's area"),
    ],
)
def test_bad_boxes_get_400_naming_the_problem(world, image, box, code, words):
    response = _segment(world, world.annotator, image, box=box, label_class=world.instance_class.pk)
    assert response.status_code == 400
    assert response.data["code"] == code and words in response.data["detail"]


def test_malformed_requests_get_400_naming_the_field(world, image):
    for body, field in (
        ({"box": [1, 2, 3], "label_class": world.instance_class.pk}, "box"),
        ({"box": ["a", 2, 3, 4], "label_class": world.instance_class.pk}, "box"),
        ({"box": [1, 2, 30, 40]}, "label_class"),
        ({"box": [1, 2, 30, 40], "label_class": world.instance_class.pk, "window": [40]}, "window"),
    ):
        response = _segment(world, world.annotator, image, **body)
        assert response.status_code == 400, body
        assert field in response.data["errors"], body


def test_a_window_without_width_is_refused(world, image):
    response = _segment(
        world,
        world.annotator,
        image,
        box=[10, 10, 40, 40],
        label_class=world.instance_class.pk,
        window=[40, 0],
    )
    assert response.status_code == 400
    assert response.data["code"] == "invalid_window" and "width > 0" in response.data["detail"]


def test_a_tag_class_or_another_projects_class_is_refused(world, image):
    other = factories.LabelClassFactory(project=world.other_project, name="elsewhere")
    for label_class in (world.tag_class, other):
        response = _segment(
            world, world.annotator, image, box=[10, 10, 40, 40], label_class=label_class.pk
        )
        assert response.status_code == 400
        assert response.data["code"] == "invalid_label_class"
        assert str(label_class.pk) in response.data["detail"]


def _active_version(world, **fields):
    return factories.ModelVersionFactory(
        project=world.project,
        status=ModelVersionStatus.ACTIVE,
        class_map={"1": world.instance_class.pk},
        training_data={"modalities": ["CT"]},
        **fields,
    )


def _note(world, image):
    response = _segment(
        world, world.annotator, image, box=[10, 10, 40, 40], label_class=world.instance_class.pk
    )
    assert response.status_code == 200, response.data
    assert response.data["engine"] == "classical" and response.data["model_version"] is None
    return response.data["note"]


def test_the_classical_engine_answers_when_the_active_model_cannot(world, image):
    version = _active_version(world)
    assert _note(world, image) == (
        "No worker serves the interactive queue: the classical engine answered."
    )
    version.training_data = {"modalities": ["MR"]}
    version.save()
    assert _note(world, image).startswith(
        f"The active model v{version.number} was not trained on CT"
    )
    version.training_data, version.class_map = {"modalities": ["CT"]}, {"1": world.tag_class.pk}
    version.save()
    assert _note(world, image).startswith(
        f"The active model v{version.number} was not trained on 'nodule'"
    )


@pytest.mark.django_db(transaction=True)
def test_a_silent_interactive_worker_falls_back_after_the_timeout(world, image, broker):
    _active_version(world)
    now = timezone.now()
    # a worker that said it serves the queue, then died without a word
    WorkerHeartbeat.objects.create(
        hostname="gone@host",
        queues=["interactive"],
        started_at=now - timedelta(minutes=5),
        last_seen=now - timedelta(seconds=20),
    )
    response = _segment(
        world, world.annotator, image, box=[10, 10, 40, 40], label_class=world.instance_class.pk
    )
    assert response.status_code == 200, response.data
    assert response.data["engine"] == "classical"
    assert response.data["note"] == (
        "No interactive worker answered within 2 s: the classical engine answered."
    )
    assert 2000 <= response.data["ms"] < 4000
