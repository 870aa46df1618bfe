from django.conf import settings
from django.db import models

from annotator.models.projects import LabelClass, Project
from annotator.models.studies import Image


class Source(models.TextChoices):
    MODEL = "model", "Model"
    HUMAN = "human", "Human"
    IMPORT = "import", "Imported"
    ASSIST = "assist", "Box → mask assist"


class AnnotationStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Annotation(models.Model):
    """A box and optional mask on one image. ``version`` guards every save against lost updates."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="+")
    client_key = models.UUIDField(help_text="Idempotency key chosen by the client.")
    box_x = models.FloatField()
    box_y = models.FloatField()
    box_w = models.FloatField()
    box_h = models.FloatField()
    mask = models.JSONField(null=True, blank=True, help_text="COCO compressed RLE.")
    score = models.FloatField(null=True, blank=True)
    alternatives = models.JSONField(
        default=list,
        blank=True,
        help_text="Other classes the model saw on the same finding: [{label_class, score}].",
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    status = models.CharField(max_length=10, choices=AnnotationStatus.choices)
    model_version = models.ForeignKey(
        "annotator.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotations",
    )
    touched_by_human = models.BooleanField(
        default=False,
        help_text="A person accepted, edited or rejected it: proposals never replace it.",
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["image", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "client_key"], name="annotation_unique_client_key"
            ),
            models.CheckConstraint(
                condition=models.Q(box_w__gte=0) & models.Q(box_h__gte=0),
                name="annotation_box_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk} v{self.version}"

    @property
    def box(self) -> list[float]:
        return [self.box_x, self.box_y, self.box_w, self.box_h]


class ImageActivity(models.Model):
    """Active seconds a user spent on an image (time on task)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="activity")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seconds = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "image activity"
        constraints = [
            models.UniqueConstraint(fields=["image", "user"], name="activity_unique_user")
        ]


class ProposalOutcome(models.Model):
    """What a model or the box → mask assist proposed, kept beside the annotation people then
    accept, edit, reject or delete: a proposal's fate is the difference between the two."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    annotation = models.OneToOneField(
        Annotation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposal_outcome",
        help_text="The annotation the proposal became; empty once a person deleted it.",
    )
    model_version = models.ForeignKey(
        "annotator.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(
        max_length=8, choices=[(s.value, s.label) for s in (Source.MODEL, Source.ASSIST)]
    )
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    box = models.JSONField(help_text="[x, y, w, h] as proposed.")
    mask = models.JSONField(null=True, blank=True, help_text="COCO compressed RLE as proposed.")
    deleted_as = models.JSONField(
        null=True,
        blank=True,
        help_text="The annotation when a person deleted it (client_key, label_class, box, mask, "
        "status): one created again with that key, or exactly so, is the same proposal.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "source"])]

    def __str__(self) -> str:
        return f"{self.source} proposal {self.pk}"


class ImagePreannotation(models.Model):
    """The model version whose proposals an image holds: the last pre-annotation run on it,
    also when it proposed nothing."""

    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="preannotation")
    model_version = models.ForeignKey(
        "annotator.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"image {self.image_id} pre-annotated by {self.model_version_id}"


class SuggestionDecision(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class TagSuggestion(models.Model):
    """A model version's probability that an image has a tag, with the tag's threshold (chosen
    on val): suggested when the probability reaches it. A person accepts it (the tag is set) or
    rejects it; a decided suggestion stays as decided when a later version pre-annotates."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tag_suggestions")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "annotator.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    probability = models.FloatField()
    threshold = models.FloatField()
    uncertainty = models.FloatField(help_text="Binary entropy, the threshold placed at 0.5.")
    decision = models.CharField(
        max_length=16, choices=SuggestionDecision.choices, default=SuggestionDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "label_class"], name="tag_suggestion_unique_class"
            )
        ]
        indexes = [models.Index(fields=["label_class", "decision", "probability"])]

    def __str__(self) -> str:
        return f"{self.label_class_id} at {self.probability:.2f} on image {self.image_id}"
