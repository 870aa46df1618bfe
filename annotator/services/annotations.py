"""Annotations: every save names the version it edits, so no update is ever silently lost."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from annotator.coco import rle_counts_total, suppress_across_classes
from annotator.exceptions import (
    ApplicationError,
    ConflictError,
    NotFoundError,
    VersionConflictError,
)
from annotator.models import (
    Annotation,
    AnnotationStatus,
    AuditEvent,
    Image,
    ImageActivity,
    ImagePreannotation,
    ImageStatus,
    LabelClass,
    LabelKind,
    ModelVersion,
    ProposalOutcome,
    Source,
    SuggestionDecision,
    TagSuggestion,
)
from annotator.services import review
from annotator.services.audit import audit_event, audit_record

EDITABLE_IMAGE_STATUSES = {ImageStatus.UNLABELLED, ImageStatus.PROPOSED}


def annotation_state(annotation: Annotation) -> dict[str, Any]:
    return {
        "image": annotation.image_id,
        "label_class": annotation.label_class_id,
        "box": annotation.box,
        "mask": annotation.mask,
        "score": annotation.score,
        "source": annotation.source,
        "status": annotation.status,
        "version": annotation.version,
    }


# what a person decides about a proposal
FATE_FIELDS = ("label_class", "box", "mask", "status")


def _deleted_as(annotation: Annotation) -> dict[str, Any]:
    """What a person left of a proposal they deleted."""
    state = annotation_state(annotation)
    return {"client_key": str(annotation.client_key), **{k: state[k] for k in FATE_FIELDS}}


def _deleted_outcomes(image_id: int) -> list[ProposalOutcome]:
    """The image's proposals a person deleted, newest first: a new annotation may bring one
    back."""
    return list(
        ProposalOutcome.objects.filter(
            image_id=image_id, annotation__isnull=True, deleted_as__isnull=False
        ).order_by("-pk")
    )


def _outcome_link(annotation: Annotation, deleted: list[ProposalOutcome] | None = None) -> None:
    """A new annotation that brings back a deleted proposal (the delete undone: with the same
    client key, or exactly as it was deleted) is that proposal again; a new one from the
    box → mask assist is a proposal of its own. ``deleted``: the image's deleted outcomes when
    already loaded (one it brings back leaves the list)."""
    new = _deleted_as(annotation)
    if deleted is None:
        deleted = _deleted_outcomes(annotation.image_id)
    restored = next(
        (
            outcome
            for outcome in deleted
            if (was := outcome.deleted_as or {}).get("client_key") == new["client_key"]
            or all(was.get(k) == new[k] for k in FATE_FIELDS)
        ),
        None,
    )
    if restored is not None:
        deleted.remove(restored)
        restored.annotation, restored.deleted_as = annotation, None
        restored.save(update_fields=["annotation", "deleted_as"])
    elif annotation.source == Source.ASSIST:
        ProposalOutcome.objects.create(**_proposed(annotation))


def _proposed(annotation: Annotation) -> dict[str, Any]:
    """A proposal's outcome row as the annotation first stored it."""
    return {
        "project_id": annotation.project_id,
        "image_id": annotation.image_id,
        "annotation": annotation,
        "model_version": annotation.model_version,
        "source": annotation.source,
        "label_class": annotation.label_class,
        "box": annotation.box,
        "mask": annotation.mask,
    }


def label_class_for(image: Image, label_class_id: int) -> LabelClass:
    label_class = LabelClass.objects.filter(
        pk=label_class_id, project_id=image.project_id, is_active=True, kind=LabelKind.INSTANCE
    ).first()
    if label_class is None:
        raise ApplicationError(
            f"Label class {label_class_id} is not an active instance class of this project.",
            code="invalid_label_class",
        )
    return label_class


def _box(image: Image, box: list[float]) -> list[float]:
    if len(box) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in box):
        raise ApplicationError("A box is four finite numbers [x, y, w, h].", code="invalid_box")
    x, y, w, h = (float(v) for v in box)
    negative = [name for name, size in (("width", w), ("height", h)) if size < 0]
    if negative:
        raise ApplicationError(
            f"The box {box} has a negative {' and '.join(negative)}: a box is [x, y, w, h], "
            "its top-left corner and its size.",
            code="invalid_box",
        )
    if x < 0 or y < 0 or x + w > image.columns or y + h > image.rows:
        raise ApplicationError(
            f"The box {box} is outside the {image.columns}x{image.rows} image.", code="invalid_box"
        )
    return [x, y, w, h]


def _mask(image: Image, mask: dict[str, Any] | None) -> dict[str, Any] | None:
    if mask is None:
        return None
    size, counts = mask.get("size"), mask.get("counts")
    if size != [image.rows, image.columns] or not isinstance(counts, str) or not counts.isascii():
        raise ApplicationError(
            f"A mask is COCO RLE {{size: [{image.rows}, {image.columns}], counts: string}}.",
            code="invalid_mask",
        )
    pixels = image.rows * image.columns
    if rle_counts_total(counts, max_total=pixels) != pixels:
        raise ApplicationError(
            "The mask's RLE runs do not cover its size exactly.", code="invalid_mask"
        )
    return {"size": size, "counts": counts}


def _image_touched(image: Image) -> None:
    Image.objects.filter(pk=image.pk, status__in=EDITABLE_IMAGE_STATUSES).update(
        status=ImageStatus.IN_PROGRESS
    )


def annotation_create(
    *,
    image: Image,
    actor: AbstractBaseUser,
    client_key: uuid.UUID,
    label_class: int,
    box: list[float],
    mask: dict[str, Any] | None = None,
    status: str = AnnotationStatus.ACCEPTED,
    source: str = Source.HUMAN,
) -> tuple[Annotation, bool]:
    """Create a person's annotation (drawn here, or imported). A retry with the same client key
    returns the first row."""
    existing = Annotation.objects.filter(project_id=image.project_id, client_key=client_key).first()
    if existing is not None:
        return _same_image(existing, image), False
    annotation = _new_annotation(
        image=image,
        actor=actor,
        client_key=client_key,
        label_class=label_class_for(image, label_class),
        box=box,
        mask=mask,
        status=status,
        source=source,
    )
    try:
        with transaction.atomic():
            annotation.save()
            _outcome_link(annotation)
            audit_record(
                actor=actor,
                project=image.project,
                action="annotation.created",
                obj=annotation,
                after=annotation_state(annotation),
            )
            _image_touched(image)
    except IntegrityError:
        existing = Annotation.objects.filter(
            project_id=image.project_id, client_key=client_key
        ).first()
        if existing is None:
            raise
        return _same_image(existing, image), False
    return annotation, True


def _new_annotation(
    *,
    image: Image,
    actor: AbstractBaseUser,
    client_key: uuid.UUID,
    label_class: LabelClass,
    box: list[float],
    mask: dict[str, Any] | None = None,
    status: str = AnnotationStatus.ACCEPTED,
    source: str = Source.HUMAN,
) -> Annotation:
    """A person's new annotation, checked and not yet saved."""
    if status not in (AnnotationStatus.ACCEPTED, AnnotationStatus.PROPOSED):
        raise ApplicationError("A new annotation is accepted or proposed.", code="invalid_status")
    annotation = Annotation(
        project_id=image.project_id,
        image=image,
        label_class=label_class,
        client_key=client_key,
        mask=_mask(image, mask),
        source=source,
        status=status,
        touched_by_human=True,
        created_by=actor,
        updated_by=actor,
    )
    annotation.box_x, annotation.box_y, annotation.box_w, annotation.box_h = _box(image, box)
    return annotation


def _batch_create(
    *,
    image: Image,
    actor: AbstractBaseUser,
    creates: list[dict[str, Any]],
    look_up_keys: bool,
) -> list[tuple[Annotation, bool]]:
    """A batch's creates with ``annotation_create``'s rule, each step done once for all: one
    lookup of the classes, one insert of the rows and of their audit events. The client keys
    are looked up first only when ``look_up_keys``; without, a key already taken fails the
    insert (``IntegrityError``) and the caller starts again with them looked up. With, a key
    another request creates at the same moment falls back to one at a time."""
    keys = [item["client_key"] for item in creates]
    existing = (
        {
            a.client_key: a
            for a in Annotation.objects.filter(project_id=image.project_id, client_key__in=keys)
        }
        if look_up_keys
        else {}
    )
    for annotation in existing.values():
        _same_image(annotation, image)
    wanted = {item["label_class"] for item in creates if item["client_key"] not in existing}
    classes = {
        c.pk: c
        for c in LabelClass.objects.filter(
            pk__in=wanted, project_id=image.project_id, is_active=True, kind=LabelKind.INSTANCE
        ).order_by()
    }
    new = [
        _new_annotation(
            image=image,
            actor=actor,
            label_class=classes.get(item["label_class"])
            or label_class_for(image, item["label_class"]),  # not one: its error
            **{k: v for k, v in item.items() if k != "label_class"},
        )
        for item in creates
        if item["client_key"] not in existing
    ]
    if not new:
        return [(existing[key], False) for key in keys]
    if not look_up_keys:
        _batch_insert(image=image, actor=actor, new=new)
    else:
        try:
            with transaction.atomic():
                _batch_insert(image=image, actor=actor, new=new)
        except IntegrityError:
            return [annotation_create(image=image, actor=actor, **item) for item in creates]
    made = {annotation.client_key: annotation for annotation in new}
    return [(made[key], True) if key in made else (existing[key], False) for key in keys]


def _batch_insert(*, image: Image, actor: AbstractBaseUser, new: list[Annotation]) -> None:
    """The rows of a batch's new annotations, their links to deleted proposals they bring
    back, their audit events and the image's progress (already in progress: left as it is)."""
    Annotation.objects.bulk_create(new)
    deleted = _deleted_outcomes(image.pk)
    for annotation in new:
        _outcome_link(annotation, deleted)
    AuditEvent.objects.bulk_create(
        audit_event(
            actor=actor,
            project=image.project,
            action="annotation.created",
            obj=annotation,
            after=annotation_state(annotation),
        )
        for annotation in new
    )
    if image.status in EDITABLE_IMAGE_STATUSES:
        _image_touched(image)


def _same_image(annotation: Annotation, image: Image) -> Annotation:
    if annotation.image_id != image.pk:
        raise ConflictError("This client key was used for another image.", code="client_key_reused")
    return annotation


def _locked(annotation: Annotation, expected_version: int) -> Annotation:
    current = Annotation.objects.select_for_update().select_related("image").get(pk=annotation.pk)
    if current.version != expected_version:
        raise VersionConflictError(
            f"Version {expected_version} is stale: the annotation is at version {current.version}.",
            extra={"current": current},
        )
    return current


@transaction.atomic
def annotation_update(
    *, annotation: Annotation, actor: AbstractBaseUser, expected_version: int, **changes: Any
) -> Annotation:
    current = _locked(annotation, expected_version)
    before = annotation_state(current)
    if "label_class" in changes:
        current.label_class = label_class_for(current.image, changes["label_class"])
    if "box" in changes:
        current.box_x, current.box_y, current.box_w, current.box_h = _box(
            current.image, changes["box"]
        )
    if "mask" in changes:
        current.mask = _mask(current.image, changes["mask"])
    if "status" in changes:
        if changes["status"] not in AnnotationStatus.values:
            raise ApplicationError(f"Unknown status {changes['status']!r}.", code="invalid_status")
        current.status = changes["status"]
    current.version = F("version") + 1
    current.touched_by_human = True
    current.updated_by_id = actor.pk
    current.save()
    current.refresh_from_db()
    audit_record(
        actor=actor,
        project=current.image.project,
        action="annotation.updated",
        obj=current,
        before=before,
        after=annotation_state(current),
    )
    _image_touched(current.image)
    return current


@transaction.atomic
def annotation_delete(
    *, annotation: Annotation, actor: AbstractBaseUser, expected_version: int
) -> None:
    current = _locked(annotation, expected_version)
    audit_record(
        actor=actor,
        project=current.image.project,
        action="annotation.deleted",
        obj=current,
        before=annotation_state(current),
    )
    _image_touched(current.image)
    ProposalOutcome.objects.filter(annotation=current).update(deleted_as=_deleted_as(current))
    current.delete()


@dataclass
class BatchResult:
    created: list[tuple[Annotation, bool]]
    updated: list[Annotation]
    deleted: list[int]


def annotations_batch_apply(
    *,
    image: Image,
    actor: AbstractBaseUser,
    creates: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    deletes: list[dict[str, int]],
) -> BatchResult:
    """Several saves of one image's labels as one: creates as ``annotation_create`` takes them,
    edits (``id``, ``version`` and the fields they change) and deletes (``id``, ``version``).
    When any edit or delete is stale (or its row is gone) nothing is applied, and the error
    lists each such row (``extra["conflicts"]``: its id and current row, None when gone).
    A create whose client key is taken (a retried save) makes the batch start again, in a new
    transaction, with the keys looked up."""
    ids = [item["id"] for item in (*updates, *deletes)]
    if len(set(ids)) != len(ids):
        raise ApplicationError(
            "An annotation is edited or deleted more than once in this batch.",
            code="duplicate_annotation",
        )
    keys = [item["client_key"] for item in creates]
    if len(set(keys)) != len(keys):
        raise ApplicationError(
            "A client key is created more than once in this batch.", code="duplicate_client_key"
        )

    @transaction.atomic
    def apply(look_up_keys: bool) -> BatchResult:
        rows = (
            {
                row.pk: row
                for row in Annotation.objects.select_for_update()
                .select_related("image")
                .filter(image=image, pk__in=ids)
            }
            if ids
            else {}
        )
        conflicts = [
            {"id": item["id"], "current": rows.get(item["id"])}
            for item in (*updates, *deletes)
            if item["id"] not in rows or rows[item["id"]].version != item["version"]
        ]
        if conflicts:
            raise VersionConflictError(
                f"{len(conflicts)} of the batch's edits are based on a version that is not the "
                "current one: nothing was saved.",
                extra={"conflicts": conflicts},
            )
        created = (
            _batch_create(image=image, actor=actor, creates=creates, look_up_keys=look_up_keys)
            if creates
            else []
        )
        updated = [
            annotation_update(
                annotation=rows[item["id"]],
                actor=actor,
                expected_version=item["version"],
                **{k: v for k, v in item.items() if k not in ("id", "version")},
            )
            for item in updates
        ]
        for item in deletes:
            annotation_delete(
                annotation=rows[item["id"]], actor=actor, expected_version=item["version"]
            )
        return BatchResult(created=created, updated=updated, deleted=[i["id"] for i in deletes])

    try:
        return apply(look_up_keys=False)
    except IntegrityError:
        return apply(look_up_keys=True)


@transaction.atomic
def annotations_bulk_set_status(
    *, image: Image, actor: AbstractBaseUser, action: str, ids: list[int] | None = None
) -> list[Annotation]:
    """Accept or reject proposals of one image (all of them when no ids are given)."""
    status = {"accept": AnnotationStatus.ACCEPTED, "reject": AnnotationStatus.REJECTED}.get(action)
    if status is None:
        raise ApplicationError("The action is accept or reject.", code="invalid_action")
    queryset = Annotation.objects.select_for_update().filter(image=image)
    if ids is None:
        queryset = queryset.filter(status=AnnotationStatus.PROPOSED)
    else:
        queryset = queryset.filter(pk__in=ids)
        found = set(queryset.values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise ApplicationError(f"No annotations {missing} on this image.", code="unknown_ids")
    updated = []
    for annotation in queryset.order_by("pk"):
        if annotation.status == status:
            continue
        before = annotation_state(annotation)
        annotation.status = status
        annotation.version += 1
        annotation.touched_by_human = True
        annotation.updated_by_id = actor.pk
        annotation.save(
            update_fields=["status", "version", "touched_by_human", "updated_by", "updated_at"]
        )
        audit_record(
            actor=actor,
            project=image.project,
            action=f"annotation.{action}ed",
            obj=annotation,
            before=before,
            after=annotation_state(annotation),
        )
        updated.append(annotation)
    if updated:
        _image_touched(image)
    return updated


def _untouched_status(image: Image) -> str | None:
    """What an image nobody has labelled is (proposed or unlabelled); None once a person has."""
    if image.tags.exists() or image.annotations.filter(touched_by_human=True).exists():
        return None
    has_proposals = image.annotations.filter(status=AnnotationStatus.PROPOSED).exists()
    return (ImageStatus.PROPOSED if has_proposals else ImageStatus.UNLABELLED).value


@transaction.atomic
def image_set_status(*, image: Image, actor: AbstractBaseUser, status: str, role: str) -> Image:
    """Set an image's progress. Going back to unlabelled or proposed (undoing Done on an image
    nobody labelled) is allowed only while it is true: no label or tag by a person. Done
    submits the image for review (``annotator.services.review``); Reviewed is a reviewer's
    acceptance, and only a reviewer or an admin reopens a reviewed image."""
    if status == ImageStatus.REVIEWED:
        return review.image_review_accept(image=image, actor=actor, role=role)
    before = review.image_status_locked(image)
    if before == ImageStatus.REVIEWED and status != before:
        review.image_reopen(image=image, actor=actor, role=role, before=before)
    allowed: set[str] = {ImageStatus.IN_PROGRESS, ImageStatus.DONE}
    if status in (ImageStatus.UNLABELLED, ImageStatus.PROPOSED):
        untouched = _untouched_status(image)
        if untouched != status:
            raise ApplicationError(
                f"The image cannot be {status!r}: "
                + ("a person has labelled it." if untouched is None else f"it is {untouched!r}."),
                code="invalid_status",
            )
        allowed.add(status)
    if status == ImageStatus.RETURNED:
        raise ApplicationError(
            "A reviewer returns an image with a comment: POST /api/images/{id}/review/.",
            code="invalid_status",
        )
    if status not in allowed:
        raise ApplicationError(f"You cannot set the status {status!r}.", code="invalid_status")
    fields: dict[str, Any] = {"status": status}
    if status == ImageStatus.DONE and before != ImageStatus.DONE:
        fields.update(submitted_by=actor, **review.RELEASED)
        review.read_record(image=image, reader=actor)
        if review.reads_pending(image=image):
            fields["status"] = review.image_reset_for_next_reader(image=image, actor=actor)
    review.image_status_write(
        image, actor=actor, action="image.status_changed", before=before, **fields
    )
    return image


@transaction.atomic
def image_set_tags(*, image: Image, actor: AbstractBaseUser, label_class_ids: list[int]) -> Image:
    classes = list(
        LabelClass.objects.filter(
            project_id=image.project_id, pk__in=label_class_ids, kind=LabelKind.TAG, is_active=True
        )
    )
    if len(classes) != len(set(label_class_ids)):
        raise ApplicationError(
            "Tags must be active tag classes of this project.", code="invalid_label_class"
        )
    before = sorted(image.tags.values_list("pk", flat=True))
    image.tags.set(classes)
    after = sorted(c.pk for c in classes)
    _suggestions_settle(image=image, actor=actor, tags=after)
    if before != after:
        audit_record(
            actor=actor,
            project=image.project,
            action="image.tags_changed",
            obj=image,
            before={"tags": before},
            after={"tags": after},
        )
        _image_touched(image)
    return image


def _suggestions_settle(*, image: Image, actor: AbstractBaseUser | None, tags: list[int]) -> None:
    """A pending suggestion of a tag the image now has is accepted; the image's tag
    uncertainty is over the suggestions still pending."""
    TagSuggestion.objects.filter(
        image=image, decision=SuggestionDecision.PENDING, label_class_id__in=tags
    ).update(decision=SuggestionDecision.ACCEPTED, decided_by=actor, decided_at=timezone.now())
    pending = TagSuggestion.objects.filter(image=image, decision=SuggestionDecision.PENDING)
    image.tag_uncertainty = pending.aggregate(u=Max("uncertainty"))["u"]
    Image.objects.filter(pk=image.pk).update(tag_uncertainty=image.tag_uncertainty)


@transaction.atomic
def tag_suggestions_replace(
    *, image: Image, model_version: ModelVersion, suggestions: list[dict[str, Any]]
) -> None:
    """Store a version's tag probabilities for an image (``label_class``, ``probability``,
    ``threshold``, ``uncertainty`` each): its pending suggestions are replaced; a decided one
    stays as decided, and one of a tag the image already has is accepted at once."""
    decided = set(
        TagSuggestion.objects.filter(image=image)
        .exclude(decision=SuggestionDecision.PENDING)
        .values_list("label_class_id", flat=True)
    )
    TagSuggestion.objects.filter(image=image, decision=SuggestionDecision.PENDING).delete()
    TagSuggestion.objects.bulk_create(
        TagSuggestion(
            image=image,
            model_version=model_version,
            label_class_id=suggestion["label_class"],
            probability=suggestion["probability"],
            threshold=suggestion["threshold"],
            uncertainty=suggestion["uncertainty"],
        )
        for suggestion in suggestions
        if suggestion["label_class"] not in decided
    )
    _suggestions_settle(image=image, actor=None, tags=list(image.tags.values_list("pk", flat=True)))


@transaction.atomic
def tag_suggestion_decide(
    *, image: Image, actor: AbstractBaseUser, label_class_id: int, decision: str
) -> TagSuggestion:
    """Accept a pending suggestion (the tag is set, as a person setting it) or reject it."""
    suggestion = (
        TagSuggestion.objects.select_for_update()
        .filter(image=image, label_class_id=label_class_id, decision=SuggestionDecision.PENDING)
        .first()
    )
    if suggestion is None:
        raise NotFoundError(
            "The image has no pending suggestion of that tag.", code="no_tag_suggestion"
        )
    if decision == SuggestionDecision.ACCEPTED:
        tags = sorted({*image.tags.values_list("pk", flat=True), label_class_id})
        image_set_tags(image=image, actor=actor, label_class_ids=tags)
    elif decision == SuggestionDecision.REJECTED:
        TagSuggestion.objects.filter(pk=suggestion.pk).update(
            decision=decision, decided_by=actor, decided_at=timezone.now()
        )
        _suggestions_settle(image=image, actor=actor, tags=[])
        audit_record(
            actor=actor,
            project=image.project,
            action="tag_suggestion.rejected",
            obj=image,
            before={"label_class": label_class_id, "probability": suggestion.probability},
            after={"decision": decision},
        )
    else:
        raise ApplicationError("decision is 'accepted' or 'rejected'.", code="invalid_decision")
    suggestion.refresh_from_db()
    return suggestion


def image_activity_add(*, image: Image, user: AbstractBaseUser, seconds: float) -> float:
    if not math.isfinite(seconds) or not 0 < seconds <= 3600:
        raise ApplicationError("Seconds must be between 0 and 3600.", code="invalid_seconds")
    with transaction.atomic():
        activity, _ = ImageActivity.objects.get_or_create(image=image, user=user)
        ImageActivity.objects.filter(pk=activity.pk).update(seconds=F("seconds") + seconds)
    activity.refresh_from_db()
    return activity.seconds


@transaction.atomic
def proposals_replace(
    *,
    image: Image,
    proposals: list[dict[str, Any]],
    model_version: ModelVersion | None = None,
    uncertainty: float | None = None,
) -> list[Annotation]:
    """Store a model's proposals for an image, replacing only its untouched proposals.

    Anything a person accepted, edited or rejected stays. Removing the old proposals and storing
    the new ones is one transaction, so a redelivered task leaves exactly one set. Each proposal
    gets its outcome row; a replaced one, which nobody acted on, takes its row along.
    """
    image = Image.objects.select_for_update().select_related("project").get(pk=image.pk)
    replaced = Annotation.objects.filter(
        image=image, source=Source.MODEL, status=AnnotationStatus.PROPOSED, touched_by_human=False
    )
    ProposalOutcome.objects.filter(annotation__in=replaced).delete()
    replaced.delete()
    # masks checked before anything decodes them; one proposal per finding, across classes
    checked = [{**spec, "mask": _mask(image, spec.get("mask"))} for spec in proposals]
    created = []
    for spec in suppress_across_classes(checked, rows=image.rows, cols=image.columns):
        annotation = Annotation(
            project_id=image.project_id,
            image=image,
            label_class=label_class_for(image, spec["label_class"]),
            client_key=uuid.uuid4(),
            mask=spec["mask"],
            score=float(spec["score"]),
            alternatives=[
                {"label_class": label_class_for(image, a["label_class"]).pk, "score": a["score"]}
                for a in spec["alternatives"]
            ],
            source=Source.MODEL,
            status=AnnotationStatus.PROPOSED,
            model_version=model_version,
        )
        annotation.box_x, annotation.box_y, annotation.box_w, annotation.box_h = _box(
            image, spec["box"]
        )
        created.append(annotation)
    Annotation.objects.bulk_create(created)
    ProposalOutcome.objects.bulk_create(ProposalOutcome(**_proposed(a)) for a in created)
    ImagePreannotation.objects.update_or_create(
        image=image, defaults={"model_version": model_version}
    )
    image.uncertainty = uncertainty
    image.max_score = max((a.score for a in created if a.score is not None), default=None)
    if image.status == ImageStatus.UNLABELLED and created:
        image.status = ImageStatus.PROPOSED
    image.save(update_fields=["uncertainty", "max_score", "status"])
    return created
