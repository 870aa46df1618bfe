from django.conf import settings
from django.db import models

from annotator.models.projects import LabelClass, Project, Role

# Who sees quarantined images: a project's admins, who may release them.
SEES_QUARANTINE = frozenset({Role.ADMIN})


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VAL = "val", "Validation"
    TEST = "test", "Test"


class Patient(models.Model):
    """A pseudonymous patient; the split is per patient so no patient spans two splits."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="patients")
    pseudonym = models.CharField(max_length=32)
    split = models.CharField(max_length=8, choices=Split.choices)
    split_manual = models.BooleanField(
        default=False, help_text="Set by an admin's rebalance rather than the seeded hash."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pseudonym"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "pseudonym"], name="patient_unique_pseudonym"
            )
        ]

    def __str__(self) -> str:
        return self.pseudonym


class Study(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="studies")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    study_uid = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "study_uid"], name="study_unique_uid")
        ]

    def __str__(self) -> str:
        return self.study_uid


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16)
    series_number = models.IntegerField(null=True, blank=True)
    body_part = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "series"
        ordering = ["series_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "series_uid"], name="series_unique_uid")
        ]

    def __str__(self) -> str:
        return self.series_uid


class SegRevision(models.Model):
    """One DICOM-SEG instance of a series' accepted masks: the labels' state it holds
    (``digest``), its SOP Instance UID and its Instance Number in the series' one SEG series.
    Revisions form a line: each after the first follows the one before (``previous``)."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="seg_revisions")
    digest = models.CharField(
        max_length=64, help_text="SHA-256 (hex) of the segments and their pixels."
    )
    sop_instance_uid = models.CharField(max_length=64, unique=True)
    instance_number = models.PositiveIntegerField()
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="next"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "instance_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "instance_number"], name="segrevision_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"SEG {self.instance_number} of series {self.series_id}"


class Instance(models.Model):
    """One stored, de-identified DICOM file (possibly multi-frame)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="instances")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64)
    transfer_syntax_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    file = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instance_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sop_uid"], name="instance_unique_sop_uid")
        ]

    def __str__(self) -> str:
        return self.sop_uid


class ImageStatus(models.TextChoices):
    UNLABELLED = "unlabelled", "Unlabelled"
    PROPOSED = "proposed", "Proposed"
    IN_PROGRESS = "in_progress", "In progress"
    RETURNED = "returned", "Returned"
    DONE = "done", "Done"
    REVIEWED = "reviewed", "Reviewed"


class ImageQuerySet(models.QuerySet["Image"]):
    """The quarantine rule. An image with a burned-in annotation is quarantined on ingest: only
    the project's admins see it, until one releases it; no quarantined image is trained on,
    proposed on or exported."""

    def cleared(self) -> "ImageQuerySet":
        """Images not in quarantine: the only ones trained on, proposed on and exported."""
        return self.filter(quarantined=False)

    def quarantined(self) -> "ImageQuerySet":
        return self.filter(quarantined=True)

    def visible_to(self, role: str | None) -> "ImageQuerySet":
        """The images a member with ``role`` may see."""
        return self if role in SEES_QUARANTINE else self.cleared()


class Image(models.Model):
    """One frame: the unit a radiologist labels."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="images")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="images")
    frame_number = models.PositiveIntegerField(default=1)
    content_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="SHA-256 of the frame's pixel data and number: the same in every project the "
        "same file is ingested into, so a COCO export re-imports anywhere.",
    )
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    pixel_spacing_row = models.FloatField(null=True, blank=True)
    pixel_spacing_col = models.FloatField(null=True, blank=True)
    photometric = models.CharField(max_length=16)
    window_center = models.FloatField(null=True, blank=True)
    window_width = models.FloatField(null=True, blank=True)
    position = models.FloatField(
        null=True, blank=True, help_text="Slice position along the stack, for ordering."
    )
    preview = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=ImageStatus.choices, default=ImageStatus.UNLABELLED
    )
    uncertainty = models.FloatField(null=True, blank=True)
    tag_uncertainty = models.FloatField(
        null=True,
        blank=True,
        help_text="The highest uncertainty of the image's undecided tag suggestions.",
    )
    max_score = models.FloatField(null=True, blank=True)
    quarantined = models.BooleanField(
        default=False, help_text="Burned-in annotation: hidden from annotators until released."
    )
    tags = models.ManyToManyField(LabelClass, blank=True, related_name="tagged_images")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who marked it done last: a returned image goes back to them.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The reader Next gave it to; other readers' Next skips it until the lease ends.",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    readers_disagree = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether the readers who submitted it disagree (a lesion one of them did not "
        "match at mask IoU >= 0.5, or a tag); null until two have.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "status"]),
            models.Index(fields=["project", "uncertainty"]),
            models.Index(fields=["project", "tag_uncertainty"]),
            models.Index(fields=["series", "position"]),
            models.Index(fields=["project", "content_key"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["instance", "frame_number"], name="image_unique_frame")
        ]

    def __str__(self) -> str:
        return f"image {self.pk}"

    def is_visible_to(self, role: str | None) -> bool:
        """Whether a member with ``role`` may see this image (``ImageQuerySet.visible_to``)."""
        return not self.quarantined or role in SEES_QUARANTINE
