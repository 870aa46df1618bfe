"""Second reading: accept or return a submitted image, comments, leases and Next."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import LABELLERS, image_get_for_user, project_get_for_user, role_for
from annotator.apis.mixins import StrictSerializer
from annotator.exceptions import ApplicationError
from annotator.models import REVIEWERS
from annotator.selectors.agreement import project_agreement
from annotator.selectors.review import image_reads, image_review, review_comments
from annotator.services import adjudication, review


class CommentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    annotation = serializers.IntegerField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReviewOutput(serializers.Serializer):
    submitted_by = serializers.CharField(allow_null=True)
    reviewed_by = serializers.CharField(allow_null=True)
    leased_to = serializers.CharField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    comments = CommentOutput(many=True)


class ImageReviewApi(APIView):
    """A reviewer's decision on a submitted image: accept (its labels lock) or return it to
    the annotator who submitted it, with a comment (on one of its annotations, if named)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        decision = serializers.ChoiceField(choices=["accept", "return"])
        comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
        annotation = serializers.IntegerField(required=False, allow_null=True)

    class OutputSerializer(ReviewOutput):
        status = serializers.CharField()

    @extend_schema(responses=ReviewOutput)
    def get(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user)
        return Response(ReviewOutput(image_review(image=image)).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=REVIEWERS)
        role = role_for(project=image.project, user=request.user) or ""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = data.validated_data
        if decision["decision"] == "accept":
            review.image_review_accept(image=image, actor=request.user, role=role)
        else:
            if "comment" not in decision:
                raise ApplicationError(
                    "Returning an image needs a comment saying why.", code="empty_comment"
                )
            review.image_review_return(
                image=image,
                actor=request.user,
                role=role,
                comment=decision["comment"],
                annotation_id=decision.get("annotation"),
            )
        body = {**image_review(image=image), "status": image.status}
        return Response(self.OutputSerializer(body).data)


class ImageCommentListApi(APIView):
    """The image's review comments; any labeller may answer one."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        body = serializers.CharField(allow_blank=True, trim_whitespace=False)
        annotation = serializers.IntegerField(required=False, allow_null=True)

    @extend_schema(responses=CommentOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user)
        return Response(CommentOutput(review_comments(image=image), many=True).data)

    @extend_schema(request=InputSerializer, responses=CommentOutput(many=True))
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=LABELLERS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review.review_comment_add(
            image=image,
            actor=request.user,
            body=data.validated_data["body"],
            annotation_id=data.validated_data.get("annotation"),
        )
        comments = CommentOutput(review_comments(image=image), many=True).data
        return Response(comments, status=status.HTTP_201_CREATED)


class LeaseOutput(serializers.Serializer):
    leased_to = serializers.CharField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)


class ImageLeaseApi(APIView):
    """Take or renew the reader's lease of the image (409 while another reader holds it), or
    give it up."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=LeaseOutput)
    def put(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=LABELLERS)
        review.image_lease(image=image, user=request.user)
        return Response(LeaseOutput(image_review(image=image)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=LABELLERS)
        review.image_lease_release(image=image, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NextOutput(serializers.Serializer):
    image = serializers.IntegerField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)


class ProjectNextApi(APIView):
    """The next image of the worklist's filter and order for this reader, leased to them so
    no other reader's Next gives it meanwhile; ``image`` is null at the end of the list."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses=NextOutput,
        parameters=[
            OpenApiParameter(
                "after", int, description="The image the reader leaves; none: continue."
            )
        ],
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=LABELLERS)
        role = role_for(project=project, user=request.user) or ""
        filters = {
            k: v for k, v in request.query_params.items() if k not in ("page", "page_size", "after")
        }
        after = request.query_params.get("after")
        current = None
        if after is not None:
            if not after.isdigit():
                raise ApplicationError("after is an image id.", code="invalid_filter")
            current = image_get_for_user(image_id=int(after), user=request.user)
            if current.project_id != project.pk:
                raise ApplicationError(
                    "after is an image of another project.", code="invalid_filter"
                )
        image = review.image_next(
            project=project, user=request.user, role=role, filters=filters, after=current
        )
        body = {
            "image": image.pk if image else None,
            "lease_expires_at": image.lease_expires_at if image else None,
        }
        return Response(NextOutput(body).data)


class LesionFigures(serializers.Serializer):
    images = serializers.IntegerField()
    lesions_a = serializers.IntegerField(help_text="The reader's (or the first reader's).")
    lesions_b = serializers.IntegerField(help_text="The final set's (or the second reader's).")
    matched = serializers.IntegerField()
    f1 = serializers.FloatField(allow_null=True, help_text="Null: no lesion on either side.")
    mean_dice = serializers.FloatField(allow_null=True, help_text="Null: nothing matched.")


class TagFigure(serializers.Serializer):
    kappa = serializers.FloatField(allow_null=True, help_text="Null: undefined (p_e = 1).")
    images = serializers.IntegerField()


class AgreementFigures(serializers.Serializer):
    images = serializers.IntegerField()
    lesions = LesionFigures()
    tags = serializers.DictField(child=TagFigure())


class ReaderAgreement(serializers.Serializer):
    reader = serializers.CharField()
    reads = serializers.IntegerField()
    against_final = AgreementFigures()


class PairAgreement(AgreementFigures):
    readers = serializers.ListField(child=serializers.CharField())


class AgreementOutput(serializers.Serializer):
    readers = ReaderAgreement(many=True)
    pairs = PairAgreement(many=True)
    fleiss = serializers.DictField()
    final_images = serializers.IntegerField()
    matching = serializers.CharField()


class ProjectAgreementApi(APIView):
    """Reader agreement: each reader against the final set accepted in review, each pair of
    readers over the images both read (lesions matched at mask IoU >= 0.5: detection F1 and
    the mean Dice of matched lesions; tags: Cohen's κ, Fleiss' κ for three readers or more),
    each figure with the number of images behind it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=AgreementOutput,
        parameters=[
            OpenApiParameter("reader", str, description="One reader's username."),
            OpenApiParameter("label_class", int, description="Lesions of one class only."),
            OpenApiParameter("image", int, description="One image's figures."),
            OpenApiParameter("from", str, description="Reads submitted from (ISO 8601)."),
            OpenApiParameter("to", str, description="Reads submitted until (ISO 8601)."),
        ],
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=REVIEWERS)
        return Response(
            project_agreement(project=project, filters=dict(request.query_params.items()))
        )


class ReadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reader = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField()
    annotations = serializers.ListField(
        child=serializers.DictField(), help_text="[{label_class, box, mask}], as submitted."
    )
    tags = serializers.ListField(child=serializers.IntegerField())


class ImageReadsApi(APIView):
    """Each reader's latest read of the image, for the reviewer who adjudicates it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReadOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=REVIEWERS)
        return Response(ReadOutput(image_reads(image=image), many=True).data)


class ImageAdjudicateApi(APIView):
    """The final set of an image whose reads are in: the labels picked from the reads (each
    ``{"read": id, "label": index}``) and the tags chosen; then accept it in review."""

    permission_classes = [IsAuthenticated]

    class Pick(StrictSerializer):
        read = serializers.IntegerField()
        label = serializers.IntegerField(min_value=0)

    class InputSerializer(StrictSerializer):
        picks = serializers.ListField(child=serializers.DictField(), max_length=500)
        tags = serializers.ListField(child=serializers.IntegerField(), max_length=100)

    @extend_schema(request=InputSerializer, responses=ReadOutput(many=True))
    def post(self, request: Request, pk: int) -> Response:
        image = image_get_for_user(image_id=pk, user=request.user, roles=REVIEWERS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        picks = []
        for raw in data.validated_data["picks"]:
            pick = self.Pick(data=raw)
            pick.is_valid(raise_exception=True)
            picks.append(dict(pick.validated_data))
        adjudication.image_adjudicate(
            image=image,
            actor=request.user,
            role=role_for(project=image.project, user=request.user) or "",
            picks=picks,
            tags=data.validated_data["tags"],
        )
        return Response(ReadOutput(image_reads(image=image), many=True).data)
