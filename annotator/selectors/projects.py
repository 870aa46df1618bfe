"""Reads of a project's label classes, members and audit trail; the caller checked access."""

from __future__ import annotations

from django.db.models import QuerySet

from annotator.models import AuditEvent, LabelClass, Membership, Project


def label_class_list(*, project: Project, active_only: bool = False) -> QuerySet[LabelClass]:
    queryset = project.label_classes.all()
    return queryset.filter(is_active=True) if active_only else queryset


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("id")


def audit_event_list(*, project: Project, action: str | None = None) -> QuerySet[AuditEvent]:
    """The project's audit events, newest first, of one ``action`` when given."""
    queryset = AuditEvent.objects.filter(project=project).select_related("actor")
    if action:
        queryset = queryset.filter(action=action)
    return queryset.order_by("-id")
