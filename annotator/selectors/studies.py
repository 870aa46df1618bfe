"""Reads of patients and studies within a project whose access the caller checked."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet, prefetch_related_objects

from annotator.models import Patient, Project, Series, Study


def patient_list(*, project: Project, split: str | None = None) -> QuerySet[Patient]:
    queryset = Patient.objects.filter(project=project).order_by("pseudonym")
    return queryset.filter(split=split) if split else queryset


def _series_with_image_counts() -> Prefetch:
    """A study's series, each with ``image_count``, in one query for any number of studies."""
    return Prefetch("series", queryset=Series.objects.annotate(image_count=Count("images")))


def study_list(*, project: Project) -> QuerySet[Study]:
    """The project's studies with their patient and their series' image counts."""
    return (
        Study.objects.filter(project=project)
        .select_related("patient")
        .prefetch_related(_series_with_image_counts())
        .order_by("id")
    )


def study_with_series(*, study: Study) -> Study:
    """``study`` with its series' image counts, as ``study_list`` gives them."""
    prefetch_related_objects([study], _series_with_image_counts())
    return study
