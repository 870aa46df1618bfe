"""Reads of PACS endpoints and import jobs within a project whose access the caller checked."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.exceptions import NotFoundError
from annotator.models import DicomWebEndpoint, PacsImportJob, Project


def endpoint_list(*, project: Project) -> QuerySet[DicomWebEndpoint]:
    return DicomWebEndpoint.objects.filter(project=project).order_by("name")


def endpoint_get(*, project: Project, endpoint_id: int) -> DicomWebEndpoint:
    """An endpoint of ``project`` (whose access the caller checked), else 404."""
    endpoint = DicomWebEndpoint.objects.filter(project=project, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFoundError("Not found.")
    return endpoint


def pacs_import_get(*, project: Project, job_id: int) -> PacsImportJob:
    job = PacsImportJob.objects.filter(project=project, pk=job_id).first()
    if job is None:
        raise NotFoundError("Not found.")
    return job
