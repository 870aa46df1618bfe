"""DICOM in through the HTTP API: good files stored once, bad files refused, nothing partial."""

import io
import os

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from annotator.models import AuditEvent, Image, Instance, Patient, Series, Study
from tests.dicom_files import data_store, pydicom_test_file, zip_of

CT = data_store("693_UNCI.dcm").read_bytes()


def _upload(client, slug, files):
    payload = [SimpleUploadedFile(name, data, "application/octet-stream") for name, data in files]
    return client.post(f"/api/projects/{slug}/uploads/", {"files": payload}, format="multipart")


def _state(media_root):
    files = sorted(
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    )
    rows = [m.objects.count() for m in (Patient, Study, Series, Instance, Image)]
    return rows, files


def test_one_file_is_stored_indexed_and_served(world, media_root):
    client = world.client(world.admin)
    response = _upload(client, "chest", [("ct.dcm", CT)])
    assert response.status_code == 201, response.data
    assert response.data["stored"] == 1
    [image_id] = response.data["files"][0]["image_ids"]
    image = Image.objects.get(pk=image_id)
    assert (image.rows, image.columns, image.series.modality) == (512, 512, "CT")
    assert image.window_center is not None

    dicom = client.get(f"/api/images/{image_id}/dicom/")
    assert dicom.status_code == 200 and dicom["Content-Type"] == "application/dicom"
    assert dicom["X-Content-Type-Options"] == "nosniff" and "ETag" in dicom
    stored = pydicom.dcmread(io.BytesIO(b"".join(dicom.streaming_content)))
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.PatientID == image.series.study.patient.pseudonym
    assert (
        client.get(f"/api/images/{image_id}/dicom/", HTTP_IF_NONE_MATCH=dicom["ETag"]).status_code
        == 304
    )

    preview = client.get(f"/api/images/{image_id}/preview.png")
    png = PILImage.open(io.BytesIO(b"".join(preview.streaming_content)))
    assert preview["Content-Type"] == "image/png" and png.size == (512, 512)


def test_uploading_the_same_instance_again_is_idempotent(world, media_root):
    client = world.client(world.admin)
    _upload(client, "chest", [("ct.dcm", CT)])
    before = _state(media_root)
    again = _upload(client, "chest", [("copy.dcm", CT)])
    assert again.status_code == 201
    assert again.data["already_stored"] == 1 and again.data["stored"] == 0
    assert _state(media_root) == before


def test_many_files_and_a_zip_in_one_request(world, media_root):
    archive = zip_of(
        {
            "a/mr.dcm": data_store("MR2_J2KR.dcm").read_bytes(),
            "b/multi.dcm": data_store("emri_small_RLE.dcm").read_bytes(),
            "folder/": b"",
        }
    )
    response = _upload(
        world.client(world.admin),
        "chest",
        [
            ("ct.dcm", CT),
            ("cr.dcm", data_store("RG1_J2KI.dcm").read_bytes()),
            ("study.zip", archive),
        ],
    )
    assert response.status_code == 201, response.data
    assert response.data["stored"] == 4
    assert Image.objects.filter(series__modality="MR").count() == 1 + 10
    cr = Image.objects.get(series__modality="CR")
    assert cr.photometric == "MONOCHROME1"
    assert AuditEvent.objects.filter(action="upload.ingested").count() == 1


BAD_FILES = [
    ("not-dicom.dcm", b"<html><script>alert(1)</script></html>", 415, "not_dicom_part10"),
    ("png.dcm", b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, 415, "not_dicom_part10"),
    ("truncated.dcm", CT[: len(CT) // 2], 400, "dicom_truncated"),
    ("no-meta.dcm", pydicom_test_file("no_meta.dcm").read_bytes(), 415, "not_dicom_part10"),
    (
        "j2k-short.dcm",
        data_store("emri_small_jpeg_2k_lossless_too_short.dcm").read_bytes(),
        None,
        None,
    ),
]


@pytest.mark.parametrize(("name", "data", "status", "code"), BAD_FILES)
def test_a_bad_file_is_refused_and_nothing_is_stored(world, media_root, name, data, status, code):
    before = _state(media_root)
    response = _upload(world.client(world.admin), "chest", [(name, data)])
    assert 400 <= response.status_code < 500
    report = response.data["files"][0]
    assert report["name"] == name and report["detail"]
    if status:
        assert (response.status_code, report["code"]) == (status, code)
    assert name in response.data["detail"]
    assert _state(media_root) == before


def test_good_files_of_a_mixed_upload_are_stored(world, media_root):
    response = _upload(
        world.client(world.admin), "chest", [("good.dcm", CT), ("bad.dcm", b"nope" * 100)]
    )
    assert response.status_code == 207
    by_name = {f["name"]: f for f in response.data["files"]}
    assert by_name["good.dcm"]["code"] == "stored"
    assert by_name["bad.dcm"]["status"] == 415
    assert Instance.objects.count() == 1


@pytest.mark.parametrize("entry", ["../evil.dcm", "/etc/evil.dcm", "a/../../evil.dcm"])
def test_zip_with_traversal_is_refused_whole(world, media_root, entry):
    before = _state(media_root)
    archive = zip_of({"ok.dcm": CT, entry: CT})
    response = _upload(world.client(world.admin), "chest", [("study.zip", archive)])
    assert response.status_code == 400
    assert response.data["files"][0]["code"] == "unsafe_archive_entry"
    assert _state(media_root) == before


def test_over_size_request_is_refused_before_reading(world, settings):
    settings.RADLABEL_MAX_REQUEST_BYTES = 1000
    response = _upload(world.client(world.admin), "chest", [("ct.dcm", CT)])
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Instance.objects.exists()


def test_pixels_that_decode_past_the_limit_are_refused_with_413(world, media_root, settings):
    settings.RADLABEL_MAX_DECODED_BYTES = 512 * 512 * 2 - 1  # one byte short of the CT slice
    before = _state(media_root)
    response = _upload(world.client(world.admin), "chest", [("ct.dcm", CT)])
    assert response.status_code == 413, response.data
    assert response.data["files"][0]["code"] == "pixel_data_too_large"
    assert _state(media_root) == before


def test_burned_in_annotation_is_quarantined_until_an_admin_releases_it(world, media_root):
    ds = pydicom.dcmread(io.BytesIO(CT))
    ds.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    admin, annotator = world.client(world.admin), world.client(world.annotator)
    response = _upload(admin, "chest", [("burned.dcm", buffer.getvalue())])
    [image_id] = response.data["files"][0]["image_ids"]
    assert annotator.get(f"/api/images/{image_id}/").status_code == 404
    assert annotator.get("/api/projects/chest/images/").data["count"] == 0
    assert admin.get(f"/api/images/{image_id}/").data["quarantined"] is True
    assert admin.post(f"/api/images/{image_id}/release/").status_code == 204
    assert annotator.get(f"/api/images/{image_id}/").status_code == 200
    assert AuditEvent.objects.filter(action="image.quarantine_released").count() == 1


def test_annotators_cannot_upload(world):
    response = _upload(world.client(world.annotator), "chest", [("ct.dcm", CT)])
    assert response.status_code == 403
    assert not Instance.objects.exists()


def test_a_file_over_the_size_limit_is_refused_and_the_others_stored(world, media_root, settings):
    settings.RADLABEL_MAX_FILE_BYTES = len(CT) - 1
    small = pydicom.dcmread(pydicom_test_file("CT_small.dcm"))
    buffer = io.BytesIO()
    small.save_as(buffer)
    response = _upload(
        world.client(world.admin), "chest", [("big.dcm", CT), ("small.dcm", buffer.getvalue())]
    )
    assert response.status_code == 207, response.data
    big, stored = response.data["files"]
    assert (big["code"], big["status"]) == ("file_too_large", 413)
    assert str(len(CT) - 1) in big["detail"]
    assert stored["code"] == "stored"
    assert Instance.objects.count() == 1
