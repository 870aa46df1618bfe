"""The data migration that gives images ingested before content keys existed the key ingest
computes now; an unreadable stored file leaves its images without one."""

import importlib
import io

from django.apps import apps
from django.core.files.storage import default_storage

from annotator.models import Image
from annotator.services import studies
from tests.dicom_files import data_store, pydicom_test_file

backfill = importlib.import_module("annotator.migrations.0013_image_content_key_backfill").backfill


def _ingest(project, name, data):
    [outcome] = studies.upload_ingest(project=project, actor=None, files=[(name, io.BytesIO(data))])
    assert outcome.ok, outcome.as_dict()
    return outcome.image_ids


def test_backfill_gives_old_images_the_key_ingest_computes(world, caplog):
    multi = _ingest(world.project, "mr.dcm", data_store("emri_small_RLE.dcm").read_bytes())
    [single] = _ingest(world.project, "ct.dcm", pydicom_test_file("CT_small.dcm").read_bytes())
    [lost] = _ingest(world.project, "lost.dcm", data_store("693_UNCI.dcm").read_bytes())
    computed = dict(Image.objects.values_list("pk", "content_key"))
    assert len(set(computed.values())) == 12 and "" not in computed.values()
    Image.objects.update(content_key="")
    default_storage.delete(Image.objects.get(pk=lost).instance.file)

    backfill(apps, None)

    restored = dict(Image.objects.values_list("pk", "content_key"))
    assert {pk: restored[pk] for pk in [*multi, single]} == {
        pk: computed[pk] for pk in [*multi, single]
    }
    assert restored[lost] == ""
    instance = Image.objects.get(pk=lost).instance_id
    assert f"instance {instance}: no content key" in caplog.text
