"""Projects, label classes and members: all writes, each audited where the design asks."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import IntegrityError, transaction

from annotator.exceptions import ApplicationError, ConflictError, ForbiddenError
from annotator.models import Annotation, LabelClass, LabelKind, Membership, Project, Role
from annotator.services.audit import audit_record, audit_saved
from annotator.services.datasets import split_ratios_validate


def _label_class_state(label_class: LabelClass) -> dict[str, Any]:
    return {
        "name": label_class.name,
        "color": label_class.color,
        "kind": label_class.kind,
        "order": label_class.order,
        "segment_type": label_class.segment_type,
        "is_active": label_class.is_active,
    }


@transaction.atomic
def project_create(
    *,
    creator: User,
    slug: str,
    name: str,
    description: str = "",
    split_ratios: dict[str, int] | None = None,
    label_classes: list[dict[str, Any]] | None = None,
    retrain_threshold: int | None = None,
    promotion_min_val_lesions: int | None = None,
    tags_exclusive: bool = False,
    reads_per_image: int = 1,
    unassisted_reads: bool = False,
) -> Project:
    if not (creator.is_superuser or creator.is_staff):
        raise ForbiddenError("Only server administrators create projects.")
    ratios = split_ratios_validate(split_ratios or {"train": 70, "val": 15, "test": 15})
    project = Project(
        slug=slug,
        name=name,
        description=description,
        split_train=ratios["train"],
        split_val=ratios["val"],
        split_test=ratios["test"],
        tags_exclusive=tags_exclusive,
        reads_per_image=reads_per_image,
        unassisted_reads=unassisted_reads,
    )
    if retrain_threshold is not None:
        project.retrain_threshold = retrain_threshold
    if promotion_min_val_lesions is not None:
        project.promotion_min_val_lesions = promotion_min_val_lesions
    project.full_clean()
    try:
        with transaction.atomic():
            project.save()
    except IntegrityError as error:
        raise ConflictError(f"A project with slug {slug!r} exists.", code="slug_taken") from error
    audit_record(
        actor=creator,
        project=project,
        action="project.created",
        obj=project,
        after={"slug": slug, "name": name, "split_ratios": ratios},
    )
    membership_create(project=project, actor=creator, user=creator, role=Role.ADMIN)
    for order, spec in enumerate(label_classes or []):
        label_class_create(project=project, actor=creator, **{"order": order, **spec})
    return project


@transaction.atomic
def project_update(
    *,
    project: Project,
    actor: AbstractBaseUser,
    name: str | None = None,
    description: str | None = None,
    retrain_threshold: int | None = None,
    promotion_min_val_lesions: int | None = None,
    tags_exclusive: bool | None = None,
    reads_per_image: int | None = None,
    unassisted_reads: bool | None = None,
) -> Project:
    before = _settings(project)
    given = {
        "name": name,
        "description": description,
        "retrain_threshold": retrain_threshold,
        "promotion_min_val_lesions": promotion_min_val_lesions,
        "tags_exclusive": tags_exclusive,
        "reads_per_image": reads_per_image,
        "unassisted_reads": unassisted_reads,
    }
    for field, value in given.items():
        if value is not None:
            setattr(project, field, value)
    project.full_clean()
    project.save()
    audit_record(
        actor=actor,
        project=project,
        action="project.updated",
        obj=project,
        before=before,
        after=_settings(project),
    )
    return project


def _settings(project: Project) -> dict[str, Any]:
    """What ``project_update`` changes, as its audit event records it."""
    return {
        "name": project.name,
        "description": project.description,
        "retrain_threshold": project.retrain_threshold,
        "promotion_min_val_lesions": project.promotion_min_val_lesions,
        "tags_exclusive": project.tags_exclusive,
        "reads_per_image": project.reads_per_image,
        "unassisted_reads": project.unassisted_reads,
    }


def label_class_create(
    *,
    project: Project,
    actor: AbstractBaseUser,
    name: str,
    color: str,
    kind: str = LabelKind.INSTANCE,
    order: int = 0,
    segment_type: str = "",
) -> LabelClass:
    label_class = LabelClass(
        project=project,
        name=name,
        color=color,
        kind=kind,
        order=order,
        segment_type=segment_type,
    )
    label_class.full_clean(validate_constraints=False)
    audit_saved(
        conflict=ConflictError(f"A label class named {name!r} exists.", code="name_taken"),
        actor=actor,
        project=project,
        action="label_class.created",
        obj=label_class,
        after=_label_class_state(label_class),
    )
    return label_class


def label_class_update(
    *, label_class: LabelClass, actor: AbstractBaseUser, **changes: Any
) -> LabelClass:
    before = _label_class_state(label_class)
    if (
        "kind" in changes
        and changes["kind"] != label_class.kind
        and (
            Annotation.objects.filter(label_class=label_class).exists()
            or label_class.tagged_images.exists()
        )
    ):
        raise ConflictError(
            "The class is in use; its kind cannot change.", code="label_class_in_use"
        )
    for field in ("name", "color", "kind", "order", "segment_type"):
        if field in changes:
            setattr(label_class, field, changes[field])
    label_class.full_clean(validate_constraints=False)
    audit_saved(
        conflict=ConflictError("A label class with that name exists.", code="name_taken"),
        actor=actor,
        project=label_class.project,
        action="label_class.updated",
        obj=label_class,
        before=before,
        after=_label_class_state(label_class),
    )
    return label_class


@transaction.atomic
def label_class_delete(*, label_class: LabelClass, actor: AbstractBaseUser) -> None:
    """Delete an unused class; a class in use is retired so no label loses its class."""
    before = _label_class_state(label_class)
    in_use = (
        Annotation.objects.filter(label_class=label_class).exists()
        or label_class.tagged_images.exists()
    )
    audit_record(
        actor=actor,
        project=label_class.project,
        action="label_class.retired" if in_use else "label_class.deleted",
        obj=label_class,
        before=before,
    )
    if in_use:
        label_class.is_active = False
        label_class.save(update_fields=["is_active"])
    else:
        label_class.delete()


def _admin_count(project: Project) -> int:
    return Membership.objects.filter(project=project, role=Role.ADMIN).count()


def membership_create(
    *,
    project: Project,
    actor: AbstractBaseUser,
    user: AbstractBaseUser | None = None,
    username: str | None = None,
    role: str,
) -> Membership:
    if user is None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ApplicationError(f"No user named {username!r}.", code="unknown_user")
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="invalid_role")
    membership = Membership(project=project, user=user, role=role)
    audit_saved(
        conflict=ConflictError("That user is already a member.", code="already_member"),
        actor=actor,
        project=project,
        action="membership.created",
        obj=membership,
        after={"user": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def membership_update(*, membership: Membership, actor: AbstractBaseUser, role: str) -> Membership:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="invalid_role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        membership.role == Role.ADMIN
        and role != Role.ADMIN
        and _admin_count(membership.project) <= 1
    ):
        raise ConflictError("A project keeps at least one admin.", code="last_admin")
    before = {"user": membership.user.get_username(), "role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        project=membership.project,
        action="membership.updated",
        obj=membership,
        before=before,
        after={**before, "role": role},
    )
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, actor: AbstractBaseUser) -> None:
    if membership.role == Role.ADMIN and _admin_count(membership.project) <= 1:
        raise ConflictError("A project keeps at least one admin.", code="last_admin")
    audit_record(
        actor=actor,
        project=membership.project,
        action="membership.deleted",
        obj=membership,
        before={"user": membership.user.get_username(), "role": membership.role},
    )
    membership.delete()
