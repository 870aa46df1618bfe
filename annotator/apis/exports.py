"""COCO exports (a background job, downloaded by admins), COCO import and DICOM-SEG download."""

from django.conf import settings
from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import ADMINS, job_get_for_user, project_get_for_user, series_get_for_user
from annotator.apis.mixins import ProjectJobListMixin, StrictSerializer
from annotator.exceptions import ApplicationError
from annotator.models import ExportJob, Split
from annotator.services import coco_export, coco_import, dicom_seg, nifti_export
from annotator.storage import open_stored_file


class ExportOutput(serializers.ModelSerializer):
    status = serializers.CharField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "status",
            "progress",
            "error",
            "options",
            "summary",
            "result_sha256",
            "result_size",
            "download_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_download_url(self, job: ExportJob) -> str | None:
        return f"/api/exports/{job.pk}/download/" if job.result_file else None


def _attachment(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


class ExportListApi(ProjectJobListMixin, APIView):
    """Exports of a project (admins): list, or start one (202; a worker builds the zip)."""

    permission_classes = [IsAuthenticated]
    job_model = ExportJob
    job_output = ExportOutput

    class InputSerializer(StrictSerializer):
        split = serializers.ChoiceField(choices=Split.choices, required=False, allow_null=True)
        label_classes = serializers.ListField(
            child=serializers.IntegerField(), required=False, allow_null=True, max_length=1000
        )
        updated_from = serializers.DateTimeField(required=False, allow_null=True)
        updated_to = serializers.DateTimeField(required=False, allow_null=True)
        include_proposals = serializers.BooleanField(required=False, default=False)
        include_reads = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Each image entry also lists every reader's latest submission (labels "
            "and tags) under a pseudonym reader-<n>; the annotations stay the final set.",
        )
        segmentation = serializers.ChoiceField(
            choices=coco_export.SEGMENTATIONS, required=False, default="rle"
        )
        image_format = serializers.ChoiceField(
            choices=coco_export.IMAGE_FORMATS, required=False, default="png8"
        )
        images = serializers.ChoiceField(
            choices=list(coco_export.IMAGE_RULES),
            required=False,
            default="done",
            help_text="'done': only images a person marked done or reviewed (confirmed "
            "negatives included); 'reviewed': only images a second reader accepted; 'all': "
            "every image, with its labelling status.",
        )
        volumes = serializers.ChoiceField(
            choices=nifti_export.VOLUMES,
            required=False,
            default="none",
            help_text="'nifti': each exported series' image and label-map volumes as NIfTI.",
        )
        window = serializers.ListField(
            child=serializers.FloatField(),
            min_length=2,
            max_length=2,
            required=False,
            allow_null=True,
            help_text="[centre, width] for every image instead of each image's default window.",
        )

    @extend_schema(responses=ExportOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return self.list_jobs(request, slug)

    @extend_schema(request=InputSerializer, responses={202: ExportOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = coco_export.export_create(
            project=project, actor=request.user, options=dict(data.validated_data)
        )
        return Response(ExportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ExportOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            ExportOutput(job_get_for_user(model=ExportJob, job_id=pk, user=request.user)).data
        )


class ExportDownloadApi(APIView):
    """The export zip, streamed to a project admin as an attachment. Audited."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        job = job_get_for_user(model=ExportJob, job_id=pk, user=request.user)
        coco_export.export_downloaded(job=job, actor=request.user)
        response = FileResponse(
            open_stored_file(job.result_file),
            as_attachment=True,
            filename=f"radlabel-{job.project.slug}-export-{job.pk}.zip",
            content_type="application/zip",
        )
        response["ETag"] = f'"{job.result_sha256}"'
        return _attachment(response)


class CocoImportApi(APIView):
    """Import a COCO instances file (multipart ``file``) as accepted labels or proposals,
    optionally giving the matched patients the file's splits (``keep_splits``)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        file = serializers.FileField()
        keep_splits = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Give each matched image's patient the split its image entry names "
            "(audited, marked manual).",
        )

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            fields["as"] = serializers.ChoiceField(
                choices=coco_import.IMPORT_STATUSES, default="accepted"
            )
            return fields

    class OutputSerializer(serializers.Serializer):
        imported = serializers.IntegerField()
        exists = serializers.IntegerField()
        skipped = serializers.IntegerField()
        splits = serializers.DictField(
            allow_null=True,
            help_text="With keep_splits: the matched patients and those whose split moved.",
        )
        annotations = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        request={"multipart/form-data": InputSerializer}, responses={200: OutputSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size is not None and upload.size > settings.RADLABEL_MAX_FILE_BYTES:
            raise ApplicationError("The file is too large.", code="file_too_large", status=413)
        report = coco_import.coco_import(
            project=project,
            actor=request.user,
            data=upload.read(),
            as_status=data.validated_data["as"],
            keep_splits=data.validated_data["keep_splits"],
        )
        return Response(self.OutputSerializer(report).data)


class SeriesSegApi(APIView):
    """The series' accepted masks as a DICOM Segmentation instance (admins). Audited. The same
    labels give the same instance (revision); changed labels the next revision, which
    references the one before. The headers say which revision this is."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={(200, "application/dicom"): bytes},
        parameters=[
            OpenApiParameter(
                "X-Seg-Sop-Instance-Uid",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description="The SOP Instance UID of this SEG.",
            ),
            OpenApiParameter(
                "X-Seg-Instance-Number",
                int,
                OpenApiParameter.HEADER,
                response=[200],
                description="The revision: 1 for the series' first SEG, then 2, 3...",
            ),
            OpenApiParameter(
                "X-Seg-Previous-Sop-Instance-Uid",
                str,
                OpenApiParameter.HEADER,
                response=[200],
                description="The SOP Instance UID of the revision before; absent for the first.",
            ),
        ],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        series = series_get_for_user(series_id=pk, user=request.user)
        result = dicom_seg.series_seg_export(series=series, actor=request.user)
        response = HttpResponse(result.data, content_type="application/dicom")
        response["Content-Disposition"] = f'attachment; filename="radlabel-seg-{series.pk}.dcm"'
        response["X-Seg-Sop-Instance-Uid"] = result.sop_instance_uid
        response["X-Seg-Instance-Number"] = str(result.instance_number)
        if result.previous_sop_instance_uid is not None:
            response["X-Seg-Previous-Sop-Instance-Uid"] = result.previous_sop_instance_uid
        return _attachment(response)
