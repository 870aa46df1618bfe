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
