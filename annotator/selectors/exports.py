"""Reads of exports and PACS jobs, scoped like ``annotator.access``: other projects answer 404."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet

from annotator.access import ADMINS, User, _check_role, projects_for_user, role_for
from annotator.exceptions import NotFoundError
from annotator.models import DicomWebEndpoint, ExportJob, PacsImportJob, Project, Series


def export_get_for_user(
    *, export_id: int, user: User, roles: Collection[str] = ADMINS
) -> ExportJob:
    job = (
        ExportJob.objects.filter(pk=export_id, project__in=projects_for_user(user=user))
        .select_related("project")
        .first()
    )
    if job is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=job.project, user=user), roles)
    return job


def export_list(*, project: Project) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(project=project).order_by("-id")


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


def series_get_for_user(*, series_id: int, user: User, roles: Collection[str] = ADMINS) -> Series:
    series = (
        Series.objects.filter(pk=series_id, study__project__in=projects_for_user(user=user))
        .select_related("study__project")
        .first()
    )
    if series is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=series.study.project, user=user), roles)
    return series
