"""Adjudication: once all independent reads of an image are in, a reviewer makes its final set
from them: the labels they pick (each from one reader's read) and the tags they choose."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotator.exceptions import ApplicationError, ForbiddenError
from annotator.models import (
    REVIEWERS,
    AnnotationStatus,
    Image,
    ImageStatus,
    Read,
)
from annotator.services.annotations import annotation_create, image_set_tags
from annotator.services.audit import audit_record
from annotator.services.review import image_status_locked, people_labels_remove


@transaction.atomic
def image_adjudicate(
    *,
    image: Image,
    actor: AbstractBaseUser,
    role: str,
    picks: list[dict[str, int]],
    tags: list[int],
) -> Image:
    """Replace the image's labels by ``picks`` (``{"read": id, "label": index}``, each a label
    of one of its reads) and its tags by ``tags``; the model's proposals stay as they are.
    Refused whole when a pick names no label of a read of this image."""
    if role not in REVIEWERS:
        raise ForbiddenError("Only a reviewer or an admin adjudicates.", code="not_reviewer")
    status = image_status_locked(image)
    if status != ImageStatus.DONE:
        raise ApplicationError(
            f"An image is adjudicated once its reads are in (done); this one is {status!r}.",
            code="invalid_transition",
        )
    reads = {read.pk: read for read in Read.objects.filter(image=image)}
    chosen: list[dict[str, Any]] = []
    for pick in picks:
        read = reads.get(pick["read"])
        if read is None:
            raise ApplicationError(
                f"Read {pick['read']} is not a read of this image.", code="unknown_read"
            )
        if not 0 <= pick["label"] < len(read.annotations):
            raise ApplicationError(
                f"Read {read.pk} has labels 0 to {len(read.annotations) - 1}, not {pick['label']}.",
                code="unknown_label",
            )
        chosen.append(read.annotations[pick["label"]])
    replaced = people_labels_remove(image=image)
    for label in chosen:
        annotation_create(
            image=image,
            actor=actor,
            client_key=uuid.uuid4(),
            label_class=label["label_class"],
            box=label["box"],
            mask=label.get("mask"),
            status=AnnotationStatus.ACCEPTED,
        )
    image_set_tags(image=image, actor=actor, label_class_ids=tags)
    Image.objects.filter(pk=image.pk).update(status=ImageStatus.DONE)
    audit_record(
        actor=actor,
        project=image.project,
        action="image.adjudicated",
        obj=image,
        after={"picks": picks, "tags": sorted(tags), "replaced_labels": replaced},
    )
    return image
