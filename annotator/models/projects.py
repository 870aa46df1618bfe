import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Keys the per-project HMACs of de-identification; never leaves the server.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    split_seed = models.CharField(max_length=64, default="radlabel")
    split_train = models.PositiveSmallIntegerField(default=70, validators=[MaxValueValidator(100)])
    split_val = models.PositiveSmallIntegerField(default=15, validators=[MaxValueValidator(100)])
    split_test = models.PositiveSmallIntegerField(default=15, validators=[MaxValueValidator(100)])
    retrain_threshold = models.PositiveIntegerField(
        default=50, help_text="Accepted labels since the last model version that start a retrain."
    )
    promotion_min_val_lesions = models.PositiveIntegerField(
        default=10,
        help_text="Labelled val lesions below which no model version is promoted automatically.",
    )
    tags_exclusive = models.BooleanField(
        default=False,
        help_text="An image takes one tag class at most (softmax); otherwise any (a sigmoid per "
        "tag).",
    )
    reads_per_image = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text="Independent reads of each image (1-3): with more than one, each image is "
        "served to that many annotators in turn, none seeing another's labels, and waits for a "
        "reviewer's adjudication when all are in.",
    )
    unassisted_reads = models.BooleanField(
        default=False,
        help_text="Annotators see no model proposals or tag suggestions (to measure automation "
        "bias).",
    )
    # radlabel.augmentation.AugmentationSettings as JSON, validated by services.augmentation;
    # an op left out takes its default.
    augmentation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(split_train__gte=0)
                & models.Q(split_val__gte=0)
                & models.Q(split_test__gte=0),
                name="project_split_non_negative",
            )
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def split_ratios(self) -> dict[str, int]:
        return {"train": self.split_train, "val": self.split_val, "test": self.split_test}


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"


# Who accepts, returns and reopens images in review.
REVIEWERS = frozenset({Role.ADMIN, Role.REVIEWER})


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}:{self.role}"


class LabelKind(models.TextChoices):
    INSTANCE = "instance", "Instance (box and mask)"
    TAG = "tag", "Image-level tag"


class SegmentType(models.TextChoices):
    """SNOMED CT morphologically abnormal structures (DICOM CID 7159) a class's DICOM-SEG
    segments can be coded as; the value names the code in pydicom's dictionary
    (``codes.SCT.<value>``)."""

    NODULE = "Nodule", "Nodule (SNOMED CT 27925004)"
    MASS = "Mass", "Mass (SNOMED CT 4147007)"
    LESION = "Lesion", "Lesion (SNOMED CT 52988006)"
    NEOPLASM = "Neoplasm", "Neoplasm (SNOMED CT 108369006)"
    CYST = "Cyst", "Cyst (SNOMED CT 367643001)"
    HEMORRHAGE = "Hemorrhage", "Hemorrhage (SNOMED CT 50960005)"
    EDEMA = "Edema", "Edema (SNOMED CT 79654002)"
    ABSCESS = "Abscess", "Abscess (SNOMED CT 44132006)"
    NECROSIS = "Necrosis", "Necrosis (SNOMED CT 6574001)"
    EMBOLUS = "Embolus", "Embolus (SNOMED CT 55584005)"


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(
        max_length=7, validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use #rrggbb.")]
    )
    kind = models.CharField(max_length=16, choices=LabelKind.choices, default=LabelKind.INSTANCE)
    order = models.PositiveSmallIntegerField(default=0, validators=[MinValueValidator(0)])
    # Blank: the class's segments carry a code of RadLabel's private scheme, from its name.
    segment_type = models.CharField(
        max_length=16, choices=SegmentType.choices, blank=True, default=""
    )
    # Classes in use are retired, never deleted, so no label loses its class.
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(is_active=True),
                name="labelclass_unique_active_name",
            )
        ]

    def __str__(self) -> str:
        return self.name
