"""Content keys for the images ingested before the field existed.

The key is the one ingest computes (``annotator.services.studies._frame_content_keys``),
copied here because a migration uses no app code: the SHA-256 (hex) of
``<SHA-256 hex of the Pixel Data value>:<frame number>``. Each stored file is read once.
Not atomic, so a large project does not hold one long transaction: an interrupted run picks up
the images still without a key. A stored file that cannot be read leaves its images without a
key (logged by instance id); the COCO import then matches them by id or SOP UID as before.
"""

import hashlib
import logging

import pydicom
from django.core.files.storage import default_storage
from django.db import migrations
from pydicom.errors import InvalidDicomError

logger = logging.getLogger(__name__)


def backfill(apps, schema_editor):
    Image = apps.get_model("annotator", "Image")
    Instance = apps.get_model("annotator", "Instance")
    pending = Instance.objects.filter(images__content_key="").distinct().order_by("pk")
    for instance in pending.iterator():
        try:
            with default_storage.open(instance.file, "rb") as stream:
                pixel_data = pydicom.dcmread(stream, specific_tags=["PixelData"]).PixelData
        except (OSError, InvalidDicomError, AttributeError):
            logger.warning(
                "instance %s: no content key, its stored file is unreadable", instance.pk
            )
            continue
        pixels = hashlib.sha256(pixel_data).hexdigest()
        for image in Image.objects.filter(instance=instance, content_key=""):
            image.content_key = hashlib.sha256(
                f"{pixels}:{image.frame_number}".encode()
            ).hexdigest()
            image.save(update_fields=["content_key"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("annotator", "0012_image_content_key"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
