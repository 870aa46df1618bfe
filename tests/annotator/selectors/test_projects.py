"""A project's label classes, members, audit trail, jobs and PACS endpoints."""

import pytest

from annotator.exceptions import NotFoundError
from annotator.models import AuditEvent, DicomWebEndpoint, JobStatus, PacsImportJob, TrainingJob
from annotator.selectors.jobs import job_list
from annotator.selectors.pacs import endpoint_get, endpoint_list, pacs_import_get
from annotator.selectors.projects import audit_event_list, label_class_list, membership_list
from tests import factories


def test_label_classes_all_or_the_active_ones(world):
    retired = factories.LabelClassFactory(project=world.project, is_active=False)
    assert retired in label_class_list(project=world.project)
    assert set(label_class_list(project=world.project, active_only=True)) == {
        world.instance_class,
        world.tag_class,
    }


def test_members_in_the_order_they_joined(world):
    assert [m.user for m in membership_list(project=world.project)] == [
        world.admin,
        world.annotator,
        world.reviewer,
    ]


def test_audit_events_newest_first_of_one_action(world):
    events = [
        AuditEvent.objects.create(project=world.project, action=action, object_type="project")
        for action in ("a", "b", "a")
    ]
    AuditEvent.objects.create(project=world.other_project, action="a", object_type="project")
    assert list(audit_event_list(project=world.project)) == events[::-1]
    assert list(audit_event_list(project=world.project, action="a")) == [events[2], events[0]]


def test_jobs_of_one_kind_newest_first(world):
    jobs = [
        factories.TrainingJobFactory(project=world.project, status=JobStatus.SUCCEEDED)
        for _ in range(2)
    ]
    factories.TrainingJobFactory(project=world.other_project)
    assert list(job_list(model=TrainingJob, project=world.project)) == jobs[::-1]


def test_endpoints_and_imports_of_another_project_are_not_found(world):
    def endpoint(project, name):
        return DicomWebEndpoint.objects.create(project=project, name=name, url="http://pacs")

    b, a = endpoint(world.project, "b"), endpoint(world.project, "a")
    elsewhere = endpoint(world.other_project, "c")
    assert list(endpoint_list(project=world.project)) == [a, b]
    assert endpoint_get(project=world.project, endpoint_id=a.pk) == a
    job = PacsImportJob.objects.create(project=world.other_project, endpoint=elsewhere)
    with pytest.raises(NotFoundError):
        endpoint_get(project=world.project, endpoint_id=elsewhere.pk)
    with pytest.raises(NotFoundError):
        pacs_import_get(project=world.project, job_id=job.pk)
    assert pacs_import_get(project=world.other_project, job_id=job.pk) == job
