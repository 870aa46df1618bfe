"""A project's augmentation settings and the labels its preview draws."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.models import Annotation, AnnotationStatus, Image, LabelKind, Project
from radlabel.augmentation import AugmentationSettings


def project_augmentation(*, project: Project) -> AugmentationSettings:
    """The settings the project's next training augments with (stored ones were validated)."""
    return AugmentationSettings.from_json(project.augmentation)


def preview_annotations(*, image: Image) -> QuerySet[Annotation]:
    """The labels a training would learn from on the image: accepted, of an active instance
    class."""
    return (
        Annotation.objects.filter(
            image=image,
            status=AnnotationStatus.ACCEPTED,
            label_class__is_active=True,
            label_class__kind=LabelKind.INSTANCE,
        )
        .select_related("label_class")
        .order_by("id")
    )
