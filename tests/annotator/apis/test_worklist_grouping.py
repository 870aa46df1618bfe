"""The worklist's ``group=instance`` listing: a multi-frame file is one row with its progress."""

import io

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.models import Image, PreannotationJob
from tests import factories
from tests.dicom_files import data_store

MR_10_FRAMES = data_store("emri_small.dcm").read_bytes()
CT = data_store("693_UNCI.dcm").read_bytes()


@pytest.fixture
def ingested(world, media_root):
    """One 10-frame MR and one single-frame CT, ingested through the upload API."""
    client = world.client(world.admin)
    files = [
        SimpleUploadedFile(name, data, "application/octet-stream")
        for name, data in (("mr.dcm", MR_10_FRAMES), ("ct.dcm", CT))
    ]
    response = client.post("/api/projects/chest/uploads/", {"files": files}, format="multipart")
    assert response.status_code == 201, response.data
    mr_ids, [ct_id] = (f["image_ids"] for f in response.data["files"])
    frames = list(Image.objects.filter(pk__in=mr_ids).order_by("frame_number"))
    assert len(frames) == 10
    return frames, Image.objects.get(pk=ct_id)


def _list(world, query=""):
    response = world.client(world.annotator).get(f"/api/projects/chest/images/?{query}")
    assert response.status_code == 200, response.data
    return response.data


def _set(frame, **fields):
    Image.objects.filter(pk=frame.pk).update(**fields)


def test_without_group_every_frame_is_a_row(world, ingested):
    frames, ct = ingested
    page = _list(world)
    assert page["count"] == 11
    assert {row["id"] for row in page["results"]} == {f.pk for f in frames} | {ct.pk}
    assert all("frames_done" not in row for row in page["results"])


def test_a_multi_frame_instance_is_one_row_that_opens_its_first_frame_not_done(world, ingested):
    frames, ct = ingested
    for frame in frames[:3]:
        _set(frame, status="done")
    _set(frames[4], status="reviewed")
    factories.AnnotationFactory(
        image=frames[0], label_class=world.instance_class, status="accepted"
    )
    factories.AnnotationFactory(image=frames[6], label_class=world.instance_class)

    page = _list(world, "group=instance")

    assert page["count"] == 2
    mr, single = sorted(page["results"], key=lambda row: -row["frames"])
    assert (mr["id"], mr["frame_number"], mr["frames"]) == (frames[3].pk, 4, 10)
    assert mr["instance_id"] == frames[0].instance_id
    assert (mr["frames_done"], mr["status"]) == (4, "unlabelled")
    assert mr["classes"] == [world.instance_class.pk]
    assert (mr["accepted_count"], mr["proposed_count"]) == (1, 1)
    assert (single["id"], single["frames"], single["frames_done"]) == (ct.pk, 1, 0)


def test_a_fully_done_instance_opens_frame_one_with_the_least_done_status(world, ingested):
    frames, _ = ingested
    for frame in frames:
        _set(frame, status="reviewed")
    _set(frames[7], status="done")

    [mr] = [row for row in _list(world, "group=instance")["results"] if row["frames"] == 10]

    assert (mr["id"], mr["status"], mr["frames_done"]) == (frames[0].pk, "done", 10)


def test_a_grouped_row_matches_a_status_when_any_of_its_frames_has_it(world, ingested):
    frames, ct = ingested
    _set(frames[5], status="in_progress")

    in_progress = _list(world, "group=instance&status=in_progress")
    unlabelled = _list(world, "group=instance&status=unlabelled")
    done = _list(world, "group=instance&status=done")

    assert [row["id"] for row in in_progress["results"]] == [frames[0].pk]
    assert in_progress["results"][0]["status"] == "unlabelled"
    assert {row["id"] for row in unlabelled["results"]} == {frames[0].pk, ct.pk}
    assert done["count"] == 0


def test_uncertainty_orders_grouped_rows_by_their_most_uncertain_frame(world, ingested):
    frames, ct = ingested
    _set(ct, uncertainty=0.5)
    for frame in frames:
        _set(frame, uncertainty=0.1)
    _set(frames[8], uncertainty=0.9, max_score=0.7)

    most = _list(world, "group=instance&ordering=-uncertainty")["results"]
    least = _list(world, "group=instance&ordering=uncertainty")["results"]

    assert [(row["id"], row["uncertainty"]) for row in most] == [(frames[0].pk, 0.9), (ct.pk, 0.5)]
    assert most[0]["max_score"] == 0.7
    assert [row["id"] for row in least] == [ct.pk, frames[0].pk]


def test_status_orders_grouped_rows_by_their_least_done_frame(world, ingested):
    frames, ct = ingested
    _set(ct, status="proposed")
    for frame in frames:
        _set(frame, status="reviewed")
    _set(frames[2], status="done")

    rows = _list(world, "group=instance&ordering=status")["results"]

    assert [(row["id"], row["status"]) for row in rows] == [
        (frames[0].pk, "done"),
        (ct.pk, "proposed"),
    ]


def _another_instance_of(data: bytes) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(data))
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = (
        pydicom.uid.generate_uid()
    )
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def test_paging_counts_grouped_rows(world, ingested):
    other_mr = SimpleUploadedFile("mr2.dcm", _another_instance_of(MR_10_FRAMES))
    response = world.client(world.admin).post(
        "/api/projects/chest/uploads/", {"files": [other_mr]}, format="multipart"
    )
    assert response.data["stored"] == 1, response.data

    first = _list(world, "group=instance&page_size=2")
    second = _list(world, "group=instance&page_size=2&page=2")

    assert (first["count"], len(first["results"]), len(second["results"])) == (3, 2, 1)
    assert second["next"] is None
    assert sorted(row["frames"] for row in first["results"] + second["results"]) == [1, 10, 10]


def test_an_unknown_grouping_is_refused(world, ingested):
    response = world.client(world.annotator).get("/api/projects/chest/images/?group=series")
    assert response.status_code == 400
    assert response.data["code"] == "invalid_filter"


def test_pre_annotating_a_grouped_filter_takes_every_frame(world, ingested):
    frames, ct = ingested
    factories.ModelVersionFactory(project=world.project, status="active")
    response = world.client(world.admin).post(
        "/api/projects/chest/preannotate/",
        {"filters": {"group": "instance", "modality": "MR"}},
        format="json",
    )
    assert response.status_code == 202, response.data
    job = PreannotationJob.objects.get(pk=response.data["id"])
    assert sorted(job.image_ids) == sorted(f.pk for f in frames)


def test_every_row_names_the_dicom_instance_the_viewer_loads(world, ingested):
    frames, ct = ingested
    client = world.client(world.annotator)
    for query in ("", "group=instance"):
        for row in _list(world, query)["results"]:
            response = client.get(row["dicom_url"])
            assert response.status_code == 200, row
            dataset = pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))
            expected = 10 if row["instance_id"] == frames[0].instance_id else 1
            assert int(getattr(dataset, "NumberOfFrames", 1)) == expected
    detail = client.get(f"/api/images/{ct.pk}/").data
    assert detail["dicom_url"] == f"/api/images/{ct.pk}/dicom/"
