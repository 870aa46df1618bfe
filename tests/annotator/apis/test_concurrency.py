"""No lost updates with concurrent clients on real PostgreSQL (each thread its own connection)."""

import threading
import uuid

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from annotator.models import Annotation, AuditEvent
from tests import factories

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL"
)
CLIENTS = 8


def _run_concurrently(work):
    barrier = threading.Barrier(CLIENTS)
    results = [None] * CLIENTS

    def run(index):
        try:
            barrier.wait()
            results[index] = work(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_version_let_exactly_one_win():
    annotation = factories.AnnotationFactory()
    users = [factories.MembershipFactory(project=annotation.project).user for _ in range(CLIENTS)]

    def save(index):
        client = APIClient()
        client.force_authenticate(users[index])
        response = client.patch(
            f"/api/annotations/{annotation.pk}/",
            {"box": [index, index, 5, 5]},
            format="json",
            HTTP_IF_MATCH='"1"',
        )
        return response.status_code, response.json()

    results = _run_concurrently(save)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * (CLIENTS - 1)
    winner = next(body for status, body in results if status == 200)
    annotation.refresh_from_db()
    assert annotation.version == 2 and annotation.box == winner["box"]
    for status, body in results:
        if status == 412:
            assert body["current"]["box"] == winner["box"]
    assert AuditEvent.objects.filter(action="annotation.updated").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_create_store_one_row():
    image = factories.ImageFactory()
    label_class = factories.LabelClassFactory(project=image.project)
    user = factories.MembershipFactory(project=image.project).user
    key = str(uuid.uuid4())

    def create(index):
        client = APIClient()
        client.force_authenticate(user)
        response = client.post(
            f"/api/images/{image.pk}/annotations/",
            {"client_key": key, "label_class": label_class.pk, "box": [1, 1, 4, 4]},
            format="json",
        )
        return response.status_code, response.json()["id"]

    results = _run_concurrently(create)
    assert sorted(status for status, _ in results).count(201) == 1
    assert {status for status, _ in results} <= {200, 201}
    assert len({pk for _, pk in results}) == 1
    assert Annotation.objects.filter(image=image).count() == 1
