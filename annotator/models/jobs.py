"""Background jobs and model versions. The job row is the truth; a Celery task only moves it."""

from typing import TYPE_CHECKING, ClassVar, Self

from django.conf import settings
from django.db import models

from annotator.models.projects import Project


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = [JobStatus.QUEUED, JobStatus.RUNNING]


class Job(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker holds the job until then (heartbeat)."
    )
    cancel_requested = models.BooleanField(default=False)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task message was last sent to the broker."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    if TYPE_CHECKING:  # each kind of job has its own default manager
        objects: ClassVar[models.Manager[Self]]

    class Meta:
        abstract = True
        ordering = ["-id"]


class ModelVersionStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersion(models.Model):
    """An immutable trained model: weights file with its checksum, config, data and metrics."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=ModelVersionStatus.choices, default=ModelVersionStatus.CANDIDATE
    )
    backbone = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    class_map = models.JSONField(default=dict, help_text="Model label index -> label class id.")
    weights_file = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(
        default=dict,
        help_text="Per split: COCO AP and the lesion-level figures at the operating point, "
        "each with its images, lesions and 95 % interval.",
    )
    score_threshold = models.FloatField(
        help_text="Operating point: proposals are the detections scored at least this "
        "(chosen on val)."
    )
    promotion = models.JSONField(
        default=dict, help_text="Whether the promotion rule made the version active, and why."
    )
    training_data = models.JSONField(default=dict, help_text="What the training saw.")
    classifier = models.JSONField(
        default=dict,
        blank=True,
        help_text="The tag classifier trained with it: weights file, sha256, tag index -> label "
        "class id, per-tag thresholds and per-split metrics; empty when none was trained.",
    )
    training_job = models.ForeignKey(
        "TrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"], name="modelversion_unique_number"
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status="active"),
                name="modelversion_one_active_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} v{self.number}"


class TrainingJob(Job):
    options = models.JSONField(default=dict)
    epoch = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    loss_curve = models.JSONField(default=list, help_text="[[step, loss], ...]")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(Job.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=ACTIVE_JOB_STATUSES),
                name="trainingjob_one_active_per_project",
            )
        ]


class PreannotationJob(Job):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    image_ids = models.JSONField(default=list)
    done = models.PositiveIntegerField(default=0)


class ExportJob(Job):
    options = models.JSONField(default=dict)
    result_file = models.CharField(max_length=255, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True)
    result_size = models.PositiveBigIntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict)


class DicomWebEndpoint(models.Model):
    """A PACS the project may contact; no other address is ever contacted."""

    class Auth(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "HTTP basic"
        BEARER = "bearer", "Bearer token"

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="dicomweb_endpoints"
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    auth = models.CharField(max_length=8, choices=Auth.choices, default=Auth.NONE)
    username = models.CharField(max_length=150, blank=True)
    secret = models.CharField(max_length=500, blank=True, help_text="Password or token.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dicomweb_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class PacsImportJob(Job):
    endpoint = models.ForeignKey(DicomWebEndpoint, on_delete=models.CASCADE, related_name="+")
    study_uids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list)


class WorkerHeartbeat(models.Model):
    """What each Celery worker last said about itself: its queues and accelerator."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    accelerator = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname
