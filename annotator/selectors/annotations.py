"""Reads of annotations on an image whose access the caller checked."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.models import Annotation, Image, Source


def annotation_list(*, image: Image, model_output: bool = True) -> QuerySet[Annotation]:
    """The image's annotations; without the model's (proposals) unless ``model_output``."""
    annotations = image.annotations.select_related("updated_by").order_by("id")
    return annotations if model_output else annotations.exclude(source=Source.MODEL)
