"""Reads of a project's jobs."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import QuerySet

from annotator.models import Project
from annotator.models.jobs import Job

J = TypeVar("J", bound=Job)


def job_list(*, model: type[J], project: Project) -> QuerySet[J]:
    """The project's jobs of one kind, newest first."""
    return model.objects.filter(project=project).order_by("-id")
