"""The model loop for admins: training jobs, model versions, pre-annotation, worker status."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import (
    ADMINS,
    job_get_for_user,
    model_version_get_for_user,
    project_get_for_user,
)
from annotator.apis.mixins import ProjectJobListMixin, StrictSerializer
from annotator.models import ModelVersion, PreannotationJob, TrainingJob
from annotator.selectors.model_value import model_version_value, project_model_value
from annotator.selectors.model_versions import (
    accepted_since_last_version,
    model_version_get,
    model_version_list,
)
from annotator.selectors.workers import worker_status
from annotator.services import jobs

JOB_FIELDS = [
    "id",
    "status",
    "progress",
    "error",
    "attempts",
    "cancel_requested",
    "created_at",
    "started_at",
    "finished_at",
]


class TrainingJobOutput(serializers.ModelSerializer):
    class Meta:
        model = TrainingJob
        fields = [
            *JOB_FIELDS,
            "options",
            "epoch",
            "step",
            "total_steps",
            "eta_seconds",
            "loss_curve",
            "model_version",
        ]


class PreannotationJobOutput(serializers.ModelSerializer):
    total = serializers.SerializerMethodField()

    class Meta:
        model = PreannotationJob
        fields = [*JOB_FIELDS, "model_version", "done", "total"]

    def get_total(self, job: PreannotationJob) -> int:
        return len(job.image_ids)


class ModelVersionOutput(serializers.ModelSerializer):
    classifier = serializers.SerializerMethodField(
        help_text="The tag classifier trained with the version: per-split and per-tag metrics, "
        "thresholds, the val comparison with the version active then; {} when none was "
        "trained, {not_trained: why} when train could not teach it."
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "number",
            "status",
            "backbone",
            "config",
            "score_threshold",
            "metrics",
            "promotion",
            "training_data",
            "classifier",
            "sha256",
            "training_job",
            "created_at",
            "promoted_at",
        ]

    def get_classifier(self, version: ModelVersion) -> dict[str, Any]:
        return {k: v for k, v in version.classifier.items() if k != "weights_file"}


class TrainingJobListApi(ProjectJobListMixin, APIView):
    permission_classes = [IsAuthenticated]
    job_model = TrainingJob
    job_output = TrainingJobOutput

    class InputSerializer(StrictSerializer):
        epochs = serializers.IntegerField(min_value=1, max_value=1000, required=False)
        time_budget_s = serializers.FloatField(min_value=10, required=False)
        image_size = serializers.IntegerField(min_value=64, max_value=2048, required=False)
        backbone = serializers.ChoiceField(choices=jobs.BACKBONES, required=False)
        init = serializers.ChoiceField(choices=["scratch", "active"], required=False)

    @extend_schema(responses=TrainingJobOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return self.list_jobs(request, slug)

    @extend_schema(request=InputSerializer, responses={202: TrainingJobOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = jobs.training_job_start(
            project=project, actor=request.user, options=data.validated_data
        )
        return Response(TrainingJobOutput(job).data, status=202)


class RetrainStatusApi(APIView):
    """How close the project is to its next automatic retrain."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        accepted_since_last_version = serializers.IntegerField()
        threshold = serializers.IntegerField()
        due = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        accepted = accepted_since_last_version(project=project)
        return Response(
            self.OutputSerializer(
                {
                    "accepted_since_last_version": accepted,
                    "threshold": project.retrain_threshold,
                    "due": accepted >= project.retrain_threshold,
                }
            ).data
        )


class TrainingJobDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TrainingJobOutput)
    def get(self, request: Request, pk: int) -> Response:
        job = job_get_for_user(model=TrainingJob, job_id=pk, user=request.user)
        return Response(TrainingJobOutput(job).data)


class JobCancelApi(APIView):
    """Cancel a training or pre-annotation job (``kind`` in the URL)."""

    permission_classes = [IsAuthenticated]
    MODELS = {"training-jobs": TrainingJob, "preannotation-jobs": PreannotationJob}

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, kind: str, pk: int) -> Response:
        job = job_get_for_user(model=self.MODELS[kind], job_id=pk, user=request.user)
        job = jobs.job_cancel(job=job, actor=request.user)
        return Response(
            {"id": job.pk, "status": job.status, "cancel_requested": job.cancel_requested},
            status=202,
        )


class ModelVersionListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ModelVersionOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user)
        versions = model_version_list(project=project)
        return Response(ModelVersionOutput(versions, many=True).data)


class FigureOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Null (not measured) when n is 0.")
    n = serializers.IntegerField(
        help_text="What the figure rests on: the decided proposals for a share, the edited ones "
        "for the IoU, the images for a figure per image."
    )


class FateCountsOutput(serializers.Serializer):
    proposed = serializers.IntegerField(help_text="Not acted on yet.")
    accepted_unchanged = serializers.IntegerField()
    accepted_edited = serializers.IntegerField()
    class_changed = serializers.IntegerField(help_text="Accepted with another class.")
    rejected = serializers.IntegerField()
    deleted = serializers.IntegerField()


class FateFiguresOutput(serializers.Serializer):
    proposals = serializers.IntegerField()
    counts = FateCountsOutput(help_text="Proposals by fate.")
    accepted_unchanged = FigureOutput(help_text="Share of the decided proposals.")
    accepted_edited = FigureOutput(help_text="Share of the decided proposals.")
    class_changed = FigureOutput(help_text="Share of the decided proposals.")
    rejected = FigureOutput(help_text="Share of the decided proposals.")
    deleted = FigureOutput(help_text="Share of the decided proposals.")
    median_edit_iou = FigureOutput(
        help_text="Median IoU of an edited proposal with what was accepted: of the masks when "
        "both have one, else of the boxes."
    )


class ModelVersionValueOutput(FateFiguresOutput):
    number = serializers.IntegerField()
    status = serializers.CharField()
    images = serializers.IntegerField(
        help_text="Images whose proposals are this version's (its last pre-annotation run)."
    )
    proposals_per_image = FigureOutput()
    misses_per_image = FigureOutput(
        help_text="Labels people drew (by hand or with box → mask) on the finished images."
    )
    seconds_per_image_with_proposals = FigureOutput(
        help_text="Active seconds per finished image it proposed on."
    )
    seconds_per_image_without_proposals = FigureOutput(
        help_text="Active seconds per finished image it proposed nothing on."
    )


class WithoutModelOutput(serializers.Serializer):
    seconds_per_image = FigureOutput(
        help_text="Active seconds per finished image no model pre-annotated."
    )


class ModelValueOutput(serializers.Serializer):
    versions = ModelVersionValueOutput(many=True, help_text="Newest first.")
    assist = FateFiguresOutput(help_text="The box → mask assist's results.")
    without_model = WithoutModelOutput()


class ModelValueApi(APIView):
    """How much each model version helps (project admins): what became of its proposals, what
    people drew that it missed, and seconds per image; the same fates for box → mask. Each
    figure has the n it rests on; null means not measured."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="projects_model_versions_value_all", responses=ModelValueOutput)
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(ModelValueOutput(project_model_value(project=project)).data)


class ModelVersionValueApi(APIView):
    """How much one model version helps (project admins); see the project's model value."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ModelVersionValueOutput)
    def get(self, request: Request, slug: str, number: int) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        version = model_version_get(project=project, number=number)
        return Response(ModelVersionValueOutput(model_version_value(version=version)).data)


class ModelVersionActivateApi(APIView):
    """Promote a candidate or roll back to an older version. Audited with the admin's name."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=ModelVersionOutput)
    def post(self, request: Request, pk: int) -> Response:
        version = model_version_get_for_user(version_id=pk, user=request.user)
        version = jobs.model_version_promote(
            version=version, actor=request.user, reason="chosen by an admin"
        )
        return Response(ModelVersionOutput(version).data)


class PreannotateApi(APIView):
    """Pre-annotate with the active model: given images, a study, or the worklist filters."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        image_ids = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=100_000
        )
        filters = serializers.DictField(child=serializers.CharField(), required=False)

    @extend_schema(request=InputSerializer, responses={202: PreannotationJobOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = jobs.preannotation_start(
            project=project,
            actor=request.user,
            image_ids=data.validated_data.get("image_ids"),
            filters=data.validated_data.get("filters", {}),
        )
        return Response(PreannotationJobOutput(job).data, status=202)


class PreannotationJobListApi(ProjectJobListMixin, APIView):
    permission_classes = [IsAuthenticated]
    job_model = PreannotationJob
    job_output = PreannotationJobOutput

    @extend_schema(responses=PreannotationJobOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return self.list_jobs(request, slug)


class PreannotationJobDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PreannotationJobOutput)
    def get(self, request: Request, pk: int) -> Response:
        job = job_get_for_user(model=PreannotationJob, job_id=pk, user=request.user)
        return Response(PreannotationJobOutput(job).data)


class WorkerStatusApi(APIView):
    """Which workers answer, their queues, and whether they use a GPU (project admins)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=dict)
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(slug=slug, user=request.user, roles=ADMINS)
        return Response(worker_status(project=project, user=request.user))
