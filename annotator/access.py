"""The only way APIs load protected objects.

Objects of a project the user is not a member of answer 404 exactly like missing ones, so ids
are no existence oracle. Members whose role does not allow the operation get 403.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, QuerySet

from annotator.exceptions import ForbiddenError, NotFoundError
from annotator.models import (
    Annotation,
    Image,
    LabelClass,
    Membership,
    ModelVersion,
    Patient,
    Project,
    Role,
    Study,
)

User = AbstractBaseUser | AnonymousUser
Job = TypeVar("Job", bound=Model)

ANY_ROLE: frozenset[str] = frozenset(Role.values)
LABELLERS: frozenset[str] = frozenset({Role.ADMIN, Role.ANNOTATOR, Role.REVIEWER})
ADMINS: frozenset[str] = frozenset({Role.ADMIN})


def role_for(*, project: Project, user: User) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def projects_for_user(*, user: User) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def _check_role(role: str | None, roles: Collection[str]) -> None:
    if role is None:
        raise NotFoundError("Not found.")
    if role not in roles:
        raise ForbiddenError("Your role in this project does not allow this.")


def project_get_for_user(*, slug: str, user: User, roles: Collection[str] = ANY_ROLE) -> Project:
    project = projects_for_user(user=user).filter(slug=slug).first()
    if project is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=project, user=user), roles)
    return project


def image_get_for_user(*, image_id: int, user: User, roles: Collection[str] = ANY_ROLE) -> Image:
    image = (
        Image.objects.filter(pk=image_id, project__in=projects_for_user(user=user))
        .select_related("project", "series__study__patient", "instance")
        .first()
    )
    if image is None:
        raise NotFoundError("Not found.")
    role = role_for(project=image.project, user=user)
    if image.quarantined and role != Role.ADMIN:
        raise NotFoundError("Not found.")
    _check_role(role, roles)
    return image


def annotation_get_for_user(
    *, annotation_id: int, user: User, roles: Collection[str] = LABELLERS
) -> Annotation:
    annotation = (
        Annotation.objects.filter(pk=annotation_id, project__in=projects_for_user(user=user))
        .select_related("image", "project")
        .first()
    )
    if annotation is None:
        raise NotFoundError("Not found.")
    role = role_for(project=annotation.project, user=user)
    if annotation.image.quarantined and role != Role.ADMIN:
        raise NotFoundError("Not found.")
    _check_role(role, roles)
    return annotation


def study_get_for_user(*, study_id: int, user: User, roles: Collection[str] = ANY_ROLE) -> Study:
    study = (
        Study.objects.filter(pk=study_id, project__in=projects_for_user(user=user))
        .select_related("project", "patient")
        .first()
    )
    if study is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=study.project, user=user), roles)
    return study


def patient_get_for_user(
    *, patient_id: int, user: User, roles: Collection[str] = ANY_ROLE
) -> Patient:
    patient = (
        Patient.objects.filter(pk=patient_id, project__in=projects_for_user(user=user))
        .select_related("project")
        .first()
    )
    if patient is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=patient.project, user=user), roles)
    return patient


def label_class_get_for_user(
    *, project: Project, label_class_id: int, user: User, roles: Collection[str] = ADMINS
) -> LabelClass:
    _check_role(role_for(project=project, user=user), roles)
    label_class = LabelClass.objects.filter(project=project, pk=label_class_id).first()
    if label_class is None:
        raise NotFoundError("Not found.")
    return label_class


def membership_get_for_user(
    *, project: Project, membership_id: int, user: User, roles: Collection[str] = ADMINS
) -> Membership:
    _check_role(role_for(project=project, user=user), roles)
    membership = (
        Membership.objects.filter(project=project, pk=membership_id).select_related("user").first()
    )
    if membership is None:
        raise NotFoundError("Not found.")
    return membership


def job_get_for_user(
    *, model: type[Job], job_id: int, user: User, roles: Collection[str] = ADMINS
) -> Job:
    job = model.objects.filter(pk=job_id, project__in=projects_for_user(user=user)).first()
    if job is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=job.project, user=user), roles)
    return job


def model_version_get_for_user(
    *, version_id: int, user: User, roles: Collection[str] = ADMINS
) -> ModelVersion:
    version = (
        ModelVersion.objects.filter(pk=version_id, project__in=projects_for_user(user=user))
        .select_related("project")
        .first()
    )
    if version is None:
        raise NotFoundError("Not found.")
    _check_role(role_for(project=version.project, user=user), roles)
    return version
