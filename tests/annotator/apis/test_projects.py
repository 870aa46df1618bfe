"""Projects, label classes and members through the API, with their audit events."""

import pytest
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from annotator.models import AuditEvent, LabelClass, Membership
from tests import factories


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_server_admin_creates_a_project_with_classes_and_becomes_its_admin(db):
    admin = factories.UserFactory(is_staff=True)
    client = client_for(admin)
    response = client.post(
        "/api/projects/",
        {
            "slug": "lungs",
            "name": "Lungs",
            "split_ratios": {"train": 80, "val": 10, "test": 10},
            "label_classes": [
                {"name": "nodule", "color": "#ff0000"},
                {"name": "normal", "color": "#00ff00", "kind": "tag"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["role"] == "admin"
    assert response.data["split_ratios"] == {"train": 80, "val": 10, "test": 10}
    detail = client.get("/api/projects/lungs/").data
    assert [(c["name"], c["kind"], c["order"]) for c in detail["label_classes"]] == [
        ("nodule", "instance", 0),
        ("normal", "tag", 1),
    ]
    duplicate = client.post("/api/projects/", {"slug": "lungs", "name": "Again"}, format="json")
    assert duplicate.status_code == 400 and "slug" in duplicate.data["errors"]


def test_bad_project_input_names_the_field(db):
    client = client_for(factories.UserFactory(is_superuser=True))
    response = client.post("/api/projects/", {"slug": "not a slug", "name": ""}, format="json")
    assert response.status_code == 400
    assert {"slug", "name"} <= set(response.data["errors"])


def test_label_class_in_use_is_retired_not_deleted(world):
    client = world.client(world.admin)
    annotation = factories.AnnotationFactory(
        image__instance__series__study__patient__project=world.project,
        label_class=world.instance_class,
    )
    response = client.delete(f"/api/projects/chest/label-classes/{world.instance_class.pk}/")
    assert response.status_code == 204
    annotation.refresh_from_db()
    assert LabelClass.objects.get(pk=world.instance_class.pk).is_active is False
    assert AuditEvent.objects.filter(action="label_class.retired").count() == 1
    names = [c["name"] for c in client.get("/api/projects/chest/").data["label_classes"]]
    assert "nodule" not in names


def test_members_are_managed_by_admins_and_the_last_admin_stays(world):
    client = world.client(world.admin)
    newcomer = factories.UserFactory(username="newcomer")
    added = client.post(
        "/api/projects/chest/members/", {"username": "newcomer", "role": "reviewer"}, format="json"
    )
    assert added.status_code == 201
    membership = Membership.objects.get(user=newcomer)
    promoted = client.patch(
        f"/api/projects/chest/members/{membership.pk}/", {"role": "admin"}, format="json"
    )
    assert promoted.data["role"] == "admin"
    own = Membership.objects.get(user=world.admin)
    assert client.delete(f"/api/projects/chest/members/{own.pk}/").status_code == 204
    last = client_for(newcomer).patch(
        f"/api/projects/chest/members/{membership.pk}/", {"role": "annotator"}, format="json"
    )
    assert (last.status_code, last.data["code"]) == (409, "last_admin")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"membership.created", "membership.updated", "membership.deleted"} <= actions


def test_annotator_cannot_escalate_own_role(world):
    own = Membership.objects.get(user=world.annotator)
    response = world.client(world.annotator).patch(
        f"/api/projects/chest/members/{own.pk}/", {"role": "admin"}, format="json"
    )
    assert response.status_code == 403
    own.refresh_from_db()
    assert own.role == "annotator"


def test_audit_trail_is_append_only_in_the_database(world):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    event = AuditEvent.objects.create(action="x", object_type="y", object_id="1")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_unknown_filters_and_orderings_are_refused(world):
    client = world.client(world.annotator)
    injection = client.get("/api/projects/chest/images/?created_by__password__startswith=pbkdf2")
    ordering = client.get("/api/projects/chest/images/?ordering=created_by__password")
    assert (injection.status_code, injection.data["code"]) == (400, "unknown_filter_field")
    assert (ordering.status_code, ordering.data["code"]) == (400, "unknown_filter_field")


def test_the_project_list_shows_progress_and_the_worklist_frames(world):
    image = factories.ImageFactory(
        instance__series__study__patient__project=world.project, status="done"
    )
    factories.ImageFactory(instance__series__study__patient__project=world.project)
    client = world.client(world.annotator)
    [listed] = client.get("/api/projects/").data["results"]
    assert listed["counts"]["images"] == 2 and listed["counts"]["by_status"]["done"] == 1
    rows = client.get("/api/projects/chest/images/").data["results"]
    row = next(r for r in rows if r["id"] == image.pk)
    assert row["frames"] == image.instance.number_of_frames
    assert row["series_number"] == image.series.series_number
