"""PACS over DICOMweb for project admins: endpoints, search, import jobs and SEG push."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import ADMINS, project_get_for_user, series_get_for_user
from annotator.apis.mixins import ProjectJobListMixin, StrictSerializer
from annotator.models import DicomWebEndpoint, PacsImportJob
from annotator.selectors.pacs import endpoint_get, endpoint_list, pacs_import_get
from annotator.services import pacs


class EndpointOutput(serializers.ModelSerializer):
    """Never the secret."""

    class Meta:
        model = DicomWebEndpoint
        fields = ["id", "name", "url", "auth", "username", "created_at"]


class PacsImportOutput(serializers.ModelSerializer):
    status = serializers.CharField()

    class Meta:
        model = PacsImportJob
        fields = [
            "id",
            "endpoint",
            "status",
            "progress",
            "error",
            "total",
            "done",
            "report",
            "created_at",
            "started_at",
            "finished_at",
        ]


class PacsEndpointListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100)
        url = serializers.CharField(max_length=500)
        auth = serializers.ChoiceField(
            choices=DicomWebEndpoint.Auth.choices, default=DicomWebEndpoint.Auth.NONE
        )
        username = serializers.CharField(max_length=150, required=False, default="")
        secret = serializers.CharField(max_length=500, required=False, default="", write_only=True)

    @extend_schema(responses=EndpointOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(EndpointOutput(endpoint_list(project=project), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: EndpointOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = pacs.endpoint_create(project=project, actor=request.user, **data.validated_data)
        return Response(EndpointOutput(endpoint).data, status=status.HTTP_201_CREATED)


class PacsEndpointDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=EndpointOutput)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(EndpointOutput(endpoint_get(project=project, endpoint_id=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        pacs.endpoint_delete(
            endpoint=endpoint_get(project=project, endpoint_id=pk), actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PacsSearchApi(APIView):
    """QIDO-RS study search. POST so that the search terms never appear in a URL or access log;
    the answer is the PACS's identifying metadata, for this admin only (not stored, not cached).
    """

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        patient_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
        patient_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
        modality = serializers.CharField(max_length=16, required=False, allow_blank=True)
        study_date_from = serializers.RegexField(r"^[0-9]{8}$", required=False)
        study_date_to = serializers.RegexField(r"^[0-9]{8}$", required=False)
        accession = serializers.CharField(max_length=64, required=False, allow_blank=True)
        limit = serializers.IntegerField(
            min_value=1, max_value=pacs.MAX_SEARCH_RESULTS, required=False
        )

    class OutputSerializer(serializers.Serializer):
        study_uid = serializers.CharField(allow_null=True)
        patient_name = serializers.CharField(allow_null=True)
        patient_id = serializers.CharField(allow_null=True)
        study_date = serializers.CharField(allow_null=True)
        accession = serializers.CharField(allow_null=True)
        description = serializers.CharField(allow_null=True)
        modalities = serializers.ListField(child=serializers.CharField())
        instances = serializers.IntegerField(allow_null=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer(many=True))
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        endpoint = endpoint_get(project=project, endpoint_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = pacs.pacs_search(endpoint=endpoint, query=dict(data.validated_data))
        response = Response(self.OutputSerializer(results, many=True).data)
        response["Cache-Control"] = "no-store"
        return response


class PacsImportApi(APIView):
    """Pull chosen studies into the project (202): a worker retrieves and ingests each instance."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        study_uids = serializers.ListField(
            child=serializers.CharField(max_length=64),
            min_length=1,
            max_length=pacs.MAX_STUDIES_PER_IMPORT,
        )

    @extend_schema(request=InputSerializer, responses={202: PacsImportOutput})
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        endpoint = endpoint_get(project=project, endpoint_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = pacs.pacs_import_create(
            project=project,
            actor=request.user,
            endpoint=endpoint,
            study_uids=data.validated_data["study_uids"],
        )
        return Response(PacsImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class PacsPushApi(APIView):
    """STOW-RS the DICOM-SEG of a series' accepted masks to the endpoint."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        series = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        sop_instance_uid = serializers.CharField()
        series_instance_uid = serializers.CharField()
        study_instance_uid = serializers.CharField()
        instance_number = serializers.IntegerField(
            help_text="The SEG's revision: 1 for the series' first, then 2, 3..."
        )
        previous_sop_instance_uid = serializers.CharField(
            allow_null=True, help_text="The SOP Instance UID of the revision before; null: none."
        )
        segments = serializers.DictField(child=serializers.CharField())

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        endpoint = endpoint_get(project=project, endpoint_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        series = series_get_for_user(
            series_id=data.validated_data["series"], user=request.user, project=project
        )
        result = pacs.pacs_push_seg(endpoint=endpoint, series=series, actor=request.user)
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


class PacsImportListApi(ProjectJobListMixin, APIView):
    permission_classes = [IsAuthenticated]
    job_model = PacsImportJob
    job_output = PacsImportOutput

    @extend_schema(responses=PacsImportOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return self.list_jobs(request, slug)


class PacsImportDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PacsImportOutput)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(PacsImportOutput(pacs_import_get(project=project, job_id=pk)).data)
