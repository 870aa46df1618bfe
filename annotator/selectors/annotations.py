"""Reads of annotations on an image whose access the caller checked."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.models import Annotation, Image


def annotation_list(*, image: Image) -> QuerySet[Annotation]:
    return image.annotations.select_related("updated_by").order_by("id")
