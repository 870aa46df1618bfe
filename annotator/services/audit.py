from __future__ import annotations

from typing import Any, NotRequired, TypedDict, Unpack

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction

from annotator.exceptions import ConflictError
from annotator.models import AuditEvent, Project


class AuditFields(TypedDict):
    """What an audit event says: who did ``action`` to ``obj`` in ``project``, the object's
    state before and after."""

    actor: AbstractBaseUser | None
    project: Project | None
    action: str
    obj: models.Model
    before: NotRequired[dict[str, Any] | None]
    after: NotRequired[dict[str, Any] | None]


def audit_record(**fields: Unpack[AuditFields]) -> AuditEvent:
    event = audit_event(**fields)
    event.save()
    return event


def audit_event(**fields: Unpack[AuditFields]) -> AuditEvent:
    """An audit event not yet saved: ``audit_record``'s, for a ``bulk_create`` of several."""
    actor, obj = fields["actor"], fields["obj"]
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        project=fields["project"],
        action=fields["action"],
        object_type=obj._meta.model_name or type(obj).__name__,
        object_id=str(obj.pk),
        before=fields.get("before"),
        after=fields.get("after"),
    )


def audit_saved(*, conflict: ConflictError, **fields: Unpack[AuditFields]) -> None:
    """Save ``obj`` and record its audit event in one transaction; a unique constraint the
    save breaks raises ``conflict`` (and nothing is kept)."""
    try:
        with transaction.atomic():
            fields["obj"].save()
            audit_record(**fields)
    except IntegrityError as error:
        raise conflict from error
