"""The model registry: immutable versions, and the one rule that makes a version active.

A new version becomes active on its own only when val can tell: val holds at least the
project's ``promotion_min_val_lesions`` labelled lesions, the version passes the quality gate
(val segm AP at least ``RADLABEL_PROMOTION_MIN_SEGM_AP`` and a lesion-level F1 whose 95 %
interval is above 0), and, when a version is active, the paired bootstrap of the val F1
difference (both versions on the same val images, each at its own threshold) has its 95 %
lower bound above 0: a gain larger than the noise. Otherwise it stays a candidate, with the
reason in words; an admin may still promote it by hand (audited).

When the version carries a tag classifier and the active version has one for the same tag
classes, the paired bootstrap of the val mean-AUROC difference must not have its 95 % upper
bound below 0: a version worse for either task beyond the noise is not promoted automatically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.exceptions import ConflictError
from annotator.models import ModelVersion, ModelVersionStatus, Project, TrainingJob
from annotator.selectors.model_versions import active_model_version
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
    score_threshold: float,
    metrics: dict[str, Any],
    training_data: dict[str, Any],
    classifier: dict[str, Any] | None = None,
) -> ModelVersion:
    """Record a finished run as a candidate. The weights file is complete and checksummed;
    ``classifier`` is the tag classifier trained with it (its own checksummed file)."""
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
            score_threshold=score_threshold,
            metrics=metrics,
            training_data=training_data,
            classifier=classifier or {},
            training_job=training_job,
        )
        audit_record(
            actor=None,
            project=project,
            action="model_version.registered",
            obj=version,
            after={"number": number, "score_threshold": score_threshold},
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
        version.promotion = {
            **version.promotion,
            "activated_by": actor.get_username() if actor is not None else None,
            "activation_reason": reason,
        }
        version.save(update_fields=["status", "promoted_at", "promotion"])
        audit_record(
            actor=actor,
            project=version.project,
            action="model_version.activated",
            obj=version,
            before={"active": current.number if current else None},
            after={"active": version.number, "reason": reason},
        )
    return version


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "\u2212")


def _val_f1(metrics: dict[str, Any]) -> dict[str, Any] | None:
    figures = (metrics.get("val") or {}).get("at_threshold") or {}
    f1 = figures.get("f1") or {}
    return f1 if isinstance(f1.get("value"), int | float) else None


def promotion_decide(
    *,
    metrics: dict[str, Any],
    active: ModelVersion | None,
    comparison: dict[str, Any] | None,
    min_val_lesions: int,
    min_segm_ap: float,
    tag_comparison: dict[str, Any] | None = None,
) -> PromotionDecision:
    """The promotion rule (see the module docstring), with its reason in words.

    ``metrics`` are the new version's (per split, as the worker reports them); ``comparison`` is
    the paired val comparison with ``active`` (None when no version is active);
    ``tag_comparison`` the paired val comparison of their tag classifiers (None without).
    """
    val = metrics.get("val") or {}
    lesions = int(val.get("lesions") or 0)
    hand = "promote by hand if you trust it"
    if lesions < min_val_lesions:
        noun = "lesion" if lesions == 1 else "lesions"
        return PromotionDecision(
            False,
            f"val has {lesions} {noun}: too few to decide (at least {min_val_lesions}); {hand}.",
        )
    segm_ap = val.get("segm_AP")
    if not isinstance(segm_ap, int | float) or not math.isfinite(segm_ap) or segm_ap < min_segm_ap:
        shown = f"{segm_ap:.2f}" if isinstance(segm_ap, int | float) else "not measured"
        return PromotionDecision(
            False, f"val segm AP {shown} is below the quality gate {min_segm_ap:.2f}; {hand}."
        )
    f1 = _val_f1(metrics)
    if f1 is None or not (f1.get("low") or 0) > 0:
        return PromotionDecision(
            False, f"val lesion F1 is not above 0 beyond the noise on {lesions} lesions; {hand}."
        )
    if active is None:
        return PromotionDecision(
            True,
            f"first version: val lesion F1 {f1['value']:.2f} (95 % interval "
            f"{f1['low']:.2f}\u2013{f1['high']:.2f}) on {val.get('images')} images, "
            f"{lesions} lesions.",
        )
    if comparison is None or comparison.get("low") is None:
        return PromotionDecision(
            False, f"v{active.number} could not be compared on the same val images; {hand}."
        )
    words = (
        f"val lesion F1 {comparison['candidate']:.2f} against {comparison['active']:.2f} for "
        f"v{active.number}: {_signed(comparison['difference'])} (95 % interval "
        f"{_signed(comparison['low'])} to {_signed(comparison['high'])}) on "
        f"{comparison['images']} images, {comparison['lesions']} lesions"
    )
    if comparison["low"] <= 0:
        return PromotionDecision(False, f"{words}: not better beyond the noise; {hand}.")
    tags = tag_comparison or {}
    if tags.get("high") is not None and tags["high"] < 0:
        return PromotionDecision(
            False,
            f"{words}, but val tag mean AUROC {tags['candidate']:.2f} against "
            f"{tags['active']:.2f} for v{active.number}: {_signed(tags['difference'])} (95 % "
            f"interval {_signed(tags['low'])} to {_signed(tags['high'])}) on {tags['images']} "
            f"images: worse beyond the noise; {hand}.",
        )
    return PromotionDecision(True, f"{words}: better beyond the noise.")


def model_version_promotion_decide(
    *, version: ModelVersion, comparison: dict[str, Any] | None
) -> PromotionDecision:
    """Apply the promotion rule to a new version and record the decision on it.

    ``model_version_from_training`` activates the version when the decision says so; this only
    decides and writes why.
    """
    active = active_model_version(project=version.project)
    decision = promotion_decide(
        metrics=version.metrics,
        active=active,
        comparison=comparison,
        min_val_lesions=version.project.promotion_min_val_lesions,
        min_segm_ap=settings.RADLABEL_PROMOTION_MIN_SEGM_AP,
        tag_comparison=version.classifier.get("comparison"),
    )
    version.promotion = {
        "automatic": decision.promote,
        "reason": decision.reason,
        "compared_with": active.number if active is not None else None,
        "comparison": comparison,
    }
    version.save(update_fields=["promotion"])
    audit_record(
        actor=None,
        project=version.project,
        action="model_version.promotion_decided",
        obj=version,
        after=version.promotion,
    )
    return decision


def model_version_from_training(
    *, training_job: TrainingJob, comparison: dict[str, Any] | None, **registration: Any
) -> ModelVersion:
    """Register a finished training's version (``model_version_register``'s fields) and apply
    the promotion rule: a version it promotes becomes active and pre-annotates the images no
    person has worked on yet; any other stays a candidate, with the reason.

    ``comparison`` is the paired val comparison with the active version (None without one).
    """
    version = model_version_register(
        project=training_job.project, training_job=training_job, **registration
    )
    decision = model_version_promotion_decide(version=version, comparison=comparison)
    if decision.promote:
        from annotator.services.jobs import model_version_promote  # jobs imports this module

        version = model_version_promote(version=version, actor=None, reason=decision.reason)
    return version
