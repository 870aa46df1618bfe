"""POST /api/images/{id}/annotations/batch/: an image's creates, edits and deletes in one
request and one transaction; one stale version and nothing is saved."""

import uuid

import pytest

from annotator.models import Annotation, AnnotationStatus, AuditEvent, ProposalOutcome
from annotator.services.annotations import proposals_replace
from tests import factories


@pytest.fixture
def image(world):
    return factories.ImageFactory(instance__series__study__patient__project=world.project)


def _url(image) -> str:
    return f"/api/images/{image.pk}/annotations/batch/"


def _new(world, box=(1, 2, 30, 40)) -> dict:
    return {
        "client_key": str(uuid.uuid4()),
        "label_class": world.instance_class.pk,
        "box": list(box),
    }


def test_mixed_creates_edits_and_deletes_apply_together(world, image):
    edited = factories.AnnotationFactory(image=image, label_class=world.instance_class, version=2)
    gone = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    new = [_new(world), _new(world, (50, 50, 10, 10))]
    response = world.client(world.annotator).post(
        _url(image),
        {
            "create": new,
            "update": [{"id": edited.pk, "version": 2, "box": [5, 6, 7, 8], "status": "accepted"}],
            "delete": [{"id": gone.pk, "version": 1}],
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    rows = response.data["annotations"]
    assert [r["client_key"] for r in rows[:2]] == [n["client_key"] for n in new]
    assert rows[2]["id"] == edited.pk and rows[2]["version"] == 3
    assert rows[2]["box"] == [5, 6, 7, 8] and rows[2]["status"] == AnnotationStatus.ACCEPTED
    assert response.data["deleted"] == [gone.pk] and response.data["existed"] == []
    assert not Annotation.objects.filter(pk=gone.pk).exists()
    assert Annotation.objects.filter(image=image).count() == 3
    actions = AuditEvent.objects.filter(project=world.project).values_list("action", flat=True)
    assert sorted(actions) == sorted(
        ["annotation.created", "annotation.created", "annotation.updated", "annotation.deleted"]
    )


def test_one_stale_version_saves_nothing_and_lists_each_conflict(world, image):
    fresh = factories.AnnotationFactory(image=image, label_class=world.instance_class, version=1)
    stale = factories.AnnotationFactory(image=image, label_class=world.instance_class, version=4)
    deleted_meanwhile = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    missing_id = deleted_meanwhile.pk
    deleted_meanwhile.delete()
    new = _new(world)
    response = world.client(world.annotator).post(
        _url(image),
        {
            "create": [new],
            "update": [
                {"id": fresh.pk, "version": 1, "box": [1, 1, 4, 4]},
                {"id": stale.pk, "version": 3, "box": [2, 2, 4, 4]},
            ],
            "delete": [{"id": missing_id, "version": 1}],
        },
        format="json",
    )
    assert response.status_code == 412, response.data
    assert response.data["code"] == "version_conflict"
    conflicts = {c["id"]: c["current"] for c in response.data["conflicts"]}
    assert set(conflicts) == {stale.pk, missing_id}
    assert conflicts[stale.pk]["version"] == 4 and conflicts[missing_id] is None
    fresh.refresh_from_db()
    assert fresh.version == 1 and fresh.box != [1, 1, 4, 4]
    assert not Annotation.objects.filter(client_key=new["client_key"]).exists()
    assert not AuditEvent.objects.filter(project=world.project).exists()


def test_a_retried_create_returns_its_row_once(world, image):
    new = _new(world)
    client = world.client(world.annotator)
    first = client.post(_url(image), {"create": [new]}, format="json")
    retry = client.post(_url(image), {"create": [new]}, format="json")
    assert first.status_code == retry.status_code == 200
    assert first.data["existed"] == [] and retry.data["existed"] == [new["client_key"]]
    assert retry.data["annotations"][0]["id"] == first.data["annotations"][0]["id"]
    assert Annotation.objects.filter(image=image).count() == 1


@pytest.mark.parametrize(
    "body, message",
    [
        ({"update": [{"id": 1, "version": 1}]}, "at least one field"),
        ({"create": [{"label_class": 1, "box": [0, 0, 1, 1]}]}, "client_key"),
        ({"delete": [{"id": 1}]}, "version"),
    ],
)
def test_bad_items_are_400s_naming_the_problem(world, image, body, message):
    response = world.client(world.annotator).post(_url(image), body, format="json")
    assert response.status_code == 400
    assert message in str(response.data)
    assert not Annotation.objects.filter(image=image).exists()


def test_an_annotation_twice_in_one_batch_is_refused(world, image):
    row = factories.AnnotationFactory(image=image, label_class=world.instance_class)
    response = world.client(world.annotator).post(
        _url(image),
        {
            "update": [{"id": row.pk, "version": 1, "status": "rejected"}],
            "delete": [{"id": row.pk, "version": 1}],
        },
        format="json",
    )
    assert response.status_code == 400 and response.data["code"] == "duplicate_annotation"
    assert Annotation.objects.filter(pk=row.pk, version=1).exists()


def test_an_annotation_of_another_image_is_not_edited(world, image):
    elsewhere = factories.AnnotationFactory(
        image=factories.ImageFactory(instance__series__study__patient__project=world.project),
        label_class=world.instance_class,
    )
    response = world.client(world.annotator).post(
        _url(image),
        {"delete": [{"id": elsewhere.pk, "version": 1}]},
        format="json",
    )
    assert response.status_code == 412
    assert response.data["conflicts"] == [{"id": elsewhere.pk, "current": None}]
    assert Annotation.objects.filter(pk=elsewhere.pk).exists()


def test_roles_are_those_of_the_single_routes(world, image):
    body = {"create": [_new(world)]}
    assert world.client().post(_url(image), body, format="json").status_code in (401, 403)
    assert world.client(world.outsider).post(_url(image), body, format="json").status_code == 404
    assert world.client(world.reviewer).post(_url(image), body, format="json").status_code == 200


def test_creates_in_one_batch_are_audited_each_and_mix_new_and_retried_keys(world, image):
    client = world.client(world.annotator)
    kept = _new(world)
    assert client.post(_url(image), {"create": [kept]}, format="json").status_code == 200
    fresh = [_new(world, box=(k * 10, 5, 8, 8)) for k in range(3)]
    response = client.post(_url(image), {"create": [fresh[0], kept, *fresh[1:]]}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["existed"] == [kept["client_key"]]
    keys = [a["client_key"] for a in response.data["annotations"]]
    assert keys == [
        fresh[0]["client_key"],
        kept["client_key"],
        *(f["client_key"] for f in fresh[1:]),
    ]
    created = AuditEvent.objects.filter(action="annotation.created", object_type="annotation")
    assert created.count() == 4, "one event per row made, none for the retry"
    image.refresh_from_db()
    assert image.status == "in_progress"


def test_a_client_key_of_another_images_row_saves_nothing(world, image):
    other = factories.ImageFactory(instance__series__study__patient__project=world.project)
    client = world.client(world.annotator)
    used = _new(world)
    assert client.post(_url(other), {"create": [used]}, format="json").status_code == 200
    response = client.post(_url(image), {"create": [_new(world), used]}, format="json")
    assert response.status_code == 409 and response.data["code"] == "client_key_reused"
    assert not Annotation.objects.filter(image=image).exists()


def test_a_deleted_proposal_created_again_in_a_batch_is_that_proposal_again(world, image):
    """Undo of a delete: the batch's create with the deleted proposal's client key takes back
    its outcome row (so the model's value counts it once)."""
    version = factories.ModelVersionFactory(project=world.project)
    [proposal] = proposals_replace(
        image=image,
        model_version=version,
        proposals=[{"label_class": world.instance_class.pk, "box": [5, 5, 10, 10], "score": 0.9}],
    )
    client = world.client(world.annotator)
    gone = client.post(
        _url(image), {"delete": [{"id": proposal.pk, "version": proposal.version}]}, format="json"
    )
    assert gone.status_code == 200, gone.data
    again = {
        "client_key": str(proposal.client_key),
        "label_class": world.instance_class.pk,
        "box": [5, 5, 10, 10],
        "status": "proposed",
    }
    response = client.post(_url(image), {"create": [_new(world), again]}, format="json")
    assert response.status_code == 200, response.data
    [outcome] = ProposalOutcome.objects.filter(image=image)
    restored = Annotation.objects.get(client_key=proposal.client_key)
    assert outcome.annotation_id == restored.pk and outcome.deleted_as is None


def test_four_creates_take_one_statement_per_step(world, image, django_assert_num_queries):
    client = world.client(world.annotator)
    client.post(_url(image), {"create": [_new(world)]}, format="json")  # the image in progress
    # the image and the role; in the batch's transaction (here a savepoint and its release)
    # the classes, the rows, the deleted proposals and the audit events
    with django_assert_num_queries(8):
        response = client.post(
            _url(image), {"create": [_new(world) for _ in range(4)]}, format="json"
        )
    assert response.status_code == 200, response.data
    assert Annotation.objects.filter(image=image).count() == 5
