"""COCO that re-imports anywhere, through the HTTP API: an export of one project imports into
another project that holds the same DICOM files (matched by content key), annotations come out
of it identical, and the file's splits come along when asked."""

import copy
import io
import json
import uuid
import zipfile

import numpy as np
import pydicom
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator import coco
from annotator.models import Annotation, AuditEvent, Image, Patient
from tests import factories
from tests.dicom_files import data_store, pydicom_test_file

FILES = {
    "ct.dcm": data_store("693_UNCI.dcm").read_bytes(),
    "small.dcm": pydicom_test_file("CT_small.dcm").read_bytes(),
    "mr.dcm": data_store("emri_small_RLE.dcm").read_bytes(),  # 10 frames, RLE encapsulated
}
OTHER_SPLIT = {"train": "test", "val": "train", "test": "val"}


def _upload(client, slug, files=FILES):
    payload = [SimpleUploadedFile(n, d, "application/octet-stream") for n, d in files.items()]
    response = client.post(f"/api/projects/{slug}/uploads/", {"files": payload}, format="multipart")
    assert response.status_code == 201, response.data
    return {f["name"]: f["image_ids"] for f in response.data["files"]}


def _square(rows, cols, y0, x0, size):
    mask = np.zeros((rows, cols), np.uint8)
    mask[y0 : y0 + size, x0 : x0 + size] = 1
    mask[y0 + size // 2, x0 + size : x0 + size + 3] = 1  # a spur, so the mask is no box
    return coco.encode_mask(mask)


def _label(client, image_id, label_class, box, mask=None):
    response = client.post(
        f"/api/images/{image_id}/annotations/",
        {"client_key": str(uuid.uuid4()), "label_class": label_class, "box": box, "mask": mask},
        format="json",
    )
    assert response.status_code == 201, response.data


def _labelled_source(world):
    """Project "chest" with the three files and seven labels: masks on both CT slices and on
    three frames of the multi-frame MR, and one box without a mask."""
    client = world.client(world.admin)
    ids = _upload(client, "chest")
    nodule = world.instance_class.pk
    for image_id, (y0, x0, size) in [
        (ids["ct.dcm"][0], (200, 180, 40)),
        (ids["ct.dcm"][0], (60, 300, 25)),
        (ids["small.dcm"][0], (30, 40, 20)),
        (ids["mr.dcm"][1], (10, 12, 9)),
        (ids["mr.dcm"][4], (20, 30, 14)),
        (ids["mr.dcm"][9], (40, 5, 11)),
    ]:
        image = Image.objects.get(pk=image_id)
        mask = _square(image.rows, image.columns, y0, x0, size)
        _label(client, image_id, nodule, coco.bbox_of_mask(mask), mask)
    _label(client, ids["small.dcm"][0], nodule, [70.5, 80.25, 12, 9.5])
    return client, ids


def _target(world):
    """Project "copy", created through the API by a server admin, with the same files; its
    classes differ in order from the source's, so category ids and class ids differ too."""
    client = world.client(factories.UserFactory(is_staff=True))
    created = client.post(
        "/api/projects/",
        {
            "slug": "copy",
            "name": "Copy",
            "label_classes": [
                {"name": "mass", "color": "#00ff00"},
                {"name": "nodule", "color": "#ff0000"},
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.data
    return client, _upload(client, "copy")


def _export(client, slug, capture):
    """Every image of the project (not only those marked done), per split."""
    with capture(execute=True):
        job = client.post(
            f"/api/projects/{slug}/exports/",
            {"images": "all", "image_format": "none"},
            format="json",
        )
    assert job.status_code == 202, job.data
    response = client.get(f"/api/exports/{job.data['id']}/download/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return {split: json.loads(archive.read(coco.instances_path(split))) for split in coco.SPLITS}


def _import(client, slug, document, **fields):
    return client.post(
        f"/api/projects/{slug}/imports/coco/",
        {
            "file": SimpleUploadedFile(
                "instances.json", json.dumps(document).encode(), "application/json"
            ),
            **fields,
        },
        format="multipart",
    )


def _labels(documents):
    """Every annotation of an export keyed by its image's content key, in a stable order."""
    labels = []
    for document in documents.values():
        keys = {i["id"]: i["content_key"] for i in document["images"]}
        names = {c["id"]: c["name"] for c in document["categories"]}
        for a in document["annotations"]:
            labels.append(
                {
                    "content_key": keys[a["image_id"]],
                    "class": names[a["category_id"]],
                    "bbox": a["bbox"],
                    "area": a["area"],
                    "has_mask": a["has_mask"],
                    "segmentation": a["segmentation"],
                }
            )
    return sorted(labels, key=lambda a: (a["content_key"], a["bbox"]))


def test_an_export_imports_into_another_project_and_exports_the_same_annotations(
    world, eager, django_capture_on_commit_callbacks
):
    source, _ = _labelled_source(world)
    exported = _export(source, "chest", django_capture_on_commit_callbacks)
    target, _ = _target(world)

    reports = [_import(target, "copy", document) for document in exported.values()]
    assert all(r.status_code == 200 for r in reports), [r.data for r in reports]
    assert sum(r.data["imported"] for r in reports) == 7
    assert sum(r.data["skipped"] for r in reports) == 0
    assert {a["matched_by"] for r in reports for a in r.data["annotations"]} == {"content_key"}
    assert all(r.data["splits"] is None for r in reports), "splits stay unless asked"

    again = _export(target, "copy", django_capture_on_commit_callbacks)
    before, after = _labels(exported), _labels(again)
    assert len(after) == len(before) == 7
    for old, new in zip(before, after, strict=True):
        assert (new["content_key"], new["class"], new["bbox"], new["area"], new["has_mask"]) == (
            old["content_key"],
            old["class"],
            old["bbox"],
            old["area"],
            old["has_mask"],
        )
        if old["has_mask"]:
            assert coco.mask_iou(new["segmentation"], old["segmentation"]) == 1.0
            assert np.array_equal(
                coco.decode_mask(new["segmentation"]), coco.decode_mask(old["segmentation"])
            )
    images = {i["content_key"] for d in exported.values() for i in d["images"]}
    assert images == {i["content_key"] for d in again.values() for i in d["images"]}
    assert len(images) == 12, "one key per frame, none shared"
    assert {a.label_class.name for a in Annotation.objects.filter(project__slug="copy")} == {
        "nodule"
    }


def test_keep_splits_gives_the_patients_the_files_splits_audited_and_pinned(
    world, eager, django_capture_on_commit_callbacks
):
    source, source_ids = _labelled_source(world)
    target, target_ids = _target(world)
    # the CT patient of the source is put where its copy is not, so keeping splits moves it
    copy_patient = Image.objects.get(pk=target_ids["ct.dcm"][0]).series.study.patient
    source_patient = Image.objects.get(pk=source_ids["ct.dcm"][0]).series.study.patient
    moved = source.patch(
        f"/api/patients/{source_patient.pk}/",
        {"split": OTHER_SPLIT[copy_patient.split]},
        format="json",
    )
    assert moved.status_code == 200, moved.data
    exported = _export(source, "chest", django_capture_on_commit_callbacks)
    wanted = {i["content_key"]: split for split, d in exported.items() for i in d["images"]}

    plain = [_import(target, "copy", d) for d in exported.values()]
    assert Patient.objects.get(pk=copy_patient.pk).split == copy_patient.split
    assert not any(r.data["splits"] for r in plain)

    kept = [_import(target, "copy", d, keep_splits="true") for d in exported.values()]
    assert all(r.status_code == 200 for r in kept), [r.data for r in kept]
    assert sum(r.data["exists"] for r in kept) == 7, "the labels came with the first import"
    for image in Image.objects.filter(project__slug="copy").select_related("series__study"):
        patient = Patient.objects.get(pk=image.series.study.patient_id)
        assert patient.split == wanted[image.content_key]
        assert patient.split_manual, "an admin's choice: a rebalance leaves it"
    moves = [m for r in kept if r.data["splits"] for m in r.data["splits"]["moved"]]
    assert {
        "patient": copy_patient.pseudonym,
        "from": copy_patient.split,
        "to": OTHER_SPLIT[copy_patient.split],
    } in moves
    audit = AuditEvent.objects.get(
        project__slug="copy", action="patient.split_changed", object_id=str(copy_patient.pk)
    )
    assert audit.before == {"split": copy_patient.split}
    assert audit.after == {"split": OTHER_SPLIT[copy_patient.split]}
    patients = target.get("/api/projects/copy/patients/").data["results"]
    assert all(p["split_manual"] for p in patients)


def _mr_frames(exported):
    """The split file that holds the multi-frame MR (one patient, ten frames), and the
    positions of the MR's image entries in it."""
    document = next(
        d for d in exported.values() if any(i["frame_number"] == 10 for i in d["images"])
    )
    series = next(i["series_uid"] for i in document["images"] if i["frame_number"] == 10)
    return document, [n for n, i in enumerate(document["images"]) if i["series_uid"] == series]


def test_a_bad_or_conflicting_split_is_refused_whole_naming_it(
    world, eager, django_capture_on_commit_callbacks
):
    source, _ = _labelled_source(world)
    exported = _export(source, "chest", django_capture_on_commit_callbacks)
    target, _ = _target(world)
    splits = dict(Patient.objects.filter(project__slug="copy").values_list("pk", "split"))
    document, frames = _mr_frames(exported)
    assert len(frames) == 10

    conflicting = copy.deepcopy(document)
    conflicting["images"][frames[3]]["split"] = OTHER_SPLIT[document["images"][frames[3]]["split"]]
    response = _import(target, "copy", conflicting, keep_splits="true")
    assert response.status_code == 400 and response.data["code"] == "split_conflict"
    assert f"images[{frames[0]}] and images[{frames[3]}]" in response.data["detail"]
    assert "patient" in response.data["detail"]

    unnamed = copy.deepcopy(document)
    unnamed["images"][frames[2]]["split"] = "holdout"
    response = _import(target, "copy", unnamed, keep_splits="true")
    assert response.status_code == 400 and response.data["code"] == "invalid_split"
    assert f"images[{frames[2]}].split is 'holdout'" in response.data["detail"]

    response = _import(target, "copy", document, keep_splits="maybe")
    assert response.status_code == 400 and "keep_splits" in response.data["errors"]

    assert not Annotation.objects.filter(project__slug="copy").exists()
    assert dict(Patient.objects.filter(project__slug="copy").values_list("pk", "split")) == splits
    assert not AuditEvent.objects.filter(
        project__slug="copy", action__in=["coco.imported", "patient.split_changed"]
    ).exists()
    # without keep_splits the same conflicting file imports: its splits are not read
    imported = _import(target, "copy", conflicting).data
    assert imported["imported"] == len(document["annotations"]) and imported["splits"] is None


def test_a_content_key_shared_by_two_images_falls_back_or_is_reported(world):
    """Two files with identical pixels (one a copy with other UIDs) have one content key: it
    names no single image, so the entry matches by its other names or is skipped, saying so."""
    client = world.client(world.admin)
    twin = pydicom.dcmread(io.BytesIO(FILES["small.dcm"]))
    twin.SOPInstanceUID = pydicom.uid.generate_uid()
    twin.file_meta.MediaStorageSOPInstanceUID = twin.SOPInstanceUID
    buffer = io.BytesIO()
    twin.save_as(buffer, enforce_file_format=True)
    ids = _upload(client, "chest", {"small.dcm": FILES["small.dcm"], "twin.dcm": buffer.getvalue()})
    first, second = (Image.objects.get(pk=ids[n][0]) for n in ("small.dcm", "twin.dcm"))
    assert first.content_key == second.content_key and first.content_key
    entry = {"content_key": first.content_key, "width": 128, "height": 128}
    document = {
        "images": [
            {**entry, "id": "shared"},
            {**entry, "id": "by-uid", "sop_instance_uid": second.instance.sop_uid},
        ],
        "categories": [{"id": 1, "name": "nodule"}],
        "annotations": [
            {"id": n, "image_id": image_id, "category_id": 1, "bbox": [4, 4, 10, 10]}
            for n, image_id in enumerate(["shared", "by-uid"], start=1)
        ],
    }
    report = _import(client, "chest", document)
    assert report.status_code == 200, report.data
    shared, by_uid = report.data["annotations"]
    assert shared["reason"] == "unknown_image"
    assert shared["detail"] == "The content_key is that of 2 images here."
    assert by_uid["matched_by"] == "sop_instance_uid" and by_uid["status"] == "imported"
    assert Annotation.objects.get().image == second
