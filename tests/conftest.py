"""Shared fixtures: real PostgreSQL (from DATABASE_URL), a media folder per test, role clients."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from annotator.models import Role
from backend import celery_app
from tests import factories
from tests.object_store import ObjectStore, seaweedfs

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """A stored-files folder and a host work folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RADLABEL_WORK_DIR = tmp_path / "work"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def object_store(tmp_path_factory) -> Iterator[ObjectStore]:
    """One real S3-compatible server for the session (SeaweedFS on loopback)."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture
def s3_storage(settings, object_store):
    """``default_storage`` in the object store, under a prefix of the test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": object_store.options(f"test-{uuid.uuid4().hex[:12]}"),
        },
    }
    return default_storage


@pytest.fixture
def eager(monkeypatch):
    """Tasks run in the calling process, as soon as they are sent."""
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_ALWAYS_EAGER", True)


@pytest.fixture
def broker():
    """The tests' own Redis database for task messages, empty before and after the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


@dataclass
class World:
    """Two projects and one user per actor of the permission matrix."""

    project: object
    other_project: object
    admin: object
    annotator: object
    reviewer: object
    outsider: object
    instance_class: object
    tag_class: object

    def client(self, user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client


@pytest.fixture
def world(db) -> World:
    project = factories.ProjectFactory(slug="chest")
    other = factories.ProjectFactory(slug="other")
    users = {}
    for role in (Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER):
        users[role] = factories.UserFactory(username=f"{role}-user")
        factories.MembershipFactory(project=project, user=users[role], role=role)
    outsider = factories.UserFactory(username="outsider")
    factories.MembershipFactory(project=other, user=outsider, role=Role.ADMIN)
    return World(
        project=project,
        other_project=other,
        admin=users[Role.ADMIN],
        annotator=users[Role.ANNOTATOR],
        reviewer=users[Role.REVIEWER],
        outsider=outsider,
        instance_class=factories.LabelClassFactory(project=project, name="nodule"),
        tag_class=factories.LabelClassFactory(project=project, name="normal", kind="tag"),
    )
