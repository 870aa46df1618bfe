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
    REVIEWERS,
    Annotation,
    Image,
    ImageStatus,
    LabelClass,
    Membership,
    ModelVersion,
    Patient,
    Project,
    Read,
    Role,
    Series,
    Study,
)

User = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=Model)

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
    if not image.is_visible_to(role):
        raise NotFoundError("Not found.")
    _check_role(role, roles)
    return image


def check_image_editable(*, image: Image, user: User) -> None:
    """A reviewed (accepted) image's labels are locked for everyone until a reviewer or an
    admin reopens it; a reader blinded to an image's other reads cannot edit it either."""
    check_labels_readable(image=image, user=user)
    if image.status == ImageStatus.REVIEWED:
        reviews = role_for(project=image.project, user=user) in REVIEWERS
        raise ForbiddenError(
            "This image was accepted in review: its labels are locked until "
            + ("you reopen it." if reviews else "a reviewer or an admin reopens it."),
            code="image_reviewed",
        )


def image_get_for_editing(*, image_id: int, user: User) -> Image:
    """An image whose labels ``user`` may change: a labeller's, not locked by review, not
    blinded to them."""
    image = image_get_for_user(image_id=image_id, user=user, roles=LABELLERS)
    check_image_editable(image=image, user=user)
    return image


def sees_model_output(*, project: Project, role: str | None) -> bool:
    """Whether a member sees model proposals and tag suggestions: not an annotator of a project
    whose reads are unassisted."""
    return not (project.unassisted_reads and role == Role.ANNOTATOR)


def check_labels_readable(*, image: Image, user: User) -> None:
    """Blinded reads: while an image waits for more independent reads, a reader who already
    submitted theirs sees none of its labels (they are the next reader's); a reviewer or an
    admin sees them."""
    if image.project.reads_per_image <= 1 or image.status in (
        ImageStatus.DONE,
        ImageStatus.REVIEWED,
    ):
        return
    if role_for(project=image.project, user=user) in REVIEWERS:
        return
    if Read.objects.filter(image=image, reader_id=user.pk).exists():
        raise ForbiddenError(
            "You have read this image; it waits for its other independent reads, which are "
            "blinded until all are in.",
            code="read_blinded",
        )


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
    if not annotation.image.is_visible_to(role):
        raise NotFoundError("Not found.")
    _check_role(role, roles)
    return annotation


def _scoped_get(
    queryset: QuerySet[M], *, pk: int, user: User, roles: Collection[str], project_path: str
) -> M:
    """The object ``pk`` if it belongs to one of the user's projects and the role allows."""
    obj = (
        queryset.filter(pk=pk, **{f"{project_path}__in": projects_for_user(user=user)})
        .select_related(project_path)
        .first()
    )
    if obj is None:
        raise NotFoundError("Not found.")
    project = obj
    for part in project_path.split("__"):
        project = getattr(project, part)
    _check_role(role_for(project=project, user=user), roles)
    return obj


def study_get_for_user(*, study_id: int, user: User, roles: Collection[str] = ANY_ROLE) -> Study:
    return _scoped_get(
        Study.objects.select_related("patient"),
        pk=study_id,
        user=user,
        roles=roles,
        project_path="project",
    )


def patient_get_for_user(
    *, patient_id: int, user: User, roles: Collection[str] = ANY_ROLE
) -> Patient:
    return _scoped_get(
        Patient.objects.all(), pk=patient_id, user=user, roles=roles, project_path="project"
    )


def series_get_for_user(
    *, series_id: int, user: User, roles: Collection[str] = ADMINS, project: Project | None = None
) -> Series:
    """The series, when it belongs to one of the user's projects (to ``project`` when given)."""
    queryset = (
        Series.objects.all() if project is None else Series.objects.filter(study__project=project)
    )
    return _scoped_get(
        queryset, pk=series_id, user=user, roles=roles, project_path="study__project"
    )


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
    *, model: type[M], job_id: int, user: User, roles: Collection[str] = ADMINS
) -> M:
    return _scoped_get(
        model.objects.all(), pk=job_id, user=user, roles=roles, project_path="project"
    )


def model_version_get_for_user(
    *, version_id: int, user: User, roles: Collection[str] = ADMINS
) -> ModelVersion:
    return _scoped_get(
        ModelVersion.objects.all(), pk=version_id, user=user, roles=roles, project_path="project"
    )
