"""Stored files on a local folder and in a real S3-compatible store: verified publishing,
never overwriting, a checksum-keyed local copy, and clear errors instead of 500s."""

import hashlib
import io
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from annotator import storage
from annotator.models import Image
from backend.env import file_storage
from tests.annotator.apis.test_uploads import CT, _upload
from tests.processes import free_port

WEIGHTS = b"\x80\x02weights" * 1000
WEIGHTS_SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture(params=["local", "s3"])
def store(request):
    """``default_storage`` as each kind of deployment has it."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    return default_storage


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(WEIGHTS)
    return path


def test_the_storage_setting_picks_the_backend_and_names_a_bad_url():
    assert file_storage("")["BACKEND"].endswith("FileSystemStorage")
    s3 = file_storage("s3://scans/site-a?endpoint_url=http://store:9000&region_name=eu-west-1")
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"] == {
        "bucket_name": "scans",
        "location": "site-a",
        "endpoint_url": "http://store:9000",
        "region_name": "eu-west-1",
        "file_overwrite": False,
        "default_acl": None,
    }
    with pytest.raises(ImproperlyConfigured, match="s3://bucket"):
        file_storage("https://scans/site-a")
    with pytest.raises(ImproperlyConfigured, match="'acl'"):
        file_storage("s3://scans?acl=public-read")


def test_publish_stores_the_verified_file_and_leaves_no_temporary(store, weights):
    name = storage.publish(weights, "projects/1/models/job1.pt", WEIGHTS_SHA)
    assert name == "projects/1/models/job1.pt"
    assert storage.stored_sha256(name) == WEIGHTS_SHA
    _, files = store.listdir("projects/1/models")
    assert files == ["job1.pt"], "the temporary name is gone"


def test_publish_never_overwrites_a_stored_file(store, weights):
    first = storage.publish(weights, "projects/1/models/job1.pt", WEIGHTS_SHA)
    other = weights.with_name("other.pt")
    other.write_bytes(b"other")
    second = storage.publish(other, first, hashlib.sha256(b"other").hexdigest())
    assert second != first
    assert storage.stored_sha256(first) == WEIGHTS_SHA


def test_a_checksum_mismatch_is_refused_and_nothing_stays(store, weights):
    with pytest.raises(storage.ChecksumMismatch, match="did not read back"):
        storage.publish(weights, "projects/1/models/job1.pt", "0" * 64)
    _, files = store.listdir("projects/1/models")
    assert files == []


def test_a_missing_stored_file_is_a_clear_error(store):
    with pytest.raises(storage.StoredFileMissing, match="projects/9/x.dcm is missing"):
        storage.open_stored_file("projects/9/x.dcm")


def test_a_local_copy_of_a_remote_file_is_cached_by_checksum(s3_storage, settings, weights):
    name = storage.publish(weights, "projects/1/models/job1.pt", WEIGHTS_SHA)
    path = storage.local_copy(name, WEIGHTS_SHA)
    assert path.is_relative_to(settings.RADLABEL_WORK_DIR) and path.read_bytes() == WEIGHTS
    s3_storage.delete(name)
    assert storage.local_copy(name, WEIGHTS_SHA) == path, "read again from the cache"


def test_a_tampered_remote_file_is_not_kept_in_the_cache(s3_storage, settings):
    name = s3_storage.save("projects/1/models/job1.pt", ContentFile(b"tampered"))
    with pytest.raises(storage.ChecksumMismatch, match="does not match"):
        storage.local_copy(name, WEIGHTS_SHA)
    assert list((settings.RADLABEL_WORK_DIR / "cache").iterdir()) == []


def test_a_local_store_answers_with_the_file_itself(media_root, weights):
    name = storage.publish(weights, "projects/1/models/job1.pt", WEIGHTS_SHA)
    assert storage.local_copy(name, WEIGHTS_SHA) == media_root / name


def test_an_unreachable_store_is_a_503_not_a_500(settings, object_store):
    from botocore.config import Config

    options = {
        **object_store.options("down"),
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "client_config": Config(connect_timeout=1, retries={"max_attempts": 1}),
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    with pytest.raises(storage.FileStoreUnavailable) as raised:
        storage.open_stored_file("projects/1/x.dcm")
    assert raised.value.status == 503


def test_uploads_are_served_from_the_object_store(world, s3_storage):
    client = world.client(world.admin)
    response = _upload(client, "chest", [("ct.dcm", CT)])
    assert response.status_code == 201, response.data
    image = Image.objects.get(pk=response.data["files"][0]["image_ids"][0])
    assert s3_storage.exists(image.instance.file)
    dicom = client.get(f"/api/images/{image.pk}/dicom/")
    assert dicom.status_code == 200 and dicom["Cache-Control"] == "private, max-age=3600"
    body = b"".join(dicom.streaming_content)
    assert body[128:132] == b"DICM" and hashlib.sha256(body).hexdigest() == image.instance.sha256
    again = client.get(f"/api/images/{image.pk}/dicom/", HTTP_IF_NONE_MATCH=dicom["ETag"])
    assert again.status_code == 304


def test_a_file_missing_from_the_store_answers_404_naming_it(world, s3_storage):
    client = world.client(world.admin)
    response = _upload(client, "chest", [("ct.dcm", CT)])
    image = Image.objects.get(pk=response.data["files"][0]["image_ids"][0])
    s3_storage.delete(image.instance.file)
    missing = client.get(f"/api/images/{image.pk}/dicom/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "stored_file_missing"
    assert "missing from the file store" in missing.json()["detail"]


def _media_folder(root):
    files = {
        "projects/1/instances/a.dcm": b"DICM" * 100,
        "projects/1/previews/a_1.png": b"\x89PNG" * 50,
        "projects/1/models/.partial-0123-job1.pt": b"half",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_a_media_folder_is_copied_into_the_store_and_verified(s3_storage, tmp_path):
    files = _media_folder(tmp_path / "old-media")
    out = io.StringIO()
    call_command("copy_media_to_store", "--source", str(tmp_path / "old-media"), stdout=out)
    assert "2 copied and verified, 0 already stored" in out.getvalue()
    for name, data in files.items():
        if ".partial-" in name:
            assert not s3_storage.exists(name), "half-published files are not copied"
        else:
            assert s3_storage.open(name).read() == data

    again = io.StringIO()
    call_command("copy_media_to_store", "--source", str(tmp_path / "old-media"), stdout=again)
    assert "0 copied and verified, 2 already stored with the same bytes" in again.getvalue()


def test_a_file_stored_with_other_bytes_is_reported_and_left(s3_storage, tmp_path):
    _media_folder(tmp_path / "old-media")
    s3_storage.save("projects/1/instances/a.dcm", ContentFile(b"other"))
    with pytest.raises(CommandError, match="projects/1/instances/a.dcm"):
        call_command("copy_media_to_store", "--source", str(tmp_path / "old-media"))
    assert s3_storage.open("projects/1/instances/a.dcm").read() == b"other"
    assert s3_storage.exists("projects/1/previews/a_1.png"), "the other files are copied"


def test_copying_needs_an_object_store(tmp_path):
    _media_folder(tmp_path / "old-media")
    with pytest.raises(CommandError, match="RADLABEL_STORAGE_URL"):
        call_command("copy_media_to_store", "--source", str(tmp_path / "old-media"))


def test_a_worker_reads_an_image_from_the_store_once(world, s3_storage, settings):
    from annotator.selectors.images import image_windowed

    client = world.client(world.admin)
    response = _upload(client, "chest", [("ct.dcm", CT)])
    image = Image.objects.select_related("instance").get(
        pk=response.data["files"][0]["image_ids"][0]
    )
    first = image_windowed(image, cached=True)
    s3_storage.delete(image.instance.file)
    assert (image_windowed(image, cached=True) == first).all(), "read again from this host"
    with pytest.raises(storage.StoredFileMissing):
        image_windowed(image)


def test_the_cache_evicts_its_least_recently_used_files(s3_storage, settings, tmp_path):
    names = []
    for n in range(3):
        data = bytes([n]) * 1000
        names.append(
            (s3_storage.save(f"f{n}.bin", ContentFile(data)), hashlib.sha256(data).hexdigest())
        )
    settings.RADLABEL_CACHE_BYTES = 2500
    paths = [storage.local_copy(name, sha) for name, sha in names[:2]]
    os.utime(paths[0], (1, 1))
    os.utime(paths[1], (2, 2))
    storage.local_copy(*names[0])  # used again: now the most recent
    kept = storage.local_copy(*names[2])
    cached = sorted(p.name for p in kept.parent.iterdir())
    assert cached == sorted([paths[0].name, kept.name]), "the least recently used one went"


def test_an_upload_the_store_fails_midway_answers_503_and_keeps_nothing(
    world, s3_storage, monkeypatch
):
    from botocore.exceptions import EndpointConnectionError
    from storages.backends.s3 import S3Storage

    from annotator.models import Instance
    from tests.dicom_files import ct_slices

    saved = S3Storage._save
    calls = []

    def flaky(self, name, content):
        calls.append(name)
        if len(calls) == 3:
            raise EndpointConnectionError(endpoint_url="http://store")
        return saved(self, name, content)

    monkeypatch.setattr(S3Storage, "_save", flaky)
    client = world.client(world.admin)
    response = _upload(client, "chest", [(f"{n}.dcm", data) for n, data in enumerate(ct_slices(6))])
    assert response.status_code == 503, response.data
    assert response.data["code"] == "file_store_unavailable"
    assert not Instance.objects.exists()
    _, files = s3_storage.listdir(f"projects/{world.project.pk}/instances")
    assert files == [], "the files written before the failure are removed"
