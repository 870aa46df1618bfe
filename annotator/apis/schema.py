from typing import Any

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from annotator.apis.mixins import StrictSerializer


class AutoSchema(BaseAutoSchema):
    """Names nested ``InputSerializer``/``OutputSerializer`` components after their API class;
    a request body that refuses unknown keys says so (``additionalProperties: false``)."""

    def get_serializer_name(self, serializer: serializers.Serializer, direction: str) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def _map_serializer(
        self, serializer: serializers.Serializer, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            schema["additionalProperties"] = False
        return schema


ERROR_RESPONSES = {
    "400": "The request is invalid; `errors` names each field and what is wrong with it.",
    "401": "Not signed in, or the API token expired or was revoked.",
    "403": "Signed in, but this role may not do this in this project (or the CSRF token is "
    "missing).",
    "404": "No such object in a project of yours.",
    "409": "The object's state forbids this now: a newer version, a lock, a job already running.",
    "413": "The request body or an uploaded file is larger than the limit.",
    "415": "The body's media type is not accepted here.",
    "429": "Too many requests; retry after the number of seconds in `Retry-After`.",
}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error: a stable code, a message to show, and for some codes more "
    "fields (`errors` per field for 400, the current version for a conflict).",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable code."},
        "detail": {"type": "string", "description": "What went wrong, in words."},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "For 400: each invalid field and its messages.",
        },
    },
    "required": ["code", "detail"],
    "additionalProperties": {},
}


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents the API's error envelope
    (:mod:`annotator.exception_handlers` gives every error this shape) for the 4xx codes every
    operation may answer, and for the other 4xx codes an operation declares itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.startswith("4"):
                    response.setdefault("content", body)
    return result
