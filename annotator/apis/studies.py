"""Patients, studies and images: listing, files for the viewer, tags and time on task."""

from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import (
    ADMINS,
    LABELLERS,
    check_labels_readable,
    image_get_for_editing,
    image_get_for_user,
    patient_get_for_user,
    project_get_for_user,
    role_for,
    sees_model_output,
    study_get_for_user,
)
from annotator.apis.mixins import PaginatedMixin, StrictSerializer
from annotator.apis.review import ReviewOutput
from annotator.models import Image, ImageStatus, Patient, Split, Study, SuggestionDecision
from annotator.selectors.images import (
    GROUPINGS,
    image_active_seconds,
    image_list,
    image_listing_facts,
    image_tag_ids,
    image_tag_suggestions,
    series_image_ids,
)
from annotator.selectors.review import image_review
from annotator.selectors.strategies import DEFAULT_STRATEGY, STRATEGIES
from annotator.selectors.studies import patient_list, study_list, study_with_series
from annotator.services import annotations, datasets, studies
from annotator.storage import open_stored_file

IMAGE_PROGRESS = ImageStatus.values


class PatientOutput(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "pseudonym", "split", "split_manual", "created_at"]


class PatientListApi(PaginatedMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=PatientOutput(many=True),
        parameters=[OpenApiParameter("split", enum=Split.values)],
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        queryset = patient_list(project=project, split=request.query_params.get("split"))
        return self.paginated(request, queryset, lambda page: PatientOutput(page, many=True).data)


class PatientDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        split = serializers.ChoiceField(choices=Split.choices)

    @extend_schema(responses=PatientOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(PatientOutput(patient_get_for_user(patient_id=pk, user=request.user)).data)

    @extend_schema(request=InputSerializer, responses=PatientOutput)
    def patch(self, request: Request, pk: int) -> Response:
        patient = patient_get_for_user(patient_id=pk, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = datasets.patient_set_split(
            patient=patient, actor=request.user, split=data.validated_data["split"]
        )
        return Response(PatientOutput(patient).data)


class StudyOutput(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.pseudonym")
    split = serializers.CharField(source="patient.split")
    series = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = ["id", "study_uid", "patient", "split", "series", "created_at"]

    def get_series(self, study: Study) -> list[dict]:
        """Of a study from ``study_list`` or ``study_with_series`` (the image counts)."""
        return [
            {
                "id": s.id,
                "series_uid": s.series_uid,
                "modality": s.modality,
                "series_number": s.series_number,
                "images": s.image_count,
            }
            for s in study.series.all()
        ]


class StudyListApi(PaginatedMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StudyOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        queryset = study_list(project=project)
        return self.paginated(request, queryset, lambda page: StudyOutput(page, many=True).data)


class StudyDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StudyOutput)
    def get(self, request: Request, pk: int) -> Response:
        study = study_get_for_user(study_id=pk, user=request.user)
        return Response(StudyOutput(study_with_series(study=study)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        study = study_get_for_user(study_id=pk, user=request.user, roles=ADMINS)
        studies.study_delete(study=study, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopSuggestion(serializers.Serializer):
    label_class = serializers.IntegerField()
    probability = serializers.FloatField()


class TagSuggestionOutput(serializers.Serializer):
    label_class = serializers.IntegerField()
    probability = serializers.FloatField()
    threshold = serializers.FloatField(help_text="The tag's threshold, chosen on val.")
    suggested = serializers.BooleanField(help_text="The probability reaches the threshold.")
    decision = serializers.ChoiceField(choices=SuggestionDecision.choices)
    model_version = serializers.IntegerField(allow_null=True, help_text="Its number.")


class ImageListItem(serializers.Serializer):
    id = serializers.IntegerField()
    study_id = serializers.IntegerField(source="series.study_id")
    series_id = serializers.IntegerField()
    instance_id = serializers.IntegerField()
    patient = serializers.CharField(source="series.study.patient.pseudonym")
    split = serializers.CharField(source="series.study.patient.split")
    modality = serializers.CharField(source="series.modality")
    status = serializers.CharField()
    instance_number = serializers.IntegerField(source="instance.instance_number", allow_null=True)
    series_number = serializers.IntegerField(source="series.series_number", allow_null=True)
    frame_number = serializers.IntegerField()
    frames = serializers.IntegerField(source="instance.number_of_frames")
    rows = serializers.IntegerField()
    columns = serializers.IntegerField()
    uncertainty = serializers.FloatField(allow_null=True)
    max_score = serializers.FloatField(allow_null=True)
    quarantined = serializers.BooleanField()
    classes = serializers.ListField(child=serializers.IntegerField())
    proposed_count = serializers.IntegerField()
    accepted_count = serializers.IntegerField()
    frames_done = serializers.IntegerField(
        required=False, help_text="Rows of group=instance only: its frames done or reviewed."
    )
    top_suggestion = TopSuggestion(
        allow_null=True,
        help_text="The most probable pending tag suggestion at or above its threshold.",
    )
    dicom_url = serializers.SerializerMethodField(
        help_text="The DICOM instance holding this image (frames of one instance share it)."
    )

    def get_dicom_url(self, item: dict) -> str:
        return f"/api/images/{item['id']}/dicom/"


def _list_item(image: Image, facts: dict) -> dict:
    return {
        **{
            f: getattr(image, f)
            for f in (
                "id",
                "series_id",
                "instance_id",
                "status",
                "frame_number",
                "rows",
                "columns",
                "uncertainty",
                "max_score",
                "quarantined",
                "series",
                "instance",
            )
        },
        **facts,
    }


class ImageListApi(PaginatedMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=ImageListItem(many=True),
        parameters=[
            OpenApiParameter("status", enum=ImageStatus.values),
            OpenApiParameter("split", enum=Split.values),
            OpenApiParameter("modality"),
            OpenApiParameter("label_class", int),
            OpenApiParameter(
                "suggested_tag",
                int,
                description="A tag class: images with a pending suggestion of it at or above "
                "its threshold.",
            ),
            OpenApiParameter("series", int),
            OpenApiParameter("study", int),
            OpenApiParameter(
                "readers_disagree",
                bool,
                description="true: images whose readers' submissions disagree (a tag, or a "
                "lesion not matched at mask IoU >= 0.5); false: those whose readers agree.",
            ),
            OpenApiParameter(
                "ordering",
                enum=list(STRATEGIES),
                description="A worklist strategy (GET /api/strategies/ lists them); "
                f"{DEFAULT_STRATEGY} without it.",
            ),
            OpenApiParameter(
                "group",
                enum=list(GROUPINGS),
                description="instance: one row per DICOM instance, so a multi-frame file is one "
                "row (its first frame not done, else frame 1) that matches when any of its "
                "frames does, with the least done status and the highest uncertainty and score "
                "of its frames, and frames_done. Without it every frame is a row.",
            ),
        ],
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        role = role_for(project=project, user=request.user)
        filters = {k: v for k, v in request.query_params.items() if k not in ("page", "page_size")}
        grouped = "group" in filters

        def serialize(page: list) -> list:
            facts = image_listing_facts(
                page, grouped=grouped, model_output=sees_model_output(project=project, role=role)
            )
            data = [_list_item(image, facts[image.pk]) for image in page]
            return ImageListItem(data, many=True).data

        images = image_list(project=project, role=role, filters=filters, user=request.user)
        return self.paginated(request, images, serialize)


class StrategyListApi(APIView):
    """The worklist's strategies: the image list's ``ordering`` values, in the order the
    worklist offers them."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField(help_text="The image list's ordering value.")
        title = serializers.CharField()
        description = serializers.CharField()
        default = serializers.BooleanField(help_text="The order without an ordering value.")
        not_done_first = serializers.BooleanField(
            help_text="Images not yet done come first: one done since it was listed has left "
            "that part, so Next serves the first image not done."
        )

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            self.OutputSerializer(
                [
                    {
                        "name": s.name,
                        "title": s.title,
                        "description": s.description,
                        "default": s.name == DEFAULT_STRATEGY,
                        "not_done_first": s.not_done_first,
                    }
                    for s in STRATEGIES.values()
                ],
                many=True,
            ).data
        )


class ImageDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(ImageListItem):
        window_center = serializers.FloatField(allow_null=True)
        window_width = serializers.FloatField(allow_null=True)
        pixel_spacing = serializers.ListField(child=serializers.FloatField(), allow_null=True)
        photometric = serializers.CharField()
        series = serializers.DictField()
        preview_url = serializers.CharField()
        tags = serializers.ListField(child=serializers.IntegerField())
        tag_suggestions = TagSuggestionOutput(many=True)
        active_seconds = serializers.FloatField()
        review = ReviewOutput()

    class InputSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=IMAGE_PROGRESS)

    def _output(self, image: Image, role: str) -> dict:
        assisted = sees_model_output(project=image.project, role=role)
        facts = image_listing_facts([image], model_output=assisted)[image.pk]
        series = image.series
        return {
            **ImageListItem(_list_item(image, facts)).data,
            "window_center": image.window_center,
            "window_width": image.window_width,
            "pixel_spacing": (
                [image.pixel_spacing_row, image.pixel_spacing_col]
                if image.pixel_spacing_row is not None
                else None
            ),
            "photometric": image.photometric,
            "series": {
                "id": series.pk,
                "modality": series.modality,
                "series_number": series.series_number,
                "image_ids": series_image_ids(image=image, role=role),
            },
            "preview_url": f"/api/images/{image.pk}/preview.png",
            "tags": image_tag_ids(image=image),
            "tag_suggestions": image_tag_suggestions(image=image) if assisted else [],
            "active_seconds": image_active_seconds(image=image),
            "review": image_review(image=image),
        }

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user)
        check_labels_readable(image=image, user=request.user)
        return Response(self._output(image, role_for(project=image.project, user=request.user)))

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=LABELLERS)
        role = role_for(project=image.project, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotations.image_set_status(
            image=image, actor=request.user, status=data.validated_data["status"], role=role
        )
        return Response(self._output(image, role))


def _file_response(request: Request, path: str, etag: str, content_type: str) -> HttpResponse:
    """An authenticated, revalidated, never-sniffed file download."""
    quoted = f'"{etag}"'
    if request.headers.get("If-None-Match") == quoted:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = FileResponse(open_stored_file(path), content_type=content_type)
        response["Content-Disposition"] = "inline"
    response["ETag"] = quoted
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


class ImageDicomApi(APIView):
    """The de-identified Part-10 file of the image's instance (all frames), for the viewer."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/dicom"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        image = image_get_for_user(image_id=pk, user=request.user)
        return _file_response(
            request, image.instance.file, image.instance.sha256, "application/dicom"
        )


class ImagePreviewApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        image = image_get_for_user(image_id=pk, user=request.user)
        return _file_response(
            request,
            studies.image_preview_path(image=image),
            f"{image.instance.sha256}-{image.pk}",
            "image/png",
        )


class ImageTagsApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        label_class_ids = serializers.ListField(child=serializers.IntegerField(), max_length=100)

    @extend_schema(request=InputSerializer, responses=InputSerializer)
    def put(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotations.image_set_tags(image=image, actor=request.user, **data.validated_data)
        return Response({"label_class_ids": image_tag_ids(image=image)})


class ImageTagSuggestionApi(APIView):
    """Accept (the tag is set) or reject a pending tag suggestion of the image."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        label_class = serializers.IntegerField()
        decision = serializers.ChoiceField(
            choices=[SuggestionDecision.ACCEPTED, SuggestionDecision.REJECTED]
        )

    @extend_schema(request=InputSerializer, responses=TagSuggestionOutput(many=True))
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotations.tag_suggestion_decide(
            image=image,
            actor=request.user,
            label_class_id=data.validated_data["label_class"],
            decision=data.validated_data["decision"],
        )
        return Response(TagSuggestionOutput(image_tag_suggestions(image=image), many=True).data)


class ImageActivityApi(APIView):
    """Add active seconds spent on the image (time on task) for the current user."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        seconds = serializers.FloatField()

    class OutputSerializer(serializers.Serializer):
        seconds = serializers.FloatField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=LABELLERS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seconds = annotations.image_activity_add(
            image=image, user=request.user, seconds=data.validated_data["seconds"]
        )
        return Response({"seconds": seconds})


class ImageReleaseApi(APIView):
    """Release a quarantined image (burned-in annotation) to annotators. Audited."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=ADMINS)
        studies.image_release_quarantine(image=image, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
