import uuid

import numpy as np
import pytest

from annotator import coco
from annotator.models import Annotation, AnnotationStatus, AuditEvent, Image, ImageStatus
from tests import factories


def _rle(rows: int, cols: int) -> dict:
    mask = np.zeros((rows, cols), dtype=np.uint8)
    mask[10:20, 5:15] = 1
    return coco.encode_mask(mask)


@pytest.fixture
def image(world):
    return factories.ImageFactory(instance__series__study__patient__project=world.project)


def test_create_then_retry_with_same_client_key_returns_one_row(world, image):
    client = world.client(world.annotator)
    body = {
        "client_key": str(uuid.uuid4()),
        "label_class": world.instance_class.pk,
        "box": [1, 2, 30, 40],
        "mask": _rle(64, 64),
    }
    first = client.post(f"/api/images/{image.pk}/annotations/", body, format="json")
    retry = client.post(f"/api/images/{image.pk}/annotations/", body, format="json")
    assert first.status_code == 201, first.data
    assert retry.status_code == 200
    assert retry.data["id"] == first.data["id"]
    assert Annotation.objects.filter(image=image).count() == 1
    assert first["ETag"] == '"1"'
    image.refresh_from_db()
    assert image.status == ImageStatus.IN_PROGRESS


def test_stale_if_match_gets_412_with_the_current_state(world, image):
    annotation = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    a, b = world.client(world.annotator), world.client(world.reviewer)
    first = a.patch(
        f"/api/annotations/{annotation.pk}/",
        {"box": [0, 0, 5, 5]},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    second = b.patch(
        f"/api/annotations/{annotation.pk}/",
        {"box": [9, 9, 5, 5]},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert first.status_code == 200 and first.data["version"] == 2
    assert second.status_code == 412
    assert second.data["code"] == "version_conflict"
    assert second.data["current"]["box"] == [0, 0, 5, 5]
    assert second.data["current"]["version"] == 2
    annotation.refresh_from_db()
    assert annotation.box == [0, 0, 5, 5]


def test_stale_body_version_gets_409_and_missing_version_428(world, image):
    annotation = factories.AnnotationFactory(
        image=image, label_class=world.instance_class, version=3
    )
    client = world.client(world.annotator)
    stale = client.patch(
        f"/api/annotations/{annotation.pk}/", {"version": 2, "status": "accepted"}, format="json"
    )
    missing = client.patch(
        f"/api/annotations/{annotation.pk}/", {"status": "accepted"}, format="json"
    )
    assert stale.status_code == 409 and stale.data["current"]["version"] == 3
    assert missing.status_code == 428 and missing.data["code"] == "version_required"


def test_bulk_accept_changes_only_proposals_and_audits_each(world, image):
    proposals = factories.AnnotationFactory.create_batch(
        3, image=image, label_class=world.instance_class
    )
    rejected = factories.AnnotationFactory(
        image=image, label_class=world.instance_class, status=AnnotationStatus.REJECTED
    )
    response = world.client(world.annotator).post(
        f"/api/images/{image.pk}/annotations/bulk/", {"action": "accept"}, format="json"
    )
    assert response.status_code == 200
    assert sorted(a["id"] for a in response.data["updated"]) == sorted(p.pk for p in proposals)
    rejected.refresh_from_db()
    assert rejected.status == AnnotationStatus.REJECTED
    assert AuditEvent.objects.filter(action="annotation.accepted").count() == 3


def test_invalid_shapes_are_refused_with_a_code(world, image):
    client = world.client(world.annotator)
    base = {"client_key": str(uuid.uuid4()), "label_class": world.instance_class.pk}
    outside = client.post(
        f"/api/images/{image.pk}/annotations/", {**base, "box": [60, 60, 10, 10]}, format="json"
    )
    bad_mask = client.post(
        f"/api/images/{image.pk}/annotations/",
        {**base, "box": [1, 1, 2, 2], "mask": {"size": [32, 32], "counts": "x"}},
        format="json",
    )
    tag = client.post(
        f"/api/images/{image.pk}/annotations/",
        {**base, "label_class": world.tag_class.pk, "box": [1, 1, 2, 2]},
        format="json",
    )
    assert (outside.status_code, outside.data["code"]) == (400, "invalid_box")
    assert (bad_mask.status_code, bad_mask.data["code"]) == (400, "invalid_mask")
    assert (tag.status_code, tag.data["code"]) == (400, "invalid_label_class")
    endless = client.post(
        f"/api/images/{image.pk}/annotations/",
        {**base, "box": [1, 1, 2, 2], "mask": {"size": [64, 64], "counts": "P" * 400_000}},
        format="json",
    )
    assert (endless.status_code, endless.data["code"]) == (400, "invalid_mask")
    assert not Annotation.objects.exists()


def test_delete_needs_the_current_version_and_keeps_history(world, image):
    annotation = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    client = world.client(world.annotator)
    stale = client.delete(f"/api/annotations/{annotation.pk}/", HTTP_IF_MATCH='"7"')
    ok = client.delete(f"/api/annotations/{annotation.pk}/", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert ok.status_code == 204
    event = AuditEvent.objects.get(action="annotation.deleted")
    assert event.before["box"] == annotation.box


@pytest.mark.parametrize("status", ["in_progress", "done", "proposed", "unlabelled"])
def test_an_annotator_cannot_reopen_a_reviewed_image(world, image, status):
    Image.objects.filter(pk=image.pk).update(status=ImageStatus.REVIEWED)
    response = world.client(world.annotator).patch(
        f"/api/images/{image.pk}/", {"status": status}, format="json"
    )
    assert response.status_code == 403, response.data
    assert response.data["code"] == "image_reviewed"
    image.refresh_from_db()
    assert image.status == ImageStatus.REVIEWED
    assert not AuditEvent.objects.filter(action="image.status_changed").exists()


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_a_reviewer_or_admin_reopens_a_reviewed_image(world, image, role):
    Image.objects.filter(pk=image.pk).update(status=ImageStatus.REVIEWED)
    client = world.client(getattr(world, role))
    response = client.patch(f"/api/images/{image.pk}/", {"status": "in_progress"}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "in_progress"
    again = world.client(world.annotator).patch(
        f"/api/images/{image.pk}/", {"status": "done"}, format="json"
    )
    assert again.status_code == 200, again.data


def test_undoing_done_on_an_untouched_image_restores_proposed(world, image):
    proposal = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    client = world.client(world.annotator)
    done = client.patch(f"/api/images/{image.pk}/", {"status": "done"}, format="json")
    back = client.patch(f"/api/images/{image.pk}/", {"status": "proposed"}, format="json")
    assert (done.status_code, back.status_code) == (200, 200), back.data
    assert back.data["status"] == "proposed"
    wrong = client.patch(f"/api/images/{image.pk}/", {"status": "unlabelled"}, format="json")
    assert wrong.status_code == 400 and "it is 'proposed'" in wrong.data["detail"]

    Annotation.objects.filter(pk=proposal.pk).update(
        status=AnnotationStatus.ACCEPTED, touched_by_human=True
    )
    labelled = client.patch(f"/api/images/{image.pk}/", {"status": "proposed"}, format="json")
    assert labelled.status_code == 400 and labelled.data["code"] == "invalid_status"
    assert "a person has labelled it" in labelled.data["detail"]
    image.refresh_from_db()
    assert image.status == ImageStatus.PROPOSED


def test_each_version_says_who_wrote_it(world, image):
    annotation = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    client = world.client(world.annotator)
    assert client.get(f"/api/annotations/{annotation.pk}/").data["updated_by"] is None
    saved = client.patch(
        f"/api/annotations/{annotation.pk}/",
        {"status": "accepted"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert saved.data["updated_by"] == world.annotator.username
    listed = client.get(f"/api/images/{image.pk}/annotations/").data
    assert [a["updated_by"] for a in listed] == [world.annotator.username]
