from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from annotator.models import AuditEvent, Project


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    project: Project | None,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = audit_event(
        actor=actor, project=project, action=action, obj=obj, before=before, after=after
    )
    event.save()
    return event


def audit_event(
    *,
    actor: AbstractBaseUser | None,
    project: Project | None,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """An audit event not yet saved: ``audit_record``'s, for a ``bulk_create`` of several."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        project=project,
        action=action,
        object_type=obj._meta.model_name or type(obj).__name__,
        object_id=str(obj.pk),
        before=before,
        after=after,
    )
