"""Projects, label classes, members, splits, uploads and the audit trail."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import (
    ADMINS,
    label_class_get_for_user,
    membership_get_for_user,
    project_get_for_user,
    projects_for_user,
    role_for,
)
from annotator.apis.mixins import PaginatedMixin, StrictSerializer, refuse_unknown_fields
from annotator.models import AuditEvent, LabelClass, LabelKind, Membership, Role
from annotator.models.projects import SegmentType
from annotator.permissions import IsServerAdmin, ReadOnly
from annotator.selectors.images import project_counts
from annotator.selectors.projects import audit_event_list, label_class_list, membership_list
from annotator.services import datasets, projects, studies


class LabelClassOutput(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "name", "color", "kind", "order", "segment_type", "is_active"]


class LabelClassInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", max_length=7)
    kind = serializers.ChoiceField(choices=LabelKind.choices, default=LabelKind.INSTANCE)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    segment_type = serializers.ChoiceField(
        choices=SegmentType.choices,
        allow_blank=True,
        required=False,
        help_text="The SNOMED CT code of the class's DICOM-SEG segments; blank: a private code.",
    )


class SplitRatios(StrictSerializer):
    train = serializers.IntegerField(min_value=0, max_value=100)
    val = serializers.IntegerField(min_value=0, max_value=100)
    test = serializers.IntegerField(min_value=0, max_value=100)


class ProjectOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    role = serializers.CharField()
    split_ratios = SplitRatios()
    retrain_threshold = serializers.IntegerField()
    promotion_min_val_lesions = serializers.IntegerField()
    tags_exclusive = serializers.BooleanField(
        help_text="An image takes one tag at most: the classifier's softmax; otherwise a sigmoid "
        "per tag."
    )
    reads_per_image = serializers.IntegerField(
        help_text="Independent reads of each image (1-3), each by another annotator, blinded."
    )
    unassisted_reads = serializers.BooleanField(
        help_text="Annotators see no model proposals or tag suggestions."
    )


class ProjectListApi(PaginatedMixin, APIView):
    permission_classes = [IsAuthenticated & (ReadOnly | IsServerAdmin)]

    class InputSerializer(StrictSerializer):
        slug = serializers.SlugField(max_length=64)
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        split_ratios = SplitRatios(required=False)
        retrain_threshold = serializers.IntegerField(min_value=1, required=False)
        promotion_min_val_lesions = serializers.IntegerField(min_value=1, required=False)
        tags_exclusive = serializers.BooleanField(required=False)
        reads_per_image = serializers.IntegerField(min_value=1, max_value=3, required=False)
        unassisted_reads = serializers.BooleanField(required=False)
        label_classes = LabelClassInput(many=True, required=False)

    class ListOutputSerializer(ProjectOutput):
        counts = serializers.DictField()

    class CreateOutputSerializer(ProjectOutput):
        label_classes = LabelClassOutput(many=True)

    @extend_schema(responses=ListOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        def serialize(page: list) -> list:
            data = [
                {
                    **_project_data(p, request.user),
                    "counts": project_counts(
                        project=p, role=role_for(project=p, user=request.user)
                    ),
                }
                for p in page
            ]
            return self.ListOutputSerializer(data, many=True).data

        return self.paginated(request, projects_for_user(user=request.user), serialize)

    @extend_schema(request=InputSerializer, responses={201: CreateOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = projects.project_create(creator=request.user, **data.validated_data)
        return Response(
            self.CreateOutputSerializer(
                {
                    **_project_data(project, request.user),
                    "label_classes": label_class_list(project=project),
                }
            ).data,
            status=201,
        )


def _project_data(project, user) -> dict:
    return {
        "slug": project.slug,
        "name": project.name,
        "description": project.description,
        "role": role_for(project=project, user=user),
        "split_ratios": project.split_ratios,
        "retrain_threshold": project.retrain_threshold,
        "promotion_min_val_lesions": project.promotion_min_val_lesions,
        "tags_exclusive": project.tags_exclusive,
        "reads_per_image": project.reads_per_image,
        "unassisted_reads": project.unassisted_reads,
    }


class ProjectDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(ProjectOutput):
        label_classes = LabelClassOutput(many=True)
        counts = serializers.DictField()

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        retrain_threshold = serializers.IntegerField(min_value=1, required=False)
        promotion_min_val_lesions = serializers.IntegerField(min_value=1, required=False)
        tags_exclusive = serializers.BooleanField(required=False)
        reads_per_image = serializers.IntegerField(min_value=1, max_value=3, required=False)
        unassisted_reads = serializers.BooleanField(required=False)

    def _output(self, project, user) -> dict:
        role = role_for(project=project, user=user)
        return self.OutputSerializer(
            {
                **_project_data(project, user),
                "label_classes": label_class_list(project=project, active_only=True),
                "counts": project_counts(project=project, role=role),
            }
        ).data

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        return Response(self._output(project, request.user))

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        projects.project_update(project=project, actor=request.user, **data.validated_data)
        return Response(self._output(project, request.user))


class LabelClassListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=LabelClassOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        return Response(LabelClassOutput(label_class_list(project=project), many=True).data)

    @extend_schema(request=LabelClassInput, responses={201: LabelClassOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = LabelClassInput(data=request.data)
        data.is_valid(raise_exception=True)
        label_class = projects.label_class_create(
            project=project, actor=request.user, **data.validated_data
        )
        return Response(LabelClassOutput(label_class).data, status=201)


class LabelClassDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def _get(self, request: Request, slug: str, pk: int) -> LabelClass:
        project = project_get_for_user(slug=slug, user=request.user)
        return label_class_get_for_user(project=project, label_class_id=pk, user=request.user)

    @extend_schema(request=LabelClassInput, responses=LabelClassOutput)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        label_class = self._get(request, slug, pk)
        data = LabelClassInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        label_class = projects.label_class_update(
            label_class=label_class, actor=request.user, **data.validated_data
        )
        return Response(LabelClassOutput(label_class).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        projects.label_class_delete(label_class=self._get(request, slug, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]


class MemberListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=MembershipOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        return Response(MembershipOutput(membership_list(project=project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: MembershipOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = projects.membership_create(
            project=project, actor=request.user, **data.validated_data
        )
        return Response(MembershipOutput(membership).data, status=201)


class MemberDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        role = serializers.ChoiceField(choices=Role.choices)

    def _get(self, request: Request, slug: str, pk: int) -> Membership:
        project = project_get_for_user(slug=slug, user=request.user)
        return membership_get_for_user(project=project, membership_id=pk, user=request.user)

    @extend_schema(request=InputSerializer, responses=MembershipOutput)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        membership = self._get(request, slug, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = projects.membership_update(
            membership=membership, actor=request.user, role=data.validated_data["role"]
        )
        return Response(MembershipOutput(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        projects.membership_delete(membership=self._get(request, slug, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SplitRebalanceApi(APIView):
    """Reassign every patient by new ratios (and optionally a new seed). Audited."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        split_ratios = SplitRatios()
        seed = serializers.CharField(max_length=64, required=False)

    class OutputSerializer(serializers.Serializer):
        moved = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = datasets.splits_rebalance(
            project=project,
            actor=request.user,
            ratios=data.validated_data["split_ratios"],
            seed=data.validated_data.get("seed"),
        )
        return Response(result)


class UploadApi(APIView):
    """Upload DICOM files and zips (multipart field ``files``); a per-file report comes back.

    201 when every file was stored (or already was), the failing file's status when the only
    file failed, 207 when some files failed and others were stored.
    """

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        stored = serializers.IntegerField()
        already_stored = serializers.IntegerField()
        failed = serializers.IntegerField()
        files = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
                "additionalProperties": False,
            }
        },
        responses={201: OutputSerializer, 207: OutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        refuse_unknown_fields(request.data, ["files"])
        uploaded = request.FILES.getlist("files")
        if not uploaded:
            return Response(
                {"code": "no_files", "detail": "Send files in the field 'files'."}, status=400
            )
        outcomes = studies.upload_ingest(
            project=project, actor=request.user, files=[(f.name, f) for f in uploaded]
        )
        failed = [o for o in outcomes if not o.ok]
        body = {
            "stored": sum(o.code == "stored" for o in outcomes),
            "already_stored": sum(o.code == "already_stored" for o in outcomes),
            "failed": len(failed),
            "files": [o.as_dict() for o in outcomes],
        }
        if not failed:
            code = 201
        elif len(failed) == len(outcomes):
            code = failed[0].status if len({o.status for o in failed}) == 1 else 400
            body = {
                "code": failed[0].code,
                "detail": f"{failed[0].name}: {failed[0].detail}",
                **body,
            }
        else:
            code = 207
        return Response(body, status=code)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
        ]


class AuditListApi(PaginatedMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=AuditEventOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        queryset = audit_event_list(project=project, action=request.query_params.get("action"))
        return self.paginated(
            request, queryset, lambda page: AuditEventOutput(page, many=True).data
        )
