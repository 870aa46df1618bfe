"""Second reading: an image's review state and who holds it.

An annotator's Done submits an image. A reviewer (or an admin) accepts it, which locks its
labels until a reviewer or an admin reopens it, or returns it with a comment: a returned image
goes back to the annotator who submitted it, heads their worklist, and their Done submits it
again. Next leases the image it gives to its reader for ``LEASE``, renewed while they work,
so two readers' Next never give the same image. Every step is an audit event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotator.exceptions import ApplicationError, ConflictError, ForbiddenError
from annotator.models import (
    REVIEWERS,
    Annotation,
    AnnotationStatus,
    Image,
    ImageStatus,
    Project,
    Read,
    ReviewComment,
    Source,
    SuggestionDecision,
    TagSuggestion,
)
from annotator.selectors.agreement import readers_disagree
from annotator.selectors.images import image_list
from annotator.selectors.strategies import DONE_STATUSES, strategy_get
from annotator.services.audit import audit_record

LEASE = timedelta(minutes=15)
COMMENT_MAX = 2000


def _check_reviewer(role: str) -> None:
    if role not in REVIEWERS:
        raise ForbiddenError("Only a reviewer or an admin reviews images.", code="not_reviewer")


# an image that leaves its reader's hands: its lease ends
RELEASED: dict[str, Any] = {"leased_to": None, "lease_expires_at": None}


def image_status_locked(image: Image) -> str:
    """The image's status, its row locked until the transaction ends."""
    return Image.objects.select_for_update().values_list("status", flat=True).get(pk=image.pk)


def image_status_write(
    image: Image, *, actor: AbstractBaseUser, action: str, before: str, **fields: Any
) -> None:
    """Write the image's status (and review fields), and audit the change as ``action``."""
    Image.objects.filter(pk=image.pk).update(**fields)
    for name, value in fields.items():
        setattr(image, name, value)
    audit_record(
        actor=actor,
        project=image.project,
        action=action,
        obj=image,
        before={"status": before},
        after={"status": fields.get("status", before)},
    )


def _review_decide(
    image: Image,
    *,
    actor: AbstractBaseUser,
    role: str,
    allowed: tuple[str, ...],
    only: str,
    action: str,
    status: str,
    comment: str | None = None,
    annotation_id: int | None = None,
) -> Image:
    """A reviewer's decision on an image whose status is one of ``allowed`` (``only`` says
    which, when it is not): the reviewer's ``comment`` if any, then the image takes ``status``,
    the reviewer recorded and the lease ended."""
    _check_reviewer(role)
    before = image_status_locked(image)
    if before not in allowed:
        raise ApplicationError(f"Only {only}; this one is {before!r}.", code="invalid_transition")
    if comment is not None:
        review_comment_add(image=image, actor=actor, body=comment, annotation_id=annotation_id)
    image_status_write(
        image,
        actor=actor,
        action=action,
        before=before,
        status=status,
        reviewed_by=actor,
        **RELEASED,
    )
    return image


@transaction.atomic
def image_review_accept(*, image: Image, actor: AbstractBaseUser, role: str) -> Image:
    """Accept a submitted image: its labels are the final set and locked."""
    return _review_decide(
        image,
        actor=actor,
        role=role,
        allowed=(ImageStatus.DONE,),
        only="a submitted (done) image can be accepted",
        action="image.review_accepted",
        status=ImageStatus.REVIEWED,
    )


def _comment_annotation(image: Image, annotation_id: int | None) -> Annotation | None:
    if annotation_id is None:
        return None
    annotation = Annotation.objects.filter(image=image, pk=annotation_id).first()
    if annotation is None:
        raise ApplicationError(
            f"No annotation {annotation_id} on this image.", code="unknown_annotation"
        )
    return annotation


def _comment_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ApplicationError("A comment needs words.", code="empty_comment")
    if len(body) > COMMENT_MAX:
        raise ApplicationError(
            f"A comment is at most {COMMENT_MAX} characters; this one has {len(body)}.",
            code="comment_too_long",
        )
    return body


@transaction.atomic
def review_comment_add(
    *, image: Image, actor: AbstractBaseUser, body: str, annotation_id: int | None = None
) -> ReviewComment:
    """A comment on the image, or on one of its annotations."""
    comment = ReviewComment.objects.create(
        image=image,
        annotation=_comment_annotation(image, annotation_id),
        author=actor,
        body=_comment_body(body),
    )
    audit_record(
        actor=actor,
        project=image.project,
        action="review.comment_added",
        obj=comment,
        after={"image": image.pk, "annotation": annotation_id, "body": comment.body},
    )
    return comment


@transaction.atomic
def image_review_return(
    *,
    image: Image,
    actor: AbstractBaseUser,
    role: str,
    comment: str,
    annotation_id: int | None = None,
) -> Image:
    """Send a submitted (or accepted) image back to the annotator who submitted it, with a
    comment saying why."""
    return _review_decide(
        image,
        actor=actor,
        role=role,
        allowed=DONE_STATUSES,
        only="a submitted or accepted image can be returned",
        action="image.review_returned",
        status=ImageStatus.RETURNED,
        comment=comment,
        annotation_id=annotation_id,
    )


def read_record(*, image: Image, reader: AbstractBaseUser) -> Read:
    """Keep what a reader submits (``image_set_status`` calls it on Done): the image's accepted
    labels and its tags as they are now, for the agreement figures; the image's
    ``readers_disagree`` follows (the reviewer's "readers disagree" filter)."""
    labels = [
        {"label_class": a.label_class_id, "box": a.box, "mask": a.mask}
        for a in Annotation.objects.filter(image=image, status=AnnotationStatus.ACCEPTED).order_by(
            "pk"
        )
    ]
    tags = sorted(image.tags.values_list("pk", flat=True))
    read = Read.objects.create(image=image, reader=reader, annotations=labels, tags=tags)
    image.readers_disagree = readers_disagree(image=image)
    Image.objects.filter(pk=image.pk).update(readers_disagree=image.readers_disagree)
    return read


def reads_pending(*, image: Image) -> bool:
    """Whether the image waits for more independent reads than its readers gave so far."""
    wanted = image.project.reads_per_image
    if wanted <= 1:
        return False
    readers = Read.objects.filter(image=image, reader__isnull=False).values("reader").distinct()
    return readers.count() < wanted


def people_labels_remove(*, image: Image) -> int:
    """Remove the labels people made on the image (the model's proposals stay); how many."""
    _, removed = Annotation.objects.filter(image=image).exclude(source=Source.MODEL).delete()
    return removed.get(Annotation._meta.label, 0)


def image_reset_for_next_reader(*, image: Image, actor: AbstractBaseUser) -> str:
    """After one of several independent reads is kept (``read_record``), the image goes back to
    where its first reader started, so the next reader sees none of it: the labels people made
    go, the model's proposals are as the model proposed them, the tags and tag decisions are
    undone. Audited; returns the image's status now (proposed or unlabelled)."""
    removed = people_labels_remove(image=image)
    proposals = Annotation.objects.filter(image=image, source=Source.MODEL)
    for proposal in proposals.select_related("proposal_outcome"):
        outcome = getattr(proposal, "proposal_outcome", None)
        if outcome is not None:
            proposal.label_class_id = outcome.label_class_id
            proposal.box_x, proposal.box_y, proposal.box_w, proposal.box_h = outcome.box
            proposal.mask = outcome.mask
        proposal.status = AnnotationStatus.PROPOSED
        proposal.touched_by_human = False
        proposal.version += 1
        proposal.save()
    image.tags.clear()
    TagSuggestion.objects.filter(image=image).update(
        decision=SuggestionDecision.PENDING, decided_by=None, decided_at=None
    )
    status = ImageStatus.PROPOSED if proposals.exists() else ImageStatus.UNLABELLED
    audit_record(
        actor=actor,
        project=image.project,
        action="image.read_kept",
        obj=image,
        after={"removed_labels": removed, "proposals_restored": proposals.count()},
    )
    return status.value


def image_reopen(*, image: Image, actor: AbstractBaseUser, role: str, before: str) -> None:
    """Reopening an accepted image (its labels unlock) is a reviewer's or an admin's, and
    audited; ``image_set_status`` calls it inside its transaction."""
    if role not in REVIEWERS:
        raise ForbiddenError(
            "Only a reviewer or an admin can reopen a reviewed image.", code="image_reviewed"
        )
    audit_record(
        actor=actor,
        project=image.project,
        action="image.reopened",
        obj=image,
        before={"status": before},
    )


def _free(now: Any, user: AbstractBaseUser) -> Q:
    return Q(leased_to__isnull=True) | Q(lease_expires_at__lt=now) | Q(leased_to=user)


def _take(image_id: int, *, project: Project, user: AbstractBaseUser) -> bool:
    """Lease the image to ``user`` if nobody else holds it (audited); their other leases end."""
    now = timezone.now()
    until = now + LEASE
    with transaction.atomic():
        taken = (
            Image.objects.filter(pk=image_id)
            .filter(_free(now, user))
            .update(leased_to=user, lease_expires_at=until)
        )
        if taken:
            Image.objects.filter(project=project, leased_to=user).exclude(pk=image_id).update(
                leased_to=None, lease_expires_at=None
            )
            audit_record(
                actor=user,
                project=project,
                action="image.leased",
                obj=Image(pk=image_id),
                after={"until": until.isoformat()},
            )
    return bool(taken)


def image_lease(*, image: Image, user: AbstractBaseUser) -> Image:
    """Take or renew the reader's lease of the image (the viewer renews it while they work);
    409 naming the holder while another reader's lease runs."""
    taken = _take(image.pk, project=image.project, user=user)
    image.refresh_from_db(fields=["leased_to", "lease_expires_at"])
    if not taken:
        holder = image.leased_to.get_username() if image.leased_to else "another reader"
        raise ConflictError(
            f"{holder} is reading this image until {image.lease_expires_at:%H:%M} UTC.",
            code="image_leased",
            extra={"leased_to": holder},
        )
    return image


def image_lease_release(*, image: Image, user: AbstractBaseUser) -> None:
    Image.objects.filter(pk=image.pk, leased_to=user).update(leased_to=None, lease_expires_at=None)


def image_next(
    *,
    project: Project,
    user: AbstractBaseUser,
    role: str,
    filters: dict[str, str],
    after: Image | None = None,
) -> Image | None:
    """The image Next gives ``user``, leased to them: in the worklist's filter and order, the
    row after ``after`` (from the top when the strategy puts images not done first and
    ``after`` is done; the first not done when there is no ``after``), skipping images another
    reader holds and images returned to another annotator. None at the end of the list."""
    strategy = strategy_get(filters.get("ordering", "id"))
    grouped = filters.get("group") == "instance"
    rows = image_list(project=project, role=role, filters=filters, user=user)
    now = timezone.now()
    takeable = rows.filter(_free(now, user)).exclude(
        Q(status=ImageStatus.RETURNED, submitted_by__isnull=False) & ~Q(submitted_by=user)
    )
    if project.reads_per_image > 1:
        # an independent read is another reader's: Next skips the images this one has read
        read = Read.objects.filter(reader_id=user.pk).values("image_id")
        takeable = takeable.exclude(
            Q(id__in=read) & ~Q(status__in=[ImageStatus.RETURNED, *DONE_STATUSES])
        )
    status_field = "group_status" if grouped else "status"
    listed = list(rows.values_list("id", "instance_id", status_field))
    allowed = set(takeable.values_list("id", flat=True))

    def not_done(candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        return [row for row in candidates if row[2] not in DONE_STATUSES]

    def holds(row: tuple[int, int, str]) -> bool:
        if after is None:
            return False
        return row[1] == after.instance_id if grouped else row[0] == after.pk

    place = next((i for i, row in enumerate(listed) if holds(row)), None)
    others = [row for row in listed if not holds(row)]
    if place is None:
        order = not_done(others) + [row for row in others if row[2] in DONE_STATUSES]
    elif strategy.not_done_first and listed[place][2] in DONE_STATUSES and not_done(others):
        order = not_done(others)
    else:
        order = [row for row in listed[place + 1 :] if not holds(row)]
    for image_id, _instance, _status in order:
        if image_id in allowed and _take(image_id, project=project, user=user):
            return Image.objects.select_related("project").get(pk=image_id)
    return None
