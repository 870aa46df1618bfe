from django.conf import settings
from django.db import models

from annotator.models.annotations import Annotation
from annotator.models.studies import Image


class ReviewComment(models.Model):
    """A reviewer's word on an image, written when it is returned (or at any time after):
    the annotator it goes back to sees it beside the label it is about, if it names one."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="review_comments")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on image {self.image_id}"


class Read(models.Model):
    """What one reader submitted for an image when they marked it done: their labels and tags
    as they were then, kept for the agreement figures (reader against reader, reader against
    the final set a reviewer accepted)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reads")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    annotations = models.JSONField(
        default=list, help_text="The accepted labels: [{label_class, box, mask}]."
    )
    tags = models.JSONField(default=list, help_text="The image's tag class ids.")

    class Meta:
        ordering = ["submitted_at", "id"]
        indexes = [models.Index(fields=["image", "reader"])]

    def __str__(self) -> str:
        return f"read {self.pk} of image {self.image_id}"
