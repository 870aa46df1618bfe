"""A project's augmentation settings (what its retrains augment with) and their preview.

The settings are ``radlabel.augmentation.AugmentationSettings`` stored as JSON on the project; a
training job copies them into its options when it starts, so the model version it registers
says in its config exactly how it was trained.

The preview renders augmented samples of one image with torch, imported here and only when a
preview is asked for (as with the training labels, the web process loads no torch otherwise).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotator.exceptions import ApplicationError, NotFoundError
from annotator.models import Image, Project
from annotator.selectors.augmentation import preview_annotations, project_augmentation
from annotator.selectors.images import image_windowed
from annotator.services.audit import audit_record
from radlabel.augmentation import AugmentationSettings, AugmentationSettingsError

PREVIEW_MAX = 16
PREVIEW_TRAIN_SIZE = 512  # a training's default image size: strengths in pixels look as trained
PREVIEW_SIZE = 256  # each drawn sample, px a side at most


def augmentation_settings_parse(data: Any) -> AugmentationSettings:
    """Settings from JSON; a 400 naming every unknown key and bad value."""
    try:
        return AugmentationSettings.from_json(data)
    except AugmentationSettingsError as error:
        raise ApplicationError(
            f"Invalid augmentation settings: {error}.",
            code="invalid_augmentation",
            extra={"errors": {"augmentation": error.problems}},
        ) from error


def project_augmentation_update(
    *, project: Project, actor: AbstractBaseUser, data: Any
) -> AugmentationSettings:
    """Replace the project's settings by ``data`` (an op or field left out: its default)."""
    settings = augmentation_settings_parse(data)
    before = project_augmentation(project=project).to_json()
    with transaction.atomic():
        project.augmentation = settings.to_json()
        project.save(update_fields=["augmentation"])
        audit_record(
            actor=actor,
            project=project,
            action="project.augmentation_updated",
            obj=project,
            before=before,
            after=project.augmentation,
        )
    return settings


def augmentation_preview(
    *, project: Project, image: Image, n: int, settings: AugmentationSettings
) -> list[str]:
    """``n`` augmented samples of ``image`` under ``settings``, each a base64 PNG with the
    image's accepted labels drawn in their classes' colours."""
    if image.project_id != project.pk:
        raise NotFoundError("Not found.")
    if not 1 <= n <= PREVIEW_MAX:
        raise ApplicationError(f"n is between 1 and {PREVIEW_MAX}.", code="invalid_n")
    from worker.datastore import annotation_masks
    from worker.ml.augment_preview import preview_pngs
    from worker.ml.data import sample_from_masks

    annotations = list(preview_annotations(image=image))
    colors = [a.label_class.color for a in annotations]
    sample = sample_from_masks(
        image_windowed(image),
        annotation_masks(image, annotations),
        np.arange(1, len(annotations) + 1),
        image.pk,
    )
    pngs = preview_pngs(
        sample,
        colors,
        settings,
        n=n,
        train_size=PREVIEW_TRAIN_SIZE,
        size=PREVIEW_SIZE,
    )
    return [base64.b64encode(png).decode("ascii") for png in pngs]
