from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from radlabel.backbones import BACKBONES


class BackboneListApi(APIView):
    """The backbones a training can name, in the order the Models page offers them (the
    default of a training that names none on a CPU fleet first)."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField(help_text="A training's backbone option.")
        title = serializers.CharField()
        pretrained = serializers.BooleanField(
            help_text="ImageNet weights ship with the worker: a training from scratch starts "
            "from them."
        )

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(BACKBONES, many=True).data)
