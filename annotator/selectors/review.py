"""Reads of an image's review: who submitted and reviewed it, who holds it, what was said."""

from __future__ import annotations

from django.utils import timezone

from annotator.models import Image, Read, ReviewComment


def _name(user: object) -> str | None:
    return user.get_username() if user is not None else None  # type: ignore[attr-defined]


def review_comments(*, image: Image) -> list[dict[str, object]]:
    return [
        {
            "id": c.pk,
            "annotation": c.annotation_id,
            "author": _name(c.author),
            "body": c.body,
            "created_at": c.created_at,
        }
        for c in ReviewComment.objects.filter(image=image).select_related("author")
    ]


def image_review(*, image: Image) -> dict[str, object]:
    """The image's review facts; the lease only while it runs."""
    row = Image.objects.select_related("submitted_by", "reviewed_by", "leased_to").get(pk=image.pk)
    leased = row.leased_to is not None and row.lease_expires_at is not None
    active = leased and row.lease_expires_at > timezone.now()  # type: ignore[operator]
    return {
        "submitted_by": _name(row.submitted_by),
        "reviewed_by": _name(row.reviewed_by),
        "leased_to": _name(row.leased_to) if active else None,
        "lease_expires_at": row.lease_expires_at if active else None,
        "comments": review_comments(image=image),
    }


def image_reads(*, image: Image) -> list[dict[str, object]]:
    """Each reader's latest read of the image (what they submitted), in the order they first
    read it: the reads a reviewer adjudicates."""
    latest: dict[int | None, Read] = {}
    reads = Read.objects.filter(image=image).select_related("reader")
    for read in reads.order_by("submitted_at", "id"):
        latest[read.reader_id] = read  # a reader keeps the place of their first read
    return [
        {
            "id": read.pk,
            "reader": _name(read.reader),
            "submitted_at": read.submitted_at,
            "annotations": read.annotations,
            "tags": read.tags,
        }
        for read in latest.values()
    ]
