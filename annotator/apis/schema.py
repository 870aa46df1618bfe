from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from rest_framework import serializers


class AutoSchema(BaseAutoSchema):
    """Names nested ``InputSerializer``/``OutputSerializer`` components after their API class."""

    def get_serializer_name(self, serializer: serializers.Serializer, direction: str) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
