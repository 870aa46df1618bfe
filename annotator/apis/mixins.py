from django.db.models import Model
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from annotator.access import ADMINS, project_get_for_user
from annotator.apis.pagination import Pagination


class ProjectJobListMixin:
    """GET a project's jobs of one kind, newest first, paginated (project admins)."""

    job_model: type[Model]
    job_output: type[Serializer]

    def list_jobs(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            self.job_model.objects.filter(project=project).order_by("-id"), request, self
        )
        return paginator.get_paginated_response(self.job_output(page, many=True).data)
