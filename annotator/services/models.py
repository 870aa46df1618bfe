"""The model registry: immutable versions, and the one rule that makes a version active."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.exceptions import ConflictError
from annotator.models import ModelVersion, ModelVersionStatus, Project, TrainingJob
from annotator.services.audit import audit_record


def model_version_register(
    *,
    project: Project,
    training_job: TrainingJob | None,
    backbone: str,
    config: dict[str, Any],
    class_map: dict[str, int],
    weights_file: str,
    sha256: str,
    metrics: dict[str, Any],
    training_data: dict[str, Any],
) -> ModelVersion:
    """Record a finished run as a candidate. The weights file is complete and checksummed."""
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        number = (project.model_versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            project=project,
            number=number,
            backbone=backbone,
            config=config,
            class_map=class_map,
            weights_file=weights_file,
            sha256=sha256,
            metrics=metrics,
            training_data=training_data,
            training_job=training_job,
        )
        audit_record(
            actor=None,
            project=project,
            action="model_version.registered",
            obj=version,
            after={"number": number, "metrics": metrics},
        )
    return version


def model_version_activate(
    *, version: ModelVersion, actor: AbstractBaseUser | None, reason: str
) -> ModelVersion:
    """Make ``version`` the project's active model; the previous one retires. Audited.

    ``actor`` is None when the promotion rule decided (val metric at least the active one's);
    an admin's promotion or rollback names the admin.
    """
    with transaction.atomic():
        versions = ModelVersion.objects.select_for_update().filter(project_id=version.project_id)
        current = versions.filter(status=ModelVersionStatus.ACTIVE).first()
        version = versions.get(pk=version.pk)
        if current is not None and current.pk == version.pk:
            raise ConflictError("This version is already active.", code="already_active")
        if current is not None:
            current.status = ModelVersionStatus.RETIRED
            current.save(update_fields=["status"])
        version.status = ModelVersionStatus.ACTIVE
        version.promoted_at = timezone.now()
        version.save(update_fields=["status", "promoted_at"])
        audit_record(
            actor=actor,
            project=version.project,
            action="model_version.activated",
            obj=version,
            before={"active": current.number if current else None},
            after={"active": version.number, "reason": reason},
        )
    return version


def active_model_version(*, project: Project) -> ModelVersion | None:
    return project.model_versions.filter(status=ModelVersionStatus.ACTIVE).first()
