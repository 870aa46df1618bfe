"""A project's augmentation settings, ``GET``/``PUT /api/projects/{slug}/augmentation/``, and
their preview, ``GET /api/projects/{slug}/augmentation/preview/?image=<id>&n=8`` (project
admins, as the Models page)."""

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import ADMINS, image_get_for_user, project_get_for_user
from annotator.apis.mixins import StrictSerializer
from annotator.exceptions import ApplicationError
from annotator.selectors.augmentation import project_augmentation
from annotator.services import augmentation
from radlabel.augmentation import OPS, AugmentationSettings


class OpSettings(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    strength = serializers.FloatField(required=False, help_text="What it means: the op's spec.")
    probability = serializers.FloatField(required=False, help_text="0..1, per sample.")


Settings = type(
    "AugmentationSettings",
    (StrictSerializer,),
    {
        "__doc__": "Each op's settings; an op or field left out takes its default.",
        **{name: OpSettings(required=False, help_text=spec.title) for name, spec in OPS.items()},
    },
)


class OpSpec(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    strength = serializers.CharField(help_text="What the strength means ('none': it has none).")
    low = serializers.FloatField()
    high = serializers.FloatField()
    default = OpSettings()


class SettingsOutput(serializers.Serializer):
    settings = Settings()
    ops = OpSpec(many=True)


def _output(settings: AugmentationSettings) -> dict:
    specs = [
        {
            "name": name,
            "title": spec.title,
            "strength": spec.strength,
            "low": spec.low,
            "high": spec.high,
            "default": spec.default,
        }
        for name, spec in OPS.items()
    ]
    return SettingsOutput({"settings": settings.to_json(), "ops": specs}).data


class AugmentationApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        settings = Settings()

    @extend_schema(responses=SettingsOutput)
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(_output(project_augmentation(project=project)))

    @extend_schema(request=InputSerializer, responses=SettingsOutput)
    def put(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = augmentation.project_augmentation_update(
            project=project, actor=request.user, data=data.validated_data["settings"]
        )
        return Response(_output(settings))


class AugmentationPreviewApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        samples = serializers.ListField(
            child=serializers.CharField(), help_text="Base64 PNGs, labels drawn."
        )
        size = serializers.IntegerField(help_text="Each PNG's longer side at most, px.")
        settings = Settings()

    @extend_schema(
        responses=OutputSerializer,
        parameters=[
            OpenApiParameter("image", int, required=True, description="An image of the project."),
            OpenApiParameter("n", int, description=f"1..{augmentation.PREVIEW_MAX}; 8 without."),
            OpenApiParameter(
                "settings",
                str,
                description="Settings as JSON (as PUT takes them) to preview before saving; "
                "the project's saved ones without.",
            ),
        ],
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        image_id, n = (
            _integer(request, name, default) for name, default in (("image", None), ("n", 8))
        )
        settings = None
        if "settings" in request.query_params:
            try:
                given = json.loads(request.query_params["settings"])
            except ValueError as error:
                raise ApplicationError(
                    "settings is not JSON.", code="invalid_augmentation"
                ) from error
            settings = augmentation.augmentation_settings_parse(given)
        image = image_get_for_user(image_id=image_id, user=request.user, roles=ADMINS)
        chosen = settings or project_augmentation(project=project)
        samples = augmentation.augmentation_preview(
            project=project, image=image, n=n, settings=chosen
        )
        return Response(
            self.OutputSerializer(
                {
                    "samples": samples,
                    "size": augmentation.PREVIEW_SIZE,
                    "settings": chosen.to_json(),
                }
            ).data
        )


def _integer(request: Request, name: str, default: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ApplicationError(f"{name} is an integer.", code=f"invalid_{name}") from error
