"""Reads of images, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)

from annotator import dicom, storage
from annotator.exceptions import ApplicationError
from annotator.models import (
    Annotation,
    AnnotationStatus,
    Image,
    ImageStatus,
    ModelVersion,
    Project,
    Source,
    SuggestionDecision,
    TagSuggestion,
)
from annotator.models.studies import SEES_QUARANTINE, ImageQuerySet
from annotator.selectors.strategies import (
    DEFAULT_STRATEGY,
    DONE_STATUSES,
    strategy_get,
    strategy_order_by,
)

FILTERS = {
    "status",
    "split",
    "modality",
    "label_class",
    "suggested_tag",
    "series",
    "study",
    "quarantined",
    "readers_disagree",
}
GROUPINGS = ("instance",)
# A grouped row sorts by its instance's values (annotations), not its frame's own.
GROUPED_FACTS = {"status": "group_status", "uncertainty": "group_uncertainty"}


def image_list(
    *, project: Project, role: str, filters: dict[str, str], user: AbstractBaseUser | None = None
) -> QuerySet[Image]:
    """Images of a project with their listing facts; only allowlisted filters, and orderings
    that are worklist strategies (``annotator.selectors.strategies``; ``random`` shuffles the
    project's images for ``user``, by the project alone without one). Images a reviewer
    returned to ``user`` head every order.

    Every frame is a row unless ``group=instance``: then each instance is one row, so a
    multi-frame file is listed once and a single-frame image stays its own row. A grouped row
    is the instance's first frame that is not done (else its first frame) and matches the
    filters when any of its frames does; over all its frames the user may see, its
    ``group_status`` is the least done (in ``ImageStatus`` order), ``group_uncertainty`` and
    ``group_max_score`` the highest, and ``frames_done`` counts those done or reviewed. The
    strategies sort grouped rows by those values; paging counts rows.
    """
    unknown = set(filters) - FILTERS - {"ordering", "group"}
    if unknown:
        raise ApplicationError(
            f"Unknown filter field(s): {', '.join(sorted(unknown))}.", code="unknown_filter_field"
        )
    strategy = strategy_get(filters.get("ordering", DEFAULT_STRATEGY))
    group = filters.get("group")
    if group is not None and group not in GROUPINGS:
        raise ApplicationError(
            f"Unknown grouping {group!r}; use one of {', '.join(GROUPINGS)}.",
            code="invalid_filter",
        )
    visible = Image.objects.filter(project=project).visible_to(role)
    queryset = _filtered(visible, role=role, filters=filters)
    fields = None
    if group == "instance":
        queryset = _grouped_by_instance(visible, matching=queryset)
        fields = GROUPED_FACTS
    seed = f"{project.pk}:{user.pk}" if user is not None else str(project.pk)
    order_by = strategy_order_by(strategy, seed=seed, fields=fields)
    if user is not None:
        returned_to_user = When(status=ImageStatus.RETURNED, submitted_by=user.pk, then=0)
        order_by.insert(0, Case(returned_to_user, default=1, output_field=IntegerField()).asc())
    return queryset.select_related("series__study__patient", "instance").order_by(*order_by)


def _filtered(queryset: ImageQuerySet, *, role: str, filters: dict[str, str]) -> QuerySet[Image]:
    if role in SEES_QUARANTINE and "quarantined" in filters:
        held = filters["quarantined"] in ("1", "true")
        queryset = queryset.quarantined() if held else queryset.cleared()
    if "status" in filters:
        if filters["status"] not in ImageStatus.values:
            raise ApplicationError(f"Unknown status {filters['status']!r}.", code="invalid_filter")
        queryset = queryset.filter(status=filters["status"])
    if "split" in filters:
        queryset = queryset.filter(series__study__patient__split=filters["split"])
    if "modality" in filters:
        queryset = queryset.filter(series__modality=filters["modality"])
    for name, lookup in (
        ("label_class", "annotations__label_class"),
        ("series", "series"),
        ("study", "series__study"),
    ):
        if name in filters:
            if not filters[name].isdigit():
                raise ApplicationError(f"{name} is an id.", code="invalid_filter")
            queryset = queryset.filter(**{lookup: int(filters[name])})
    if "readers_disagree" in filters:
        value = filters["readers_disagree"]
        if value not in ("true", "false", "1", "0"):
            raise ApplicationError("readers_disagree is true or false.", code="invalid_filter")
        queryset = queryset.filter(readers_disagree=value in ("true", "1"))
    if "suggested_tag" in filters:
        if not filters["suggested_tag"].isdigit():
            raise ApplicationError("suggested_tag is an id.", code="invalid_filter")
        queryset = queryset.filter(
            id__in=suggested(TagSuggestion.objects.all())
            .filter(label_class_id=int(filters["suggested_tag"]))
            .values("image_id")
        )
    if "label_class" in filters:
        queryset = queryset.distinct()
    return queryset


# a tag is suggested when its probability reaches its threshold
SUGGESTED = Q(probability__gte=F("threshold"))


def suggested(suggestions: QuerySet[TagSuggestion]) -> QuerySet[TagSuggestion]:
    """The pending suggestions whose probability reaches their tag's threshold."""
    return suggestions.filter(SUGGESTED, decision=SuggestionDecision.PENDING)


def _grouped_by_instance(visible: QuerySet[Image], *, matching: QuerySet[Image]) -> QuerySet[Image]:
    frames = visible.filter(instance_id=OuterRef("instance_id")).order_by()
    progress = Case(
        *(When(status=status, then=rank) for rank, status in enumerate(ImageStatus.values)),
        output_field=IntegerField(),
    )
    not_done_first = Case(When(status__in=DONE_STATUSES, then=1), default=0)

    def over_frames(aggregate: Aggregate) -> Subquery:
        return Subquery(frames.values("instance_id").annotate(v=aggregate).values("v"))

    return (
        visible.filter(instance_id__in=matching.values("instance_id"))
        .filter(id=Subquery(frames.order_by(not_done_first, "frame_number").values("id")[:1]))
        .annotate(
            group_status=Subquery(frames.order_by(progress).values("status")[:1]),
            group_uncertainty=over_frames(Max("uncertainty")),
            group_max_score=over_frames(Max("max_score")),
            frames_done=over_frames(Count("id", filter=Q(status__in=DONE_STATUSES))),
        )
    )


def image_listing_facts(
    images: list[Image], *, grouped: bool = False, model_output: bool = True
) -> dict[int, dict[str, Any]]:
    """Per image: classes present and proposal/accepted counts, in one query for a page;
    without the model's labels and tag suggestions unless ``model_output`` (unassisted reads).

    For the rows of a grouped listing the facts are over all frames of the row's instance, and
    carry the row's ``status``, ``uncertainty``, ``max_score`` and ``frames_done``.
    """
    facts: dict[int, dict[str, Any]] = {
        image.pk: {"classes": [], "proposed_count": 0, "accepted_count": 0, "top_suggestion": None}
        for image in images
    }
    if grouped:
        for image in images:
            facts[image.pk].update(
                status=image.group_status,  # type: ignore[attr-defined]
                uncertainty=image.group_uncertainty,  # type: ignore[attr-defined]
                max_score=image.group_max_score,  # type: ignore[attr-defined]
                frames_done=image.frames_done,  # type: ignore[attr-defined]
            )
        row_of = {image.instance_id: image.pk for image in images}
        annotations = Annotation.objects.filter(image__instance_id__in=row_of)
        key = "image__instance_id"
    else:
        row_of = {pk: pk for pk in facts}
        annotations = Annotation.objects.filter(image_id__in=facts)
        key = "image_id"
    if not model_output:
        annotations = annotations.exclude(source=Source.MODEL)
    rows = (
        annotations.values(key, "label_class_id")
        .annotate(
            proposed=Count("id", filter=Q(status=AnnotationStatus.PROPOSED)),
            accepted=Count("id", filter=Q(status=AnnotationStatus.ACCEPTED)),
        )
        .order_by()
    )
    for row in rows:
        fact = facts[row_of[row[key]]]
        if row["proposed"] or row["accepted"]:
            fact["classes"].append(row["label_class_id"])
        fact["proposed_count"] += row["proposed"]
        fact["accepted_count"] += row["accepted"]
    top = suggested(
        TagSuggestion.objects.filter(image_id__in=facts if model_output else [])
    ).order_by("image_id", "-probability")
    for suggestion in top.values("image_id", "label_class_id", "probability"):
        fact = facts[suggestion["image_id"]]
        if fact["top_suggestion"] is None:
            fact["top_suggestion"] = {
                "label_class": suggestion["label_class_id"],
                "probability": suggestion["probability"],
            }
    return facts


def series_image_ids(*, image: Image, role: str) -> list[int]:
    queryset = Image.objects.filter(series_id=image.series_id).visible_to(role)
    return list(
        queryset.order_by(
            "position", "instance__instance_number", "frame_number", "id"
        ).values_list("id", flat=True)
    )


def proposable_images(*, version: ModelVersion) -> QuerySet[Image]:
    """Images the version may propose on: not quarantined, of a modality it was trained on."""
    images = Image.objects.filter(project_id=version.project_id).cleared()
    modalities = version.training_data.get("modalities")
    return images.filter(series__modality__in=modalities) if modalities else images


def image_tag_suggestions(*, image: Image) -> list[dict[str, object]]:
    """The image's tag suggestions, most probable first, with the version that made them."""
    return [
        {
            "label_class": s.label_class_id,
            "probability": s.probability,
            "threshold": s.threshold,
            "suggested": s.suggested,
            "decision": s.decision,
            "model_version": s.model_version.number if s.model_version else None,
        }
        for s in image.tag_suggestions.select_related("model_version")
        .annotate(suggested=ExpressionWrapper(SUGGESTED, output_field=BooleanField()))
        .order_by("-probability")
    ]


def image_tag_ids(*, image: Image) -> list[int]:
    return sorted(image.tags.values_list("pk", flat=True))


def image_active_seconds(*, image: Image) -> float:
    return image.activity.aggregate(total=Sum("seconds"))["total"] or 0.0


def project_counts(*, project: Project, role: str) -> dict[str, object]:
    queryset = Image.objects.filter(project=project).visible_to(role)
    by_status = dict.fromkeys(ImageStatus.values, 0)
    for row in queryset.values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    return {"images": sum(by_status.values()), "by_status": by_status}


_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def image_windowed(
    image: Image, window: tuple[float, float] | None = None, *, cached: bool = False
) -> np.ndarray:
    """The frame as float32 ``[0, 1]`` (H, W) through ``window``, else the image's default
    window, else its own range; colour frames as luminance. ``cached``: read through this
    host's copy of the stored file (a worker reading it again, from a remote store)."""
    instance = image.instance
    source = storage.CachedReader(instance.sha256) if cached else storage.reader
    dataset = dicom.open_stored(source, instance.file)
    pixels = dicom.frame_pixels(dataset, image.frame_number - 1)
    if pixels.ndim == 3:
        return (pixels.astype(np.float32) @ _LUMINANCE) / 255.0
    if window is None and image.window_center is not None and image.window_width:
        window = (image.window_center, image.window_width)
    if window is None:
        low, width = float(pixels.min()), float(pixels.max() - pixels.min())
    else:
        low, width = window[0] - window[1] / 2, window[1]
    if width <= 0:
        return np.zeros(pixels.shape, dtype=np.float32)
    return np.clip((pixels - np.float32(low)) / np.float32(width), 0.0, 1.0)
