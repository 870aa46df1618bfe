"""Reads of a project's jobs."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from annotator.models import Project

J = TypeVar("J", bound=Model)


def job_list(*, model: type[J], project: Project) -> QuerySet[J]:
    """The project's jobs of one kind, newest first."""
    return model.objects.filter(project=project).order_by("-id")
