"""schemathesis against the API's own OpenAPI schema (security case 48), as a project admin and
as an annotator: no answer is a 5xx, and every answer, errors included, has a status code, a
media type and a body the schema documents for its operation.

Bounded for CI: ``RADLABEL_SCHEMA_FUZZ_EXAMPLES`` generated requests per operation (default 12),
each sent once per role, through the WSGI application on the test database (PostgreSQL). Path
parameters point at the seeded objects most of the time, so the handlers behind the 404 run too.
"""

import itertools
import json
import os
import random

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotator.models import Role
from tests import factories
from tests.dicom_files import data_store

EXAMPLES = int(os.environ.get("RADLABEL_SCHEMA_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEEDED_SHARE = 0.8  # of the generated requests, those whose path names a seeded object


def _schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = get_wsgi_application()
    loaded.config.generation.update(max_examples=EXAMPLES, deterministic=True)
    return loaded


schema = _schema()


@pytest.fixture
def in_test_transaction():
    """Requests through the WSGI application keep the test's database connection (and its
    transaction) open, as Django's own test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(world, broker, in_test_transaction):
    """The permission matrix's world with one ingested CT slice, a label and one job of each
    kind; returns the object id behind each path's ``{id}`` (by the segment before it) and an
    API token per role."""
    from annotator.services import studies

    studies.upload_ingest(
        project=world.project,
        actor=world.admin,
        files=[("ct.dcm", data_store("693_UNCI.dcm").open("rb"))],
    )
    image = world.project.images.select_related("series__study__patient").get()
    preannotation = factories.PreannotationJobFactory(project=world.project)
    ids = {
        "projects": world.project.slug,
        "images": image.pk,
        "series": image.series.pk,
        "studies": image.series.study.pk,
        "patients": image.series.study.patient.pk,
        "annotations": factories.AnnotationFactory(
            image=image, label_class=world.instance_class
        ).pk,
        "label-classes": world.instance_class.pk,
        "members": world.project.memberships.get(user=world.annotator).pk,
        "training-jobs": factories.TrainingJobFactory(project=world.project).pk,
        "model-versions": preannotation.model_version.pk,
        "preannotation-jobs": preannotation.pk,
    }
    tokens = {
        role: AuthToken.objects.create(user=getattr(world, role))[1]
        for role in (Role.ADMIN, Role.ANNOTATOR)
    }
    return ids, tokens


def _point_at_seeded(case, ids):
    """Most requests name the seeded objects: ``{slug}`` and each ``{id}`` by the path segment
    before it (``/images/{id}/`` an image)."""
    segments = case.path.strip("/").split("/")
    for before, segment in itertools.pairwise(segments):
        name = segment.strip("{}")
        if segment.startswith("{") and before in ids and random.random() < SEEDED_SHARE:
            case.path_parameters[name] = ids[before]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_documented_and_none_is_a_server_error(case, seeded):
    ids, tokens = seeded
    _point_at_seeded(case, ids)
    for role in (Role.ADMIN, Role.ANNOTATOR):
        headers = {"Authorization": f"Token {tokens[role]}"}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
