from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from django.db.models import Model
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from annotator.access import ADMINS, project_get_for_user
from annotator.apis.pagination import Pagination
from annotator.selectors.jobs import job_list


def refuse_unknown_fields(data: object, known: Collection[str]) -> None:
    """A body's key that the endpoint does not take is a 400 naming it (and the keys it takes),
    never silently dropped: a misspelt option must not quietly become the default."""
    if not isinstance(data, Mapping):
        return
    unknown = sorted(set(data) - set(known))
    if unknown:
        message = f"Unknown field; this takes: {', '.join(sorted(known))}."
        raise ValidationError({key: [message] for key in unknown})


class StrictSerializer(Serializer):
    """A request body (or a part of one) that refuses the keys it does not name; the schema
    documents it as closed (``additionalProperties: false``)."""

    def to_internal_value(self, data: Any) -> Any:
        refuse_unknown_fields(
            data, [name for name, field in self.fields.items() if not field.read_only]
        )
        return super().to_internal_value(data)


class PaginatedMixin:
    """A GET answered a page at a time. ``pagination_class`` is also what the schema reads, so
    the page envelope (``count``, ``next``, ``previous``, ``results``) and the ``page`` and
    ``page_size`` parameters are documented."""

    pagination_class = Pagination

    def paginated(
        self, request: Request, items: Sequence[Any], serialize: Callable[[list[Any]], Any]
    ) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, self)
        return paginator.get_paginated_response(serialize(page))


class ProjectJobListMixin(PaginatedMixin):
    """GET a project's jobs of one kind, newest first, paginated (project admins)."""

    job_model: type[Model]
    job_output: type[Serializer]

    def list_jobs(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return self.paginated(
            request,
            job_list(model=self.job_model, project=project),
            lambda page: self.job_output(page, many=True).data,
        )
