"""Reader agreement: each reader's submitted labels against another reader's of the same image,
and against the final set a reviewer accepted (``annotator.agreement`` computes the figures).

A reader's labels are their latest ``Read`` of an image (what they submitted when they marked it
done). The final set is an accepted (reviewed) image's accepted labels and tags now. Lesions are
matched by mask IoU (a box without a mask counts as its box's area); tags are per tag class,
present or not, over the images both sides read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from annotator import agreement
from annotator.exceptions import ApplicationError
from annotator.models import (
    Annotation,
    AnnotationStatus,
    Image,
    ImageStatus,
    LabelClass,
    LabelKind,
    Project,
    Read,
)

# (reader, image) -> their labels and tags
Reads = dict[tuple[str, int], dict[str, Any]]


def _masks(labels: list[dict[str, Any]], size: tuple[int, int]) -> list[np.ndarray]:
    with_mask = [label["mask"] for label in labels if label.get("mask")]
    masks = agreement.masks_from_rle(with_mask) if with_mask else []
    boxes = [
        agreement.mask_from_box(label["box"], size) for label in labels if not label.get("mask")
    ]
    return masks + boxes


def _latest_reads(
    project: Project,
    *,
    reader: str | None,
    image: int | None,
    since: datetime | None,
    until: datetime | None,
) -> Reads:
    reads = Read.objects.filter(image__project=project, image__quarantined=False).exclude(
        reader__isnull=True
    )
    if image is not None:
        reads = reads.filter(image_id=image)
    if reader is not None:
        reads = reads.filter(reader__username=reader)
    if since is not None:
        reads = reads.filter(submitted_at__gte=since)
    if until is not None:
        reads = reads.filter(submitted_at__lte=until)
    return _latest(reads)


def _latest(reads: QuerySet[Read]) -> Reads:
    """Each reader's latest read of each image."""
    latest: Reads = {}
    rows = reads.order_by("submitted_at", "id").values_list(
        "reader__username", "image_id", "annotations", "tags"
    )
    for name, image_id, labels, tags in rows:
        latest[(name, image_id)] = {"annotations": labels, "tags": set(tags)}
    return latest


def readers_disagree(*, image: Image) -> bool | None:
    """Whether the latest reads of the image's readers disagree: a tag one gave and another
    did not, or a lesion one marked that the other's do not match one to one at mask IoU
    >= 0.5; None while fewer than two readers submitted it."""
    sides = list(_latest(Read.objects.filter(image=image).exclude(reader__isnull=True)).values())
    if len(sides) < 2:
        return None
    size = (image.rows, image.columns)
    for a, b in combinations(sides, 2):
        lesions = agreement.lesion_agreement(
            [(_masks(a["annotations"], size), _masks(b["annotations"], size))]
        )
        unmatched = max(lesions["lesions_a"], lesions["lesions_b"]) > lesions["matched"]
        if unmatched or a["tags"] != b["tags"]:
            return True
    return False


def _final_sets(image_ids: set[int]) -> dict[int, dict[str, Any]]:
    final: dict[int, dict[str, Any]] = {
        pk: {"annotations": [], "tags": set()}
        for pk in Image.objects.filter(pk__in=image_ids, status=ImageStatus.REVIEWED).values_list(
            "pk", flat=True
        )
    }
    accepted = Annotation.objects.filter(image_id__in=final, status=AnnotationStatus.ACCEPTED)
    for a in accepted.order_by("pk"):
        final[a.image_id]["annotations"].append(
            {"label_class": a.label_class_id, "box": a.box, "mask": a.mask}
        )
    for image_id, tag in Image.tags.through.objects.filter(image_id__in=final).values_list(
        "image_id", "labelclass_id"
    ):
        final[image_id]["tags"].add(tag)
    return final


def _compare(
    pairs: list[tuple[dict[str, Any], dict[str, Any], tuple[int, int]]],
    *,
    label_class: int | None,
    tag_classes: list[LabelClass],
) -> dict[str, Any]:
    """Lesion and tag agreement over (side a, side b, image size) pairs of one image each."""

    def labels(side: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            label
            for label in side["annotations"]
            if label_class is None or label["label_class"] == label_class
        ]

    lesions = agreement.lesion_agreement(
        [(_masks(labels(a), size), _masks(labels(b), size)) for a, b, size in pairs]
    )
    tags = {
        tag.name: {
            "kappa": agreement.cohen_kappa(
                [tag.pk in a["tags"] for a, _, _ in pairs],
                [tag.pk in b["tags"] for _, b, _ in pairs],
            ),
            "images": len(pairs),
        }
        for tag in tag_classes
    }
    return {"images": len(pairs), "lesions": lesions, "tags": tags}


FILTERS = ("reader", "label_class", "image", "from", "to")


def _when(filters: dict[str, str], name: str) -> datetime | None:
    value = filters.get(name)
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None and (day := parse_date(value)) is not None:
        parsed = datetime(day.year, day.month, day.day)
    if parsed is None:
        raise ApplicationError(
            f"{name} is a date or a date-time (ISO 8601), not {value!r}.", code="invalid_filter"
        )
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def project_agreement(*, project: Project, filters: dict[str, str]) -> dict[str, Any]:
    """Agreement per reader against the final set, and per pair of readers who read the same
    images, with Fleiss' κ per tag where three or more readers read an image. Filters:
    ``reader`` (a username), ``label_class`` (lesions of one class), ``image`` (one image's
    figures), ``from`` / ``to`` (when the reads were submitted); any other is a 400 naming
    it."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ApplicationError(
            f"Unknown filter(s): {', '.join(unknown)}; use {', '.join(FILTERS)}.",
            code="unknown_filter_field",
        )
    label_class = filters.get("label_class")
    if label_class is not None and not (
        label_class.isdigit()
        and LabelClass.objects.filter(project=project, pk=int(label_class)).exists()
    ):
        raise ApplicationError(
            f"label_class {label_class!r} is not a class of this project.", code="invalid_filter"
        )
    lesion_class = int(label_class) if label_class is not None else None
    image = filters.get("image")
    if image is not None and not image.isdigit():
        raise ApplicationError(f"image is an image id, not {image!r}.", code="invalid_filter")
    reader, since, until = filters.get("reader"), _when(filters, "from"), _when(filters, "to")
    latest = _latest_reads(
        project,
        reader=reader,
        image=int(image) if image is not None else None,
        since=since,
        until=until,
    )
    image_ids = {image_id for _, image_id in latest}
    sizes = {
        pk: (rows, columns)
        for pk, rows, columns in Image.objects.filter(pk__in=image_ids).values_list(
            "pk", "rows", "columns"
        )
    }
    final = _final_sets(image_ids)
    tag_classes = list(
        LabelClass.objects.filter(project=project, kind=LabelKind.TAG).order_by("name")
    )
    by_reader: dict[str, list[int]] = defaultdict(list)
    for name, image_id in sorted(latest):
        by_reader[name].append(image_id)
    readers = [
        {
            "reader": name,
            "reads": len(images),
            "against_final": _compare(
                [(latest[(name, i)], final[i], sizes[i]) for i in images if i in final],
                label_class=lesion_class,
                tag_classes=tag_classes,
            ),
        }
        for name, images in sorted(by_reader.items())
    ]
    pairs = []
    for first, second in combinations(sorted(by_reader), 2):
        shared = sorted(set(by_reader[first]) & set(by_reader[second]))
        if shared:
            figures = _compare(
                [(latest[(first, i)], latest[(second, i)], sizes[i]) for i in shared],
                label_class=lesion_class,
                tag_classes=tag_classes,
            )
            pairs.append({"readers": [first, second], **figures})
    return {
        "readers": readers,
        "pairs": pairs,
        "fleiss": _fleiss(latest, by_reader, tag_classes),
        "final_images": len(final),
        "matching": "lesions matched one to one by mask IoU (Hungarian assignment), a match at "
        "IoU >= 0.5; F1 = 2 matched / (lesions of both sides); Dice is the mean over matches",
    }


def _fleiss(
    latest: Reads, by_reader: dict[str, list[int]], tag_classes: list[LabelClass]
) -> dict[str, Any]:
    """Fleiss' κ per tag over the images read by the most readers (three or more)."""
    readers_of: dict[int, list[str]] = defaultdict(list)
    for name, images in by_reader.items():
        for image_id in images:
            readers_of[image_id].append(name)
    most = max((len(names) for names in readers_of.values()), default=0)
    if most < 3:
        return {"not_measured": "no image was read by three or more readers", "images": 0}
    images = [i for i, names in readers_of.items() if len(names) == most]
    return {
        "readers_per_image": most,
        "images": len(images),
        "tags": {
            tag.name: agreement.fleiss_kappa(
                [[tag.pk in latest[(name, i)]["tags"] for name in readers_of[i]] for i in images]
            )
            for tag in tag_classes
        },
    }
