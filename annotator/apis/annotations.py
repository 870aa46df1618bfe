"""Annotations. Saves name the version they edit (``If-Match: "<version>"`` or ``version``)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import (
    annotation_get_for_user,
    check_image_editable,
    check_labels_readable,
    image_get_for_editing,
    image_get_for_user,
    role_for,
    sees_model_output,
)
from annotator.apis.mixins import StrictSerializer
from annotator.exceptions import ApplicationError, VersionConflictError
from annotator.models import Annotation, AnnotationStatus, Source
from annotator.selectors.annotations import annotation_list
from annotator.services import annotations

NEW_ANNOTATION_STATUS = [AnnotationStatus.ACCEPTED, AnnotationStatus.PROPOSED]
# A person draws an annotation, or saves what box → mask (/segment/) gave them.
NEW_ANNOTATION_SOURCE = [Source.HUMAN, Source.ASSIST]
# The answers of a save that names a version (each with the API's error body).
VERSIONED_SAVE_ERRORS = {
    412: OpenApiResponse(
        description="If-Match names an older version; the body holds the current one."
    ),
    428: OpenApiResponse(description='Neither If-Match: "<version>" nor "version" was sent.'),
}


class RleField(StrictSerializer):
    size = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=2, max_length=2
    )
    counts = serializers.CharField(max_length=16 * 1024 * 1024, trim_whitespace=False)


class AnnotationOutput(serializers.ModelSerializer):
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    mask = RleField(allow_null=True)
    # who wrote this version (a username; null for the model's untouched proposals)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "image",
            "client_key",
            "label_class",
            "box",
            "mask",
            "score",
            "alternatives",
            "source",
            "status",
            "model_version",
            "version",
            "created_at",
            "updated_at",
            "updated_by",
        ]


def _respond(annotation: Annotation, code: int = 200) -> Response:
    response = Response(AnnotationOutput(annotation).data, status=code)
    response["ETag"] = f'"{annotation.version}"'
    return response


class AnnotationListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        client_key = serializers.UUIDField()
        label_class = serializers.IntegerField()
        box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
        mask = RleField(required=False, allow_null=True)
        status = serializers.ChoiceField(
            choices=NEW_ANNOTATION_STATUS, default=AnnotationStatus.ACCEPTED
        )
        source = serializers.ChoiceField(choices=NEW_ANNOTATION_SOURCE, default=Source.HUMAN)

    @extend_schema(responses=AnnotationOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user)
        check_labels_readable(image=image, user=request.user)
        role = role_for(project=image.project, user=request.user)
        listed = annotation_list(
            image=image, model_output=sees_model_output(project=image.project, role=role)
        )
        return Response(AnnotationOutput(listed, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: AnnotationOutput, 200: AnnotationOutput}
    )
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation, created = annotations.annotation_create(
            image=image, actor=request.user, **data.validated_data
        )
        return _respond(annotation, 201 if created else 200)


def _expected_version(request: Request) -> tuple[int, int]:
    """The version a save edits and the status a stale one gets: 412 for If-Match, else 409."""
    if_match = request.headers.get("If-Match")
    if if_match:
        value = if_match.strip().removeprefix("W/").strip('"')
        if not value.isdigit():
            raise ApplicationError(
                'If-Match is the quoted version, e.g. "3".', code="invalid_if_match"
            )
        return int(value), 412
    version = request.data.get("version") if hasattr(request.data, "get") else None
    if isinstance(version, int) and not isinstance(version, bool):
        return version, 409
    raise ApplicationError(
        'Send If-Match: "<version>" (or "version") with every save.',
        code="version_required",
        status=428,
    )


def _conflict(error: VersionConflictError, code: int) -> Response:
    current = error.extra["current"]
    response = Response(
        {"code": error.code, "detail": error.detail, "current": AnnotationOutput(current).data},
        status=code,
    )
    response["ETag"] = f'"{current.version}"'
    return response


class AnnotationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        version = serializers.IntegerField(required=False)
        label_class = serializers.IntegerField(required=False)
        box = serializers.ListField(
            child=serializers.FloatField(), min_length=4, max_length=4, required=False
        )
        mask = RleField(required=False, allow_null=True)
        status = serializers.ChoiceField(choices=AnnotationStatus.choices, required=False)
        source = serializers.CharField(
            required=False,
            help_text="A label's source is set when it is created: a save may send it back "
            "unchanged, never change it.",
        )

        def validate_source(self, value: str) -> str:
            current = self.context["annotation"].source
            if value != current:
                raise serializers.ValidationError(
                    f"A label's source cannot change; this one's is {current!r}."
                )
            return value

    @extend_schema(responses=AnnotationOutput)
    def get(self, request: Request, pk: int) -> Response:
        annotation = annotation_get_for_user(annotation_id=pk, user=request.user)
        check_labels_readable(image=annotation.image, user=request.user)
        return _respond(annotation)

    @extend_schema(
        request=InputSerializer,
        responses={200: AnnotationOutput, **VERSIONED_SAVE_ERRORS},
        parameters=[OpenApiParameter("If-Match", location="header")],
    )
    def patch(self, request: Request, pk: int) -> Response:
        annotation = annotation_get_for_user(annotation_id=pk, user=request.user)
        check_image_editable(image=annotation.image, user=request.user)
        data = self.InputSerializer(data=request.data, context={"annotation": annotation})
        data.is_valid(raise_exception=True)
        expected, stale_status = _expected_version(request)
        changes = {k: v for k, v in data.validated_data.items() if k not in ("version", "source")}
        try:
            annotation = annotations.annotation_update(
                annotation=annotation, actor=request.user, expected_version=expected, **changes
            )
        except VersionConflictError as error:
            return _conflict(error, stale_status)
        return _respond(annotation)

    @extend_schema(
        responses={204: None, **VERSIONED_SAVE_ERRORS},
        parameters=[OpenApiParameter("If-Match", location="header")],
    )
    def delete(self, request: Request, pk: int) -> Response:
        annotation = annotation_get_for_user(annotation_id=pk, user=request.user)
        check_image_editable(image=annotation.image, user=request.user)
        expected, stale_status = _expected_version(request)
        try:
            annotations.annotation_delete(
                annotation=annotation, actor=request.user, expected_version=expected
            )
        except VersionConflictError as error:
            return _conflict(error, stale_status)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchUpdateInput(StrictSerializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)
    label_class = serializers.IntegerField(required=False)
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False
    )
    mask = RleField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=AnnotationStatus.choices, required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.keys() <= {"id", "version"}:
            raise serializers.ValidationError("An edit changes at least one field.")
        return attrs


class BatchDeleteInput(StrictSerializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(min_value=1)


class BatchConflict(serializers.Serializer):
    id = serializers.IntegerField()
    current = AnnotationOutput(allow_null=True)


class AnnotationBatchApi(APIView):
    """Save several of one image's labels in one request and one transaction: creates (each
    with its client key), edits and deletes (each with the version it is based on). When any
    edit or delete is stale, or its annotation is gone, nothing is saved and the 412 lists each
    one with its current state (null: gone)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        create = AnnotationListApi.InputSerializer(many=True, required=False, max_length=1000)
        update = BatchUpdateInput(many=True, required=False, max_length=1000)
        delete = BatchDeleteInput(many=True, required=False, max_length=1000)

    class OutputSerializer(serializers.Serializer):
        annotations = AnnotationOutput(many=True)
        existed = serializers.ListField(child=serializers.UUIDField())
        deleted = serializers.ListField(child=serializers.IntegerField())

    class ConflictSerializer(serializers.Serializer):
        code = serializers.CharField()
        detail = serializers.CharField()
        conflicts = BatchConflict(many=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            412: OpenApiResponse(
                ConflictSerializer, description="Stale or gone annotations; nothing was saved."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = annotations.annotations_batch_apply(
                image=image,
                actor=request.user,
                creates=data.validated_data.get("create", []),
                updates=data.validated_data.get("update", []),
                deletes=data.validated_data.get("delete", []),
            )
        except VersionConflictError as error:
            body = {
                "code": error.code,
                "detail": error.detail,
                "conflicts": BatchConflict(error.extra["conflicts"], many=True).data,
            }
            return Response(body, status=status.HTTP_412_PRECONDITION_FAILED)
        rows = [annotation for annotation, _ in result.created] + result.updated
        return Response(
            {
                "annotations": AnnotationOutput(rows, many=True).data,
                "existed": [str(a.client_key) for a, created in result.created if not created],
                "deleted": result.deleted,
            }
        )


class AnnotationBulkApi(APIView):
    """Accept or reject proposals of one image: the given ids, else every proposal."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        action = serializers.ChoiceField(choices=["accept", "reject"])
        ids = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=10_000
        )

    class OutputSerializer(serializers.Serializer):
        updated = AnnotationOutput(many=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = annotations.annotations_bulk_set_status(
            image=image,
            actor=request.user,
            action=data.validated_data["action"],
            ids=data.validated_data.get("ids"),
        )
        return Response({"updated": AnnotationOutput(updated, many=True).data})
