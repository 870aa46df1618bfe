"""Reader agreement through the HTTP API: two readers submit the same image, a reviewer
accepts the final set, and the figures are the ones worked out by hand below."""

import numpy as np
import pytest

from annotator import coco
from annotator.models import Annotation, AnnotationStatus, Image, ImageStatus, Role
from tests import factories


def _square(x: int, y: int, side: int = 10, size: int = 64) -> dict:
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[y : y + side, x : x + side] = 1
    return coco.encode_mask(mask)


def _status(client, image, status):
    response = client.patch(f"/api/images/{image.pk}/", {"status": status}, format="json")
    assert response.status_code == 200, response.data
    return response


@pytest.fixture
def read_twice(world):
    """Reader A submits a 10x10 square at (10, 10) and the tag; an admin reopens the image,
    reader B moves the square to (15, 10) and clears the tag, submits; the reviewer accepts
    B's version as the final set."""
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    second = factories.UserFactory(username="annotator-two")
    factories.MembershipFactory(project=world.project, user=second, role=Role.ANNOTATOR)
    label = factories.AnnotationFactory(
        image=image,
        label_class=world.instance_class,
        status=AnnotationStatus.ACCEPTED,
        mask=_square(10, 10),
        box_x=10,
        box_y=10,
        box_w=10,
        box_h=10,
    )
    image.tags.set([world.tag_class])
    _status(world.client(world.annotator), image, "done")
    _status(world.client(world.admin), image, "in_progress")
    Annotation.objects.filter(pk=label.pk).update(mask=_square(15, 10), box_x=15)
    image.tags.set([])
    _status(world.client(second), image, "done")
    accepted = world.client(world.reviewer).post(
        f"/api/images/{image.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert accepted.status_code == 200, accepted.data
    return image


def _agreement(client, world, query=""):
    return client.get(f"/api/projects/{world.project.slug}/agreement/{query}")


def test_each_reader_against_the_final_set_and_the_pair(world, read_twice):
    response = _agreement(world.client(world.reviewer), world)
    assert response.status_code == 200, response.data
    body = response.data
    assert body["final_images"] == 1
    first, second = body["readers"]
    assert (first["reader"], second["reader"]) == ("annotator-two", "annotator-user")
    # B's square is the final square: one match, IoU 1, Dice 1, F1 = 2*1/(1+1) = 1
    b = first["against_final"]
    assert b["images"] == 1
    assert b["lesions"]["matched"] == 1 and b["lesions"]["f1"] == pytest.approx(1.0)
    assert b["lesions"]["mean_dice"] == pytest.approx(1.0)
    # A's square overlaps the final one in 5x10 = 50 px of 150: IoU 1/3 < 0.5, no match, F1 0
    a = second["against_final"]
    assert a["lesions"]["matched"] == 0 and a["lesions"]["f1"] == pytest.approx(0.0)
    assert a["lesions"]["mean_dice"] is None
    # tag: A said present, the final set absent: p_o 0, p_e = 1*0 + 0*1 = 0, kappa 0;
    # B and the final set both absent on the one image: p_e 1, kappa undefined
    assert a["tags"]["normal"] == {"kappa": pytest.approx(0.0), "images": 1}
    assert b["tags"]["normal"] == {"kappa": None, "images": 1}
    [pair] = body["pairs"]
    assert pair["readers"] == ["annotator-two", "annotator-user"]
    assert pair["images"] == 1 and pair["lesions"]["f1"] == pytest.approx(0.0)
    assert body["fleiss"]["images"] == 0 and "three or more" in body["fleiss"]["not_measured"]


def test_filters_narrow_the_reads(world, read_twice):
    client = world.client(world.admin)
    one = _agreement(client, world, "?reader=annotator-user").data
    assert [r["reader"] for r in one["readers"]] == ["annotator-user"] and one["pairs"] == []
    one_image = _agreement(client, world, f"?image={read_twice.pk}").data
    assert [p["images"] for p in one_image["pairs"]] == [1]
    other = factories.ImageFactory(instance__series__study__patient__project=world.project)
    assert _agreement(client, world, f"?image={other.pk}").data["readers"] == []
    later = _agreement(client, world, "?from=2999-01-01").data
    assert later["readers"] == [] and later["final_images"] == 0
    other_class = factories.LabelClassFactory(project=world.project, name="mass")
    by_class = _agreement(client, world, f"?label_class={other_class.pk}").data
    # no lesion of that class on either side: F1 undefined, not 1 or 0
    assert by_class["readers"][0]["against_final"]["lesions"]["f1"] is None


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("?colour=red", "unknown_filter_field", "colour"),
        ("?label_class=abc", "invalid_filter", "'abc' is not a class of this project"),
        ("?from=yesterday", "invalid_filter", "from is a date"),
        ("?image=x", "invalid_filter", "image is an image id"),
    ],
)
def test_bad_filters_are_named(world, read_twice, query, code, words):
    response = _agreement(world.client(world.reviewer), world, query)
    assert (response.status_code, response.data["code"]) == (400, code)
    assert words in response.data["detail"]


def test_only_reviewers_and_admins_see_agreement(world, read_twice):
    assert _agreement(world.client(world.annotator), world).status_code == 403
    assert _agreement(world.client(world.outsider), world).status_code == 404
    assert _agreement(world.client(), world).status_code in (401, 403)


def test_a_submission_keeps_the_labels_and_tags_it_had(world, read_twice):
    reads = list(read_twice.reads.order_by("submitted_at", "id"))
    assert [r.reader.username for r in reads] == ["annotator-user", "annotator-two"]
    assert [r.tags for r in reads] == [[world.tag_class.pk], []]
    assert reads[0].annotations[0]["box"] == [10.0, 10.0, 10.0, 10.0]
    assert Image.objects.get(pk=read_twice.pk).status == ImageStatus.REVIEWED


def test_the_reviewer_lists_the_images_whose_readers_disagree(world, read_twice):
    agreed = factories.ImageFactory(instance__series__study__patient__project=world.project)
    second = world.project.memberships.get(user__username="annotator-two").user
    _status(world.client(world.annotator), agreed, "done")
    _status(world.client(world.admin), agreed, "in_progress")
    single = factories.ImageFactory(instance__series__study__patient__project=world.project)
    _status(world.client(second), agreed, "done")
    _status(world.client(second), single, "done")
    client = world.client(world.reviewer)
    url = f"/api/projects/{world.project.slug}/images/"
    disagree = client.get(f"{url}?readers_disagree=true").data["results"]
    agree = client.get(f"{url}?readers_disagree=false").data["results"]
    # the moved square (IoU 1/3) and the cleared tag; two empty reads agree; one read: neither
    assert [r["id"] for r in disagree] == [read_twice.pk]
    assert [r["id"] for r in agree] == [agreed.pk]
    bad = client.get(f"{url}?readers_disagree=maybe")
    assert (bad.status_code, bad.data["code"]) == (400, "invalid_filter")
