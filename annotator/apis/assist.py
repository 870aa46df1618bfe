"""Box → mask: ``POST /api/images/{id}/segment/``. Nothing is stored; the viewer saves the
result as an ordinary annotation with ``source: "assist"``."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import image_get_for_editing
from annotator.apis.annotations import RleField
from annotator.apis.mixins import StrictSerializer
from annotator.services import assist


class ImageSegmentApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        box = serializers.ListField(
            child=serializers.FloatField(),
            min_length=4,
            max_length=4,
            help_text="[x1, y1, x2, y2] in pixels.",
        )
        label_class = serializers.IntegerField()
        window = serializers.ListField(
            child=serializers.FloatField(),
            min_length=2,
            max_length=2,
            required=False,
            help_text="[centre, width] the radiologist is looking at; default: the image's.",
        )

    class OutputSerializer(serializers.Serializer):
        mask = RleField()
        box = serializers.ListField(
            child=serializers.FloatField(), help_text="[x, y, w, h] around the mask."
        )
        engine = serializers.ChoiceField(choices=["model", "classical"])
        model_version = serializers.IntegerField(allow_null=True)
        score = serializers.FloatField(allow_null=True)
        ms = serializers.FloatField(help_text="Server time in milliseconds.")
        note = serializers.CharField(
            required=False, help_text="Why the classical engine answered instead of the model."
        )

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_editing(image_id=pk, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = assist.image_segment(image=image, **data.validated_data)
        body = self.OutputSerializer(result).data
        if result.note is None:
            body.pop("note")
        return Response(body)
