"""Exports and imports through the HTTP API: admins start an export (202), watch it, download it
as an attachment; COCO files come back in; a real Celery worker on Redis runs the job."""

import io
import json
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator import coco
from annotator.models import Annotation, AuditEvent, ExportJob, Image, JobStatus
from annotator.services import annotations, studies
from tests import factories
from tests.dicom_files import data_store, pydicom_test_file
from tests.labels import accepted_label
from tests.processes import celery_worker, wait_finished

ROOT = Path(__file__).resolve().parents[3]
CT = data_store("693_UNCI.dcm").read_bytes()


def _image(world, data=CT, name="ct.dcm"):
    [outcome] = studies.upload_ingest(
        project=world.project, actor=None, files=[(name, io.BytesIO(data))]
    )
    assert outcome.ok, outcome.as_dict()
    return Image.objects.get(pk=outcome.image_ids[0])


def _mask(image, y0, x0, size):
    mask = np.zeros((image.rows, image.columns), np.uint8)
    mask[y0 : y0 + size, x0 : x0 + size] = 1
    mask[y0 + size // 2, x0 + size : x0 + size + 3] = 1
    return coco.encode_mask(mask)


def _accepted_mask(world, image, y0, x0, size, label_class=None):
    """One accepted label with a square mask, drawn by the admin (of the world's instance class
    unless another is given)."""
    mask = _mask(image, y0, x0, size)
    accepted_label(world, image, mask, label_class)
    return mask


def _labelled(world, image, count=2):
    return [
        accepted_label(world, image, _mask(image, 20 + 40 * n, 30 + 50 * n, 25))
        for n in range(count)
    ]


def _mark_done(client, image):
    response = client.patch(f"/api/images/{image.pk}/", {"status": "done"}, format="json")
    assert response.status_code == 200, response.data


def _download(client, job_id):
    response = client.get(f"/api/exports/{job_id}/download/")
    assert response.status_code == 200, getattr(response, "data", None)
    return response, b"".join(response.streaming_content)


def test_admin_exports_watches_and_downloads(
    world, eager, django_capture_on_commit_callbacks, media_root
):
    image = _image(world)
    _labelled(world, image)
    unfinished = _image(world, pydicom_test_file("CT_small.dcm").read_bytes(), "small.dcm")
    _labelled(world, unfinished, count=1)
    client = world.client(world.admin)
    _mark_done(client, image)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/projects/chest/exports/", {"segmentation": "polygon"}, format="json"
        )
    assert created.status_code == 202, created.data
    assert created.data["status"] == "queued" and created.data["download_url"] is None
    assert created.data["options"]["images"] == "done", "only finished images by default"
    status = client.get(f"/api/exports/{created.data['id']}/")
    assert status.status_code == 200
    assert status.data["status"] == "succeeded", status.data
    assert status.data["progress"] == 1.0
    assert status.data["download_url"] == f"/api/exports/{created.data['id']}/download/"
    listed = client.get("/api/projects/chest/exports/")
    assert [e["id"] for e in listed.data["results"]] == [created.data["id"]]

    response, body = _download(client, created.data["id"])
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    archive = zipfile.ZipFile(io.BytesIO(body))
    split = image.series.study.patient.split
    document = json.loads(archive.read(coco.instances_path(split)))
    assert len(document["annotations"]) == 2
    assert isinstance(document["annotations"][0]["segmentation"], list)
    assert f"images/{split}/{image.pk}.png" in archive.namelist()
    exported = {i["id"] for s in coco.SPLITS for i in _document(archive, s)["images"]}
    assert exported == {image.pk}, "the image still in progress stays out"
    assert json.loads(archive.read("manifest.json"))["images"]["rule"] == "done"
    actions = list(
        AuditEvent.objects.filter(object_type="exportjob").values_list("action", flat=True)
    )
    assert sorted(actions) == ["export.created", "export.downloaded"]


def test_export_requests_are_checked(world, eager):
    client = world.client(world.admin)
    bad = client.post("/api/projects/chest/exports/", {"split": "holdout"}, format="json")
    assert bad.status_code == 400
    bad = client.post("/api/projects/chest/exports/", {"label_classes": [0]}, format="json")
    assert bad.status_code == 400 and bad.data["code"] == "invalid_label_class"
    bad = client.post("/api/projects/chest/exports/", {"images": "labelled"}, format="json")
    assert bad.status_code == 400 and "images" in json.dumps(bad.data)
    assert not ExportJob.objects.exists()
    assert world.client(world.annotator).post("/api/projects/chest/exports/").status_code == 403


def test_download_waits_for_the_job_and_stays_in_its_project(world):
    job = ExportJob.objects.create(project=world.project)
    client = world.client(world.admin)
    assert client.get(f"/api/exports/{job.pk}/download/").status_code == 409
    other = ExportJob.objects.create(project=world.other_project, status=JobStatus.SUCCEEDED)
    assert client.get(f"/api/exports/{other.pk}/").status_code == 404
    assert client.get(f"/api/exports/{other.pk}/download/").status_code == 404
    assert world.client(world.reviewer).get(f"/api/exports/{job.pk}/").status_code == 403


def _document(archive, split):
    return json.loads(archive.read(coco.instances_path(split)))


def _import(client, document, as_="accepted", raw=None):
    data = raw if raw is not None else json.dumps(document).encode()
    return client.post(
        "/api/projects/chest/imports/coco/",
        {"file": SimpleUploadedFile("instances.json", data, "application/json"), "as": as_},
        format="multipart",
    )


def _export_document(client, split, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post("/api/projects/chest/exports/", {"image_format": "none"}, format="json")
    _, body = _download(client, job.data["id"])
    return json.loads(zipfile.ZipFile(io.BytesIO(body)).read(coco.instances_path(split)))


def _shapes(document):
    names = {c["id"]: c["name"] for c in document["categories"]}
    return sorted(
        (a["image_id"], names[a["category_id"]], tuple(a["bbox"]), json.dumps(a["segmentation"]))
        for a in document["annotations"]
    )


def test_import_then_export_gives_the_same_annotations(
    world, eager, django_capture_on_commit_callbacks
):
    image = _image(world)
    _labelled(world, image, count=3)
    client = world.client(world.admin)
    _mark_done(client, image)
    split = image.series.study.patient.split
    exported = _export_document(client, split, django_capture_on_commit_callbacks)
    Annotation.objects.all().delete()

    report = _import(client, exported)
    assert report.status_code == 200, report.data
    assert report.data["imported"] == 3 and report.data["skipped"] == 0
    again = _export_document(client, split, django_capture_on_commit_callbacks)
    assert _shapes(again) == _shapes(exported)
    assert _import(client, exported).data["exists"] == 3, "the same file imports nothing twice"
    assert Annotation.objects.count() == 3


def test_import_matches_by_sop_uid_and_as_proposals(world):
    image = _image(world)
    mask = _mask(image, 10, 10, 30)
    document = {
        "images": [
            {
                "id": 7,
                "file_name": "scan.png",
                "sop_instance_uid": image.instance.sop_uid,
                "frame_number": 1,
                "width": image.columns,
                "height": image.rows,
            }
        ],
        "categories": [{"id": 3, "name": "NODULE"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 3,
                "bbox": coco.bbox_of_mask(mask),
                "segmentation": coco.rle_to_polygons(mask)[0],
            }
        ],
    }
    report = _import(world.client(world.admin), document, as_="proposed")
    assert report.data["imported"] == 1, report.data
    annotation = Annotation.objects.get()
    assert annotation.status == "proposed" and annotation.label_class == world.instance_class
    assert np.array_equal(coco.decode_mask(annotation.mask), coco.decode_mask(mask))


def _by_original_uid(uid, frames, image):
    """A hospital's own COCO file: its images named by the original SOP Instance UID."""
    mask = _mask(image, 8, 8, 16)
    return {
        "images": [
            {
                "id": 100 + f,
                "file_name": f"{uid}-{f}.png",
                "sop_instance_uid": uid,
                "frame_number": f,
            }
            for f in frames
        ],
        "categories": [{"id": 1, "name": "nodule"}],
        "annotations": [
            {
                "id": n,
                "image_id": 100 + f,
                "category_id": 1,
                "bbox": coco.bbox_of_mask(mask),
                "segmentation": mask,
            }
            for n, f in enumerate(frames, start=1)
        ],
    }


def test_import_matches_a_hospitals_original_sop_instance_uid(world):
    image = _image(world)
    original = str(pydicom.dcmread(io.BytesIO(CT)).SOPInstanceUID)
    assert image.instance.sop_uid != original, "ingest remapped the UID"

    report = _import(world.client(world.admin), _by_original_uid(original, [1], image))
    assert report.status_code == 200 and report.data["imported"] == 1, report.data
    assert report.data["annotations"][0]["matched_by"] == "original_sop_instance_uid"
    annotation = Annotation.objects.get()
    assert annotation.image == image and annotation.source == "import"
    assert world.client(world.admin).get(f"/api/annotations/{annotation.pk}/").data["source"] == (
        "import"
    )
    # the stored UID still matches as such, and a UID from elsewhere matches nothing
    stored = _import(
        world.client(world.admin), _by_original_uid(image.instance.sop_uid, [1], image)
    )
    assert stored.data["annotations"][0]["matched_by"] == "sop_instance_uid"
    unknown = _import(world.client(world.admin), _by_original_uid("1.2.3.4.5", [1], image))
    assert unknown.data["annotations"][0]["reason"] == "unknown_image"
    assert not Image.objects.filter(instance__sop_uid=original).exists(), "nothing identifying kept"


def test_import_by_original_uid_picks_the_frame_of_a_multi_frame_instance(world):
    data = data_store("emri_small.dcm").read_bytes()
    [outcome] = studies.upload_ingest(
        project=world.project, actor=None, files=[("mr.dcm", io.BytesIO(data))]
    )
    frames = {i.frame_number: i for i in Image.objects.filter(pk__in=outcome.image_ids)}
    original = str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)
    report = _import(world.client(world.admin), _by_original_uid(original, [2, 4], frames[1]))
    assert report.data["imported"] == 2, report.data
    assert {r["matched_by"] for r in report.data["annotations"]} == {"original_sop_instance_uid"}
    assert sorted(a.image.frame_number for a in Annotation.objects.all()) == [2, 4]
    assert {a.image_id for a in Annotation.objects.all()} == {frames[2].pk, frames[4].pk}


def test_import_reports_each_skipped_annotation_with_its_reason(world):
    image = _image(world)
    good = {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}
    document = {
        "info": {"generator": "RadLabel"},
        "images": [
            {"id": image.pk, "width": image.columns, "height": image.rows},
            {"id": 10**9, "file_name": "images/train/999999999.png"},
        ],
        "categories": [{"id": 1, "name": "nodule"}, {"id": 2, "name": "tumour"}],
        "annotations": [
            {**good, "id": 1, "image_id": image.pk},
            {**good, "id": 2, "image_id": 10**9},
            {**good, "id": 3, "image_id": image.pk, "category_id": 2},
            {**good, "id": 4, "image_id": image.pk, "bbox": [500, 500, 50, 50]},
            {**good, "id": 5, "image_id": image.pk, "bbox": "wide"},
            {**good, "id": 6, "image_id": image.pk, "segmentation": [[1, 2, 3]]},
            {
                **good,
                "id": 7,
                "image_id": image.pk,
                "segmentation": {"size": [image.rows, image.columns], "counts": "0000zz"},
            },
            {**good, "id": 8, "image_id": 42},
            {**good, "id": 9, "image_id": image.pk, "segmentation": [[0, 0, 4e7, 0, 4e7, 4e7]]},
            {**good, "id": 10, "image_id": image.pk, "segmentation": [[-3, 0, 5, 0, 5, 5]]},
        ],
    }
    report = _import(world.client(world.admin), document)
    assert report.status_code == 200
    reasons = {r["id"]: r.get("reason") for r in report.data["annotations"]}
    assert reasons == {
        1: None,
        2: "unknown_image",
        3: "unknown_category",
        4: "bad_bbox",
        5: "bad_bbox",
        6: "bad_segmentation",
        7: "bad_segmentation",
        8: "unknown_image",
        9: "bad_segmentation",
        10: "bad_segmentation",
    }
    assert Annotation.objects.count() == 1
    assert AuditEvent.objects.filter(action="coco.imported").count() == 1


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"images": [', "not JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"images": [], "annotations": []}', "categories"),
        (b'{"images": [{"file_name": "x"}], "annotations": [], "categories": []}', "images[0]"),
        (b'{"images": [], "annotations": [3], "categories": []}', "annotations[0]"),
    ],
)
def test_a_bad_file_is_refused_whole_naming_the_problem(world, raw, words):
    _image(world)
    response = _import(world.client(world.admin), None, raw=raw)
    assert response.status_code == 400
    assert words in response.data["detail"], response.data
    assert (
        not Annotation.objects.exists()
        and not AuditEvent.objects.filter(action="coco.imported").exists()
    )


def test_import_is_admin_only(world):
    client = world.client(world.annotator)
    assert _import(client, {"images": [], "annotations": [], "categories": []}).status_code == 403


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_runs_the_export(media_root):
    """The production column: the API enqueues on commit into Redis, a `celery worker -Q cpu`
    process claims the job from PostgreSQL, writes the zip, and the admin downloads it."""
    project = factories.ProjectFactory(slug="chest")
    admin = factories.UserFactory()
    factories.MembershipFactory(project=project, user=admin, role="admin")
    label_class = factories.LabelClassFactory(project=project, name="nodule")
    [outcome] = studies.upload_ingest(project=project, actor=None, files=[("ct", io.BytesIO(CT))])
    image = Image.objects.get(pk=outcome.image_ids[0])
    annotations.annotation_create(
        image=image,
        actor=admin,
        client_key=uuid.uuid4(),
        label_class=label_class.pk,
        box=[10, 10, 20, 20],
    )
    client = factories_client(admin)
    with celery_worker("cpu") as worker:
        created = client.post("/api/projects/chest/exports/", {"images": "all"}, format="json")
        assert created.status_code == 202
        job = wait_finished(ExportJob, created.data["id"], timeout=90, what="the export")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert "radlabel.coco_export" in worker.output, worker.output[-3000:]
    _, body = _download(client, job.pk)
    archive = zipfile.ZipFile(io.BytesIO(body))
    split = image.series.study.patient.split
    assert json.loads(archive.read(coco.instances_path(split)))["annotations"]


def factories_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
