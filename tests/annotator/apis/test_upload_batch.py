"""One upload request of many files: the good ones stored, the bad one refused, nothing else."""

import io

import pydicom
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.models import Image, Instance, Patient
from tests.dicom_files import data_store


def _ct_files(count):
    source = pydicom.dcmread(data_store("693_UNCI.dcm"))
    files = []
    for number in range(count):
        source.SOPInstanceUID = pydicom.uid.generate_uid()
        source.file_meta.MediaStorageSOPInstanceUID = source.SOPInstanceUID
        source.InstanceNumber = number
        buffer = io.BytesIO()
        source.save_as(buffer, enforce_file_format=True)
        files.append((f"ct{number}.dcm", buffer.getvalue()))
    return files


def test_a_request_of_100_good_files_and_one_bad_stores_exactly_the_100(world, media_root):
    good = _ct_files(100)
    bad = ("bad.dcm", good[0][1][:2000])
    payload = [
        SimpleUploadedFile(name, data, "application/octet-stream")
        for name, data in [*good[:50], bad, *good[50:]]
    ]
    response = world.client(world.admin).post(
        "/api/projects/chest/uploads/", {"files": payload}, format="multipart"
    )
    assert response.status_code == 207, response.data
    assert (response.data["stored"], response.data["failed"]) == (100, 1)
    outcomes = {f["name"]: f for f in response.data["files"]}
    assert outcomes["bad.dcm"]["status"] >= 400 and outcomes["bad.dcm"]["image_ids"] == []
    assert Instance.objects.filter(project=world.project).count() == 100
    assert Image.objects.filter(project=world.project).count() == 100
    stored = sorted(i for name, _ in good for i in outcomes[name]["image_ids"])
    assert stored == sorted(Image.objects.values_list("pk", flat=True))
    assert len(list((media_root / f"projects/{world.project.pk}/instances").iterdir())) == 100


def _upload(world, files):
    payload = [SimpleUploadedFile(n, d, "application/octet-stream") for n, d in files]
    return world.client(world.admin).post(
        "/api/projects/chest/uploads/", {"files": payload}, format="multipart"
    )


def test_the_upload_sends_its_previews_to_the_cpu_queue(
    world, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(world, _ct_files(3))
    assert response.status_code == 201, response.data
    images = Image.objects.filter(project=world.project)
    assert images.count() == 3 and not images.filter(preview="").exists()


def test_a_preview_not_rendered_yet_is_rendered_when_asked_for(world):
    response = _upload(world, _ct_files(1))
    [image_id] = response.data["files"][0]["image_ids"]
    assert Image.objects.get(pk=image_id).preview == ""
    preview = world.client(world.admin).get(f"/api/images/{image_id}/preview.png")
    assert preview.status_code == 200
    assert b"".join(preview.streaming_content).startswith(b"\x89PNG")
    assert Image.objects.get(pk=image_id).preview != ""


def test_the_same_instance_twice_in_one_request_is_stored_once(world, media_root):
    [one] = _ct_files(1)
    response = _upload(world, [one, ("again.dcm", one[1])])
    codes = [f["code"] for f in response.data["files"]]
    assert codes == ["stored", "already_stored"], response.data
    assert Instance.objects.filter(project=world.project).count() == 1
    assert len(list((media_root / f"projects/{world.project.pk}/instances").iterdir())) == 1


def test_a_request_with_stored_and_new_instances_stores_the_new_ones_once(world, media_root):
    first, second, third = _ct_files(3)
    assert _upload(world, [first]).status_code == 201
    response = _upload(world, [second, first, third])
    assert response.status_code == 201, response.data
    codes = [f["code"] for f in response.data["files"]]
    assert codes == ["stored", "already_stored", "stored"], response.data
    assert Instance.objects.filter(project=world.project).count() == 3
    assert Image.objects.filter(project=world.project).count() == 3
    assert len(list((media_root / f"projects/{world.project.pk}/instances").iterdir())) == 3
    stored = _upload(world, [first]).data["files"][0]
    assert stored["code"] == "already_stored" and len(stored["image_ids"]) == 1


def test_files_of_a_stored_series_join_it(world):
    files = _ct_files(3)
    assert _upload(world, files[:1]).status_code == 201
    assert _upload(world, files[1:]).status_code == 201
    images = Image.objects.filter(project=world.project)
    assert images.values("series").distinct().count() == 1
    assert images.values("series__study__patient").distinct().count() == 1


def test_every_patient_a_request_names_is_made_once(world):
    files = _ct_files(6)
    for number, (name, data) in enumerate(files):
        source = pydicom.dcmread(io.BytesIO(data))
        source.PatientID = f"PATIENT-{number % 3}"
        buffer = io.BytesIO()
        source.save_as(buffer, enforce_file_format=True)
        files[number] = (name, buffer.getvalue())
    assert _upload(world, files[:1]).status_code == 201
    assert _upload(world, files[1:]).status_code == 201
    assert Patient.objects.filter(project=world.project).count() == 3
    assert Image.objects.filter(project=world.project).count() == 6
