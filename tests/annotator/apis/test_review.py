"""Second reading through the HTTP API: submit, accept, return with a comment, reopen, and
leases that keep two readers' Next apart."""

from datetime import timedelta
from threading import Barrier, Thread

import pytest
from django.db import connection
from django.utils import timezone

from annotator.models import AuditEvent, Image, ImageStatus, Membership, Role
from tests import factories


@pytest.fixture
def images(world):
    return [
        factories.ImageFactory(instance__series__study__patient__project=world.project)
        for _ in range(4)
    ]


def _status(client, image, status):
    return client.patch(f"/api/images/{image.pk}/", {"status": status}, format="json")


def _review(client, image, **body):
    return client.post(f"/api/images/{image.pk}/review/", body, format="json")


def _next(client, world, after=None, **filters):
    query = "&".join(
        f"{k}={v}" for k, v in {**filters, **({"after": after} if after else {})}.items()
    )
    return client.post(f"/api/projects/{world.project.slug}/next/?{query}")


def _second_annotator(world):
    user = factories.UserFactory(username="annotator-two")
    factories.MembershipFactory(project=world.project, user=user, role=Role.ANNOTATOR)
    return user


def _actions(image):
    return list(
        AuditEvent.objects.filter(object_type="image", object_id=str(image.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_done_submits_and_a_reviewer_accepts_which_locks_the_labels(world, images):
    image = images[0]
    annotator = world.client(world.annotator)
    factories.AnnotationFactory(image=image, label_class=world.instance_class)
    assert _status(annotator, image, "done").status_code == 200
    image.refresh_from_db()
    assert image.submitted_by == world.annotator

    accepted = _review(world.client(world.reviewer), image, decision="accept")
    assert accepted.status_code == 200, accepted.data
    assert (accepted.data["status"], accepted.data["reviewed_by"]) == ("reviewed", "reviewer-user")
    assert accepted.data["submitted_by"] == "annotator-user"

    box = {"client_key": "6f0c1c2e-2f1e-4b7e-9a43-0a4f3b1f6d11", "box": [1, 1, 8, 8]}
    for who in (world.annotator, world.reviewer, world.admin):
        locked = world.client(who).post(
            f"/api/images/{image.pk}/annotations/",
            {**box, "label_class": world.instance_class.pk},
            format="json",
        )
        assert (locked.status_code, locked.data["code"]) == (403, "image_reviewed")
    refused = _status(annotator, image, "in_progress")
    assert (refused.status_code, refused.data["code"]) == (403, "image_reviewed")

    reopened = _status(world.client(world.reviewer), image, "in_progress")
    assert reopened.status_code == 200, reopened.data
    after = world.client(world.reviewer).post(
        f"/api/images/{image.pk}/annotations/",
        {**box, "label_class": world.instance_class.pk},
        format="json",
    )
    assert after.status_code == 201, after.data
    assert _actions(image) == [
        "image.status_changed",
        "image.review_accepted",
        "image.reopened",
        "image.status_changed",
    ]


def test_only_a_submitted_image_is_accepted_and_only_by_a_reviewer_or_admin(world, images):
    image = images[0]
    early = _review(world.client(world.reviewer), image, decision="accept")
    assert (early.status_code, early.data["code"]) == (400, "invalid_transition")
    assert "'unlabelled'" in early.data["detail"]
    _status(world.client(world.annotator), image, "done")
    annotator = _review(world.client(world.annotator), image, decision="accept")
    assert (annotator.status_code, annotator.data["code"]) == (403, "permission_denied")
    via_patch = _status(world.client(world.annotator), image, "reviewed")
    assert via_patch.status_code == 403
    outsider = _review(world.client(world.outsider), image, decision="accept")
    missing = _review(world.client(world.outsider), Image(pk=image.pk + 1000), decision="accept")
    assert outsider.status_code == missing.status_code == 404
    assert outsider.data == missing.data
    image.refresh_from_db()
    assert image.status == ImageStatus.DONE
    assert _review(world.client(world.admin), image, decision="accept").status_code == 200


def test_a_returned_image_heads_its_annotators_worklist_with_the_comment(world, images):
    annotator = world.client(world.annotator)
    returned = images[2]
    label = factories.AnnotationFactory(image=returned, label_class=world.instance_class)
    for image in images:
        _status(annotator, image, "done")
    body = {
        "decision": "return",
        "comment": "The box misses the lower lobe.",
        "annotation": label.pk,
    }
    response = _review(world.client(world.reviewer), returned, **body)
    assert response.status_code == 200, response.data
    assert response.data["status"] == "returned"
    [comment] = response.data["comments"]
    assert (comment["annotation"], comment["author"]) == (label.pk, "reviewer-user")
    assert comment["body"] == "The box misses the lower lobe."

    listing = annotator.get(f"/api/projects/{world.project.slug}/images/?ordering=id")
    assert [row["id"] for row in listing.data["results"]][0] == returned.pk
    another = world.client(_second_annotator(world))
    others = another.get(f"/api/projects/{world.project.slug}/images/?ordering=id")
    assert [row["id"] for row in others.data["results"]] == [i.pk for i in images]
    assert _next(another, world).data["image"] != returned.pk
    detail = annotator.get(f"/api/images/{returned.pk}/")
    assert detail.data["review"]["comments"][0]["annotation"] == label.pk
    assert _next(annotator, world).data["image"] == returned.pk

    assert _status(annotator, returned, "done").status_code == 200
    assert _review(world.client(world.reviewer), returned, decision="accept").status_code == 200
    assert "image.review_returned" in _actions(returned)
    assert AuditEvent.objects.filter(action="review.comment_added").count() == 1


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"decision": "return"}, "empty_comment", "needs a comment"),
        ({"decision": "return", "comment": "   "}, "empty_comment", "needs words"),
        ({"decision": "return", "comment": "x" * 2001}, "comment_too_long", "this one has 2001"),
        (
            {"decision": "return", "comment": "see", "annotation": 999999},
            "unknown_annotation",
            "No annotation 999999",
        ),
        ({"decision": "maybe"}, "invalid", "is not a valid choice"),
        ({"decision": "accept", "extra": 1}, "invalid", "Unknown field"),
    ],
)
def test_a_bad_return_is_refused_whole(world, images, body, code, words):
    image = images[0]
    _status(world.client(world.annotator), image, "done")
    response = _review(world.client(world.reviewer), image, **body)
    assert response.status_code == 400, response.data
    assert response.data["code"] == code, response.data
    assert words in str(response.data)
    image.refresh_from_db()
    assert image.status == ImageStatus.DONE
    assert not image.review_comments.exists()


def test_only_reviewers_return_and_an_unsubmitted_image_cannot_be(world, images):
    image = images[0]
    early = _review(world.client(world.reviewer), image, decision="return", comment="why")
    assert (early.status_code, early.data["code"]) == (400, "invalid_transition")
    _status(world.client(world.annotator), image, "done")
    refused = _review(world.client(world.annotator), image, decision="return", comment="why")
    assert refused.status_code == 403
    patched = _status(world.client(world.reviewer), image, "returned")
    assert (patched.status_code, patched.data["code"]) == (400, "invalid_status")
    assert not image.review_comments.exists()


def test_an_annotator_answers_a_comment(world, images):
    image = images[0]
    annotator = world.client(world.annotator)
    answered = annotator.post(
        f"/api/images/{image.pk}/comments/", {"body": "Redrawn."}, format="json"
    )
    assert answered.status_code == 201, answered.data
    assert [c["author"] for c in answered.data] == ["annotator-user"]
    outsider = world.client(world.outsider).get(f"/api/images/{image.pk}/comments/")
    assert outsider.status_code == 404


def test_two_readers_next_never_give_the_same_image(world, images):
    first, second = world.client(world.annotator), world.client(_second_annotator(world))
    a = _next(first, world).data["image"]
    b = _next(second, world).data["image"]
    assert (a, b) == (images[0].pk, images[1].pk)
    # the second reader leaves their image: Next skips the one the first reader holds
    c = _next(second, world, after=b).data["image"]
    assert c == images[2].pk
    held = second.put(f"/api/images/{a}/lease/")
    assert (held.status_code, held.data["code"]) == (409, "image_leased")
    assert "annotator-user is reading this image" in held.data["detail"]
    # only the last lease a reader took holds: their earlier image is free again
    assert Image.objects.get(pk=b).leased_to is None
    # every lease Next took is audited, the refused one is not
    assert _actions(images[0]) == ["image.leased"]
    assert _actions(images[2]) == ["image.leased"]


def test_an_expired_lease_frees_the_image(world, images):
    first, second = world.client(world.annotator), world.client(_second_annotator(world))
    assert first.put(f"/api/images/{images[0].pk}/lease/").status_code == 200
    Image.objects.filter(pk=images[0].pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _next(second, world).data["image"] == images[0].pk
    renewed = second.put(f"/api/images/{images[0].pk}/lease/")
    assert renewed.status_code == 200 and renewed.data["leased_to"] == "annotator-two"
    assert "image.leased" in _actions(images[0])
    assert second.delete(f"/api/images/{images[0].pk}/lease/").status_code == 204
    assert first.put(f"/api/images/{images[0].pk}/lease/").status_code == 200


def test_next_at_the_end_of_the_list_is_none_and_done_images_are_left_last(world, images):
    client = world.client(world.annotator)
    _status(client, images[0], "done")
    assert _next(client, world, ordering="unlabelled_first").data["image"] == images[1].pk
    end = _next(client, world, after=images[3].pk, ordering="id")
    assert end.status_code == 200 and end.data["image"] is None
    bad = _next(client, world, after="x")
    assert (bad.status_code, bad.data["code"]) == (400, "invalid_filter")
    unknown = _next(client, world, colour="red")
    assert (unknown.status_code, unknown.data["code"]) == (400, "unknown_filter_field")
    assert (
        world.client(world.outsider).post(f"/api/projects/{world.project.slug}/next/").status_code
        == 404
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_readers_asking_next_at_the_same_moment_get_different_images(world, images):
    readers = [world.annotator, _second_annotator(world)]
    for n in range(3, 6):
        user = factories.UserFactory(username=f"annotator-{n}")
        Membership.objects.create(project=world.project, user=user, role=Role.ANNOTATOR)
        readers.append(user)
    barrier = Barrier(len(readers))
    got: list[int | None] = []

    def ask(user):
        barrier.wait()
        got.append(_next(world.client(user), world).data["image"])
        connection.close()

    threads = [Thread(target=ask, args=(user,)) for user in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    given = [g for g in got if g is not None]
    assert len(given) == len(set(given)) == len(images)
    assert got.count(None) == len(readers) - len(images)


def test_next_goes_from_any_frame_of_a_grouped_instance_to_the_next_row(world, images):
    multi = factories.InstanceFactory(
        series__study__patient__project=world.project, number_of_frames=3
    )
    frames = [factories.ImageFactory(instance=multi, frame_number=n) for n in (1, 2, 3)]
    client = world.client(world.annotator)
    rows = [images[0].pk, images[1].pk, images[2].pk, images[3].pk, frames[0].pk]
    listed = client.get(f"/api/projects/{world.project.slug}/images/?group=instance&ordering=id")
    assert [row["id"] for row in listed.data["results"]] == rows
    after_frame = _next(client, world, after=frames[1].pk, group="instance", ordering="id")
    assert after_frame.data["image"] is None  # the instance is the last row
    after_first = _next(client, world, after=images[3].pk, group="instance", ordering="id")
    assert after_first.data["image"] == frames[0].pk
    # an image the filter no longer lists (now done): the first row not done
    _status(client, images[0], "done")
    left = _next(client, world, after=images[0].pk, status="unlabelled", ordering="id")
    assert left.data["image"] == images[1].pk


def test_next_under_a_not_done_first_order_goes_from_a_now_done_image_to_the_first_not_done(
    world, images
):
    client = world.client(world.annotator)
    _status(client, images[2], "done")
    # images[2] now sorts among the done ones: Next from it is the first image not done
    given = _next(client, world, after=images[2].pk, ordering="unlabelled_first").data
    assert given["image"] == images[0].pk
    leased = Image.objects.get(pk=images[0].pk)
    assert leased.leased_to == world.annotator and given["lease_expires_at"] is not None
    # an image not yet done: the next row
    assert (
        _next(client, world, after=images[0].pk, ordering="unlabelled_first").data["image"]
        == images[1].pk
    )
    for image in images:
        _status(client, image, "done")
    # all done: the next row
    assert (
        _next(client, world, after=images[1].pk, ordering="unlabelled_first").data["image"]
        == images[2].pk
    )
