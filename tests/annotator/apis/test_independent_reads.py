"""Blinded independent reads through the HTTP API: with two reads per image, each annotator
reads it from where the model left it, sees nothing of the other's, and the image waits for a
reviewer when both are in; unassisted reads hide the model from annotators."""

import uuid

import pytest

from annotator.models import (
    Annotation,
    AnnotationStatus,
    AuditEvent,
    Image,
    ProposalOutcome,
    Role,
    TagSuggestion,
)
from tests import factories


@pytest.fixture
def two_reads(world):
    world.project.reads_per_image = 2
    world.project.save()
    second = factories.UserFactory(username="annotator-two")
    factories.MembershipFactory(project=world.project, user=second, role=Role.ANNOTATOR)
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    proposal = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    ProposalOutcome.objects.create(
        project=world.project,
        image=image,
        annotation=proposal,
        source="model",
        label_class=world.instance_class,
        box=proposal.box,
    )
    Image.objects.filter(pk=image.pk).update(status="proposed")
    image.refresh_from_db()
    return world, second, image, proposal


def _draw(client, image, world, box):
    body = {"client_key": str(uuid.uuid4()), "label_class": world.instance_class.pk, "box": box}
    response = client.post(f"/api/images/{image.pk}/annotations/", body, format="json")
    assert response.status_code == 201, response.data
    return response.data


def _done(client, image):
    return client.patch(f"/api/images/{image.pk}/", {"status": "done"}, format="json")


def test_the_second_reader_sees_nothing_of_the_first_and_the_image_then_waits(two_reads):
    world, second, image, proposal = two_reads
    first = world.client(world.annotator)
    drawn = _draw(first, image, world, [5, 5, 10, 10])
    moved = first.patch(
        f"/api/annotations/{proposal.pk}/",
        {"status": "accepted", "box": [20, 20, 12, 12]},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert moved.status_code == 200, moved.data
    image.tags.set([world.tag_class])
    done = _done(first, image)
    assert done.status_code == 200, done.data
    assert done.data["status"] == "proposed"  # back where the first reader started

    other = world.client(second)
    assert other.post(f"/api/projects/{world.project.slug}/next/").data["image"] == image.pk
    listed = other.get(f"/api/images/{image.pk}/annotations/").data
    assert [a["id"] for a in listed] == [proposal.pk]  # not the first reader's box
    [shown] = listed
    assert (shown["status"], shown["box"]) == ("proposed", [4.0, 4.0, 10.0, 12.0])
    assert other.get(f"/api/images/{image.pk}/").data["tags"] == []
    assert not Annotation.objects.filter(pk=drawn["id"]).exists()

    # the first reader is blinded until both reads are in, and Next does not give it back
    for url in (f"/api/images/{image.pk}/annotations/", f"/api/images/{image.pk}/"):
        blinded = first.get(url)
        assert (blinded.status_code, blinded.data["code"]) == (403, "read_blinded")
    assert first.post(f"/api/projects/{world.project.slug}/next/").data["image"] is None
    edit = first.post(
        f"/api/images/{image.pk}/annotations/",
        {
            "client_key": str(uuid.uuid4()),
            "label_class": world.instance_class.pk,
            "box": [1, 1, 4, 4],
        },
        format="json",
    )
    assert edit.status_code == 403

    _draw(other, image, world, [30, 30, 8, 8])
    finished = _done(other, image)
    assert finished.data["status"] == "done"  # waits for the reviewer
    reads = list(image.reads.order_by("id"))
    assert [r.reader.username for r in reads] == ["annotator-user", "annotator-two"]
    assert [len(r.annotations) for r in reads] == [2, 1] and reads[0].tags == [world.tag_class.pk]
    assert first.get(f"/api/images/{image.pk}/annotations/").status_code == 200
    assert AuditEvent.objects.filter(action="image.read_kept", object_id=str(image.pk)).count() == 1
    image.refresh_from_db()
    assert image.readers_disagree is True
    agreement = world.client(world.reviewer).get(f"/api/projects/{world.project.slug}/agreement/")
    [pair] = agreement.data["pairs"]
    assert pair["readers"] == ["annotator-two", "annotator-user"] and pair["images"] == 1


def test_reviewers_see_the_labels_while_reads_are_pending(two_reads):
    world, _, image, proposal = two_reads
    _draw(world.client(world.annotator), image, world, [5, 5, 10, 10])
    _done(world.client(world.annotator), image)
    seen = world.client(world.reviewer).get(f"/api/images/{image.pk}/annotations/")
    assert seen.status_code == 200 and [a["id"] for a in seen.data] == [proposal.pk]


def test_unassisted_reads_hide_the_model_from_annotators_only(world):
    world.project.unassisted_reads = True
    world.project.save()
    image = factories.ImageFactory(instance__series__study__patient__project=world.project)
    proposal = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    drawn = factories.AnnotationFactory(
        image=image,
        label_class=world.instance_class,
        source="human",
        status=AnnotationStatus.ACCEPTED,
    )
    TagSuggestion.objects.create(
        image=image, label_class=world.tag_class, probability=0.9, threshold=0.5, uncertainty=0.2
    )
    annotator, reviewer = world.client(world.annotator), world.client(world.reviewer)
    url = f"/api/images/{image.pk}/"
    assert [a["id"] for a in annotator.get(f"{url}annotations/").data] == [drawn.pk]
    assert annotator.get(url).data["tag_suggestions"] == []
    row = annotator.get(f"/api/projects/{world.project.slug}/images/").data["results"][0]
    assert (row["proposed_count"], row["top_suggestion"]) == (0, None)
    assert {a["id"] for a in reviewer.get(f"{url}annotations/").data} == {proposal.pk, drawn.pk}
    assert len(reviewer.get(url).data["tag_suggestions"]) == 1


@pytest.mark.parametrize("reads", [0, 4])
def test_reads_per_image_is_one_to_three(world, reads):
    response = world.client(world.admin).patch(
        f"/api/projects/{world.project.slug}/", {"reads_per_image": reads}, format="json"
    )
    assert response.status_code == 400
    assert "reads_per_image" in str(response.data)
    ok = world.client(world.admin).patch(
        f"/api/projects/{world.project.slug}/",
        {"reads_per_image": 3, "unassisted_reads": True},
        format="json",
    )
    assert (ok.data["reads_per_image"], ok.data["unassisted_reads"]) == (3, True)
    refused = world.client(world.annotator).patch(
        f"/api/projects/{world.project.slug}/", {"reads_per_image": 2}, format="json"
    )
    assert refused.status_code == 403


def _both_read(world, second, image):
    _draw(world.client(world.annotator), image, world, [5, 5, 10, 10])
    _done(world.client(world.annotator), image)
    _draw(world.client(second), image, world, [30, 30, 8, 8])
    _draw(world.client(second), image, world, [40, 4, 6, 6])
    assert _done(world.client(second), image).data["status"] == "done"


def test_the_reviewer_adjudicates_the_reads_into_the_final_set(two_reads):
    world, second, image, proposal = two_reads
    reviewer = world.client(world.reviewer)
    early = reviewer.post(
        f"/api/images/{image.pk}/adjudicate/", {"picks": [], "tags": []}, format="json"
    )
    assert (early.status_code, early.data["code"]) == (400, "invalid_transition")
    _both_read(world, second, image)
    reads = reviewer.get(f"/api/images/{image.pk}/reads/").data
    assert [(r["reader"], len(r["annotations"])) for r in reads] == [
        ("annotator-user", 1),
        ("annotator-two", 2),
    ]
    picks = [{"read": reads[0]["id"], "label": 0}, {"read": reads[1]["id"], "label": 1}]
    body = {"picks": picks, "tags": [world.tag_class.pk]}
    done = reviewer.post(f"/api/images/{image.pk}/adjudicate/", body, format="json")
    assert done.status_code == 200, done.data
    final = reviewer.get(f"/api/images/{image.pk}/annotations/").data
    people = sorted(a["box"] for a in final if a["source"] == "human")
    assert people == [[5.0, 5.0, 10.0, 10.0], [40.0, 4.0, 6.0, 6.0]]
    assert [a["id"] for a in final if a["source"] == "model"] == [proposal.pk]
    assert reviewer.get(f"/api/images/{image.pk}/").data["tags"] == [world.tag_class.pk]
    event = AuditEvent.objects.get(action="image.adjudicated")
    assert event.after["picks"] == picks and event.after["replaced_labels"] == 2
    accepted = reviewer.post(f"/api/images/{image.pk}/review/", {"decision": "accept"})
    assert accepted.status_code == 200 and accepted.data["status"] == "reviewed"


@pytest.mark.parametrize(
    ("pick", "code"),
    [({"read": 999999, "label": 0}, "unknown_read"), ({"read": None, "label": 5}, "unknown_label")],
)
def test_a_bad_pick_changes_nothing(two_reads, pick, code):
    world, second, image, _ = two_reads
    _both_read(world, second, image)
    reviewer = world.client(world.reviewer)
    reads = reviewer.get(f"/api/images/{image.pk}/reads/").data
    pick = {**pick, "read": pick["read"] or reads[0]["id"]}
    before = sorted(Annotation.objects.filter(image=image).values_list("id", flat=True))
    response = reviewer.post(
        f"/api/images/{image.pk}/adjudicate/", {"picks": [pick], "tags": []}, format="json"
    )
    assert (response.status_code, response.data["code"]) == (400, code)
    assert sorted(Annotation.objects.filter(image=image).values_list("id", flat=True)) == before
    annotator = world.client(world.annotator).post(
        f"/api/images/{image.pk}/adjudicate/", {"picks": [], "tags": []}, format="json"
    )
    assert annotator.status_code == 403
    assert world.client(world.annotator).get(f"/api/images/{image.pk}/reads/").status_code == 403
