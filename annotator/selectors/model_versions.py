"""Reads of a project's model versions and the labels they learn from."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from annotator.exceptions import NotFoundError
from annotator.models import (
    Annotation,
    AnnotationStatus,
    Image,
    ImageStatus,
    ModelVersion,
    ModelVersionStatus,
    Project,
    Split,
)


def active_model_version(*, project: Project) -> ModelVersion | None:
    return project.model_versions.filter(status=ModelVersionStatus.ACTIVE).first()


def model_version_list(*, project: Project) -> QuerySet[ModelVersion]:
    """The project's versions, newest first."""
    return ModelVersion.objects.filter(project=project).order_by("-number")


def model_version_get(*, project: Project, number: int) -> ModelVersion:
    """Version ``number`` of ``project`` (whose access the caller checked), else 404."""
    version = ModelVersion.objects.filter(project=project, number=number).first()
    if version is None:
        raise NotFoundError(f"The project has no model version {number}.")
    return version


def training_annotations(*, project: Project, split: str) -> QuerySet[Annotation]:
    """The labels a training learns from on ``split``: accepted, of an active class, on an image
    out of quarantine."""
    return Annotation.objects.filter(
        project=project,
        status=AnnotationStatus.ACCEPTED,
        label_class__is_active=True,
        image__in=Image.objects.cleared(),
        image__series__study__patient__split=split,
    )


def tag_training_images(*, project: Project, split: str) -> QuerySet[Image]:
    """The images a tag classifier learns from on ``split``: out of quarantine, with a tag or
    marked done (an image a person finished without a tag is a negative for it), tags loaded."""
    return (
        Image.objects.cleared()
        .filter(project=project, series__study__patient__split=split)
        .filter(Q(tags__isnull=False) | Q(status__in=[ImageStatus.DONE, ImageStatus.REVIEWED]))
        .distinct()
        .select_related("instance", "series__study")
        .prefetch_related("tags")
        .order_by("id")
    )


def accepted_since_last_version(*, project: Project) -> int:
    """Labels accepted on train since the project's newest model version (all, before one)."""
    last = project.model_versions.order_by("-created_at").first()
    accepted = training_annotations(project=project, split=Split.TRAIN)
    if last is not None:
        accepted = accepted.filter(updated_at__gt=last.created_at)
    return accepted.count()
