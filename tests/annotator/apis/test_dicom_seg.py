"""DICOM-SEG out: GET /api/series/{id}/seg/ on real CT slices and a multi-frame MR."""

import io
import threading
import uuid
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from django.db import connections
from pydicom.sr.codedict import codes

from annotator import coco
from annotator.models import Annotation, AuditEvent, Image, SegRevision
from annotator.services import annotations, dicom_seg, studies
from annotator.services.dicom_seg import segment_type_code
from tests import factories
from tests.annotator.apis.test_exports import _accepted_mask, _image, _mask
from tests.dciodvfy import dciodvfy_errors
from tests.dicom_files import ct_slices, data_store


def _ct_series(world, slices=3, without=()):
    """``slices`` real CT slices of one series (CT_small at three table positions), without
    the attributes named in ``without``."""
    images = [
        _image(world, data, f"slice{n}.dcm")
        for n, data in enumerate(ct_slices(slices, without=without))
    ]
    assert len({image.series_id for image in images}) == 1
    return images


def test_dicom_seg_of_a_series_is_valid_and_reads_back_into_the_same_masks(world, tmp_path):
    images = _ct_series(world)
    second = factories.LabelClassFactory(project=world.project, name="mass", order=1)
    masks = {}
    for image, class_, (y, x) in (
        (images[0], world.instance_class, (5, 5)),
        (images[0], second, (30, 30)),
        (images[2], world.instance_class, (20, 10)),
    ):
        mask = _accepted_mask(world, image, y, x, 12, class_)
        masks[(image.pk, class_.name)] = coco.decode_mask(mask).astype(bool)
    annotations.annotation_create(  # a proposal is not exported
        image=images[1],
        actor=world.admin,
        client_key=uuid.uuid4(),
        label_class=second.pk,
        box=[1, 1, 4, 4],
        mask=_mask(images[1], 1, 1, 4),
        status="proposed",
    )
    client = world.client(world.admin)
    response = client.get(f"/api/series/{images[0].series_id}/seg/")
    assert response.status_code == 200, getattr(response, "data", None)
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    path = tmp_path / "seg.dcm"
    path.write_bytes(response.content)

    seg = hd.seg.segread(path)
    assert [seg.get_segment_description(n).segment_label for n in (1, 2)] == ["nodule", "mass"]
    stored = {image.pk: pydicom.dcmread(media(image)) for image in images}
    assert seg.FrameOfReferenceUID == stored[images[0].pk].FrameOfReferenceUID
    assert seg.StudyInstanceUID == stored[images[0].pk].StudyInstanceUID
    assert seg.PatientID == images[0].series.study.patient.pseudonym
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    assert referenced == {str(ds.SOPInstanceUID) for ds in stored.values()}
    for image in images:
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=[str(stored[image.pk].SOPInstanceUID)],
            segment_numbers=[1, 2],
            ignore_spatial_locations=True,
        )[0]
        for number, name in ((1, "nodule"), (2, "mass")):
            expected = masks.get((image.pk, name), np.zeros(pixels.shape[:2], bool))
            assert np.array_equal(pixels[:, :, number - 1].astype(bool), expected), (image, name)
    assert AuditEvent.objects.filter(action="series.seg_exported").count() == 1

    assert dciodvfy_errors(path) == []


def test_dicom_seg_of_images_whose_source_lacked_type2_attributes(world, tmp_path):
    # like the demo's files: no PatientSex, AccessionNumber, StudyID, StudyDate, StudyTime
    missing = ("PatientSex", "AccessionNumber", "StudyID", "StudyDate", "StudyTime")
    images = _ct_series(world, slices=2, without=missing)
    stored = pydicom.dcmread(media(images[0]))
    assert all(k in stored and not stored[k].value for k in missing), "present, empty"
    _accepted_mask(world, images[1], 10, 10, 12)
    response = world.client(world.admin).get(f"/api/series/{images[0].series_id}/seg/")
    assert response.status_code == 200, getattr(response, "data", None)
    path = tmp_path / "seg.dcm"
    path.write_bytes(response.content)
    assert hd.seg.segread(path).number_of_segments == 1
    assert dciodvfy_errors(path) == []


def test_a_seg_highdicom_cannot_build_answers_409_with_the_reason(world, monkeypatch):
    [image] = _ct_series(world, slices=1)
    _accepted_mask(world, image, 10, 10, 12)

    def broken(*args, **kwargs):
        raise AttributeError("'FileDataset' object has no attribute 'PatientSex'")

    monkeypatch.setattr(dicom_seg, "_segmentation", broken)
    response = world.client(world.admin).get(f"/api/series/{image.series_id}/seg/")
    assert response.status_code == 409 and response.data["code"] == "unsupported_series"
    assert "PatientSex" in response.data["detail"]


def test_dicom_seg_needs_accepted_masks_and_an_admin(world):
    [image] = _ct_series(world, slices=1)
    client = world.client(world.admin)
    assert client.get(f"/api/series/{image.series_id}/seg/").status_code == 409
    assert (
        world.client(world.annotator).get(f"/api/series/{image.series_id}/seg/").status_code == 403
    )
    assert (
        world.client(world.outsider).get(f"/api/series/{image.series_id}/seg/").status_code == 404
    )


def media(image):
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / image.instance.file


def test_a_series_highdicom_cannot_reference_answers_409(world):
    [outcome] = studies.upload_ingest(
        project=world.project,
        actor=None,
        files=[("mr.dcm", io.BytesIO(data_store("emri_small.dcm").read_bytes()))],
    )
    image = Image.objects.filter(pk__in=outcome.image_ids).order_by("frame_number")[3]
    _accepted_mask(world, image, 5, 5, 12)
    response = world.client(world.admin).get(f"/api/series/{image.series_id}/seg/")
    assert response.status_code == 409 and response.data["code"] == "unsupported_series"


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def _export(client, series_id, path):
    """GET the series' SEG into ``path``: (the SEG read back, the response)."""
    response = client.get(f"/api/series/{series_id}/seg/")
    assert response.status_code == 200, getattr(response, "data", None)
    path.write_bytes(response.content)
    return hd.seg.segread(path), response


def test_a_class_coded_by_the_admin_gets_its_snomed_code_and_others_a_declared_private_code(
    world, tmp_path
):
    images = _ct_series(world, slices=2)
    mass = factories.LabelClassFactory(project=world.project, name="Ground glass", order=1)
    client = world.client(world.admin)
    coded = client.patch(
        f"/api/projects/chest/label-classes/{world.instance_class.pk}/",
        {"segment_type": "Nodule"},
        format="json",
    )
    assert coded.status_code == 200 and coded.data["segment_type"] == "Nodule", coded.data
    drawn = {}
    for image, class_, (y, x) in (
        (images[0], world.instance_class, (5, 5)),
        (images[1], world.instance_class, (20, 10)),
        (images[1], mass, (30, 30)),
    ):
        mask = _accepted_mask(world, image, y, x, 12, class_)
        drawn[(image.pk, class_.pk)] = coco.decode_mask(mask).astype(bool)

    path = tmp_path / "seg.dcm"
    seg, _ = _export(client, images[0].series_id, path)
    assert dciodvfy_errors(path) == []
    nodule, private = seg.get_segment_description(1), seg.get_segment_description(2)
    assert nodule.segmented_property_type == codes.SCT.Nodule
    assert (
        nodule.segmented_property_type.value,
        nodule.segmented_property_type.scheme_designator,
    ) == ("27925004", "SCT")
    assert nodule.segmented_property_category == codes.SCT.MorphologicallyAbnormalStructure
    code = private.segmented_property_type
    assert code.scheme_designator == "99RADLABEL" and code.meaning == "Ground glass"
    assert [
        (s.CodingSchemeDesignator, s.CodingSchemeName)
        for s in seg.CodingSchemeIdentificationSequence
    ] == [("99RADLABEL", "RadLabel label class names")]
    # derived from the name, not the database id: the same in another project
    elsewhere = factories.LabelClassFactory(project=world.other_project, name="ground glass")
    assert segment_type_code(elsewhere).value == code.value

    stored = {image.pk: str(pydicom.dcmread(media(image)).SOPInstanceUID) for image in images}
    for image in images:
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=[stored[image.pk]],
            segment_numbers=[1, 2],
            ignore_spatial_locations=True,
        )[0].astype(bool)
        for number, class_ in ((1, world.instance_class), (2, mass)):
            expected = drawn.get((image.pk, class_.pk))
            if expected is None:
                assert not pixels[:, :, number - 1].any()
            else:
                assert _dice(pixels[:, :, number - 1], expected) == 1.0, (image, number)


def _mask_changed(client, image, y0, x0, size):
    """The image's one accepted mask redrawn through the API."""
    annotation = Annotation.objects.get(image=image, status="accepted")
    mask = _mask(image, y0, x0, size)
    response = client.patch(
        f"/api/annotations/{annotation.pk}/",
        {"mask": mask, "box": coco.bbox_of_mask(mask), "version": annotation.version},
        format="json",
    )
    assert response.status_code == 200, response.data
    return coco.decode_mask(mask).astype(bool)


def _previous_reference(seg):
    """The SOP Instance UID the SEG references as its previous revision, or None."""
    [item] = seg.get("ReferencedImageSequence", [None])
    if item is None:
        return None
    [purpose] = item.PurposeOfReferenceCodeSequence
    assert (purpose.CodeValue, purpose.CodingSchemeDesignator) == ("PREDECESSOR", "99RADLABEL")
    assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    return item.ReferencedSOPInstanceUID


def test_the_same_labels_are_one_revision_with_the_same_uids(world, tmp_path):
    images = _ct_series(world, slices=2)
    _accepted_mask(world, images[0], 10, 10, 12)
    client = world.client(world.admin)
    first, answer = _export(client, images[0].series_id, tmp_path / "a.dcm")
    again, answer_again = _export(client, images[0].series_id, tmp_path / "b.dcm")

    uids = (first.SOPInstanceUID, first.SeriesInstanceUID, first.InstanceNumber)
    assert (again.SOPInstanceUID, again.SeriesInstanceUID, again.InstanceNumber) == uids
    assert first.SOPInstanceUID != first.SeriesInstanceUID and first.InstanceNumber == 1
    assert _previous_reference(first) is None
    for response in (answer, answer_again):
        assert response["X-Seg-Sop-Instance-Uid"] == first.SOPInstanceUID
        assert response["X-Seg-Instance-Number"] == "1"
        assert "X-Seg-Previous-Sop-Instance-Uid" not in response
    [revision] = SegRevision.objects.all()
    assert (revision.series_id, revision.instance_number, revision.previous) == (
        images[0].series_id,
        1,
        None,
    )
    assert revision.sop_instance_uid == first.SOPInstanceUID
    events = AuditEvent.objects.filter(action="series.seg_exported")
    assert [(e.after["instance_number"], e.after["previous_sop_instance_uid"]) for e in events] == [
        (1, None),
        (1, None),
    ]


def test_changed_labels_are_the_next_revision_in_the_same_series_referencing_the_one_before(
    world, tmp_path
):
    images = _ct_series(world, slices=2)
    _accepted_mask(world, images[0], 10, 10, 12)
    client = world.client(world.admin)
    first, _ = _export(client, images[0].series_id, tmp_path / "a.dcm")
    tracking = first.get_segment_description(1).tracking_uid

    drawn = _mask_changed(client, images[0], 30, 20, 8)
    path = tmp_path / "b.dcm"
    second, answer = _export(client, images[0].series_id, path)
    assert second.SOPInstanceUID != first.SOPInstanceUID
    assert second.SeriesInstanceUID == first.SeriesInstanceUID
    assert second.InstanceNumber == 2
    assert _previous_reference(second) == first.SOPInstanceUID
    assert (answer["X-Seg-Instance-Number"], answer["X-Seg-Previous-Sop-Instance-Uid"]) == (
        "2",
        first.SOPInstanceUID,
    )
    # the private code of the reference is declared; the previous SEG is listed after the
    # segmented series among the instances this one references
    assert [s.CodingSchemeDesignator for s in second.CodingSchemeIdentificationSequence] == [
        "99RADLABEL"
    ]
    source_series = pydicom.dcmread(media(images[0])).SeriesInstanceUID
    listed = [
        (s.SeriesInstanceUID, [i.ReferencedSOPInstanceUID for i in s.ReferencedInstanceSequence])
        for s in second.ReferencedSeriesSequence
    ]
    assert listed[0][0] == source_series
    assert listed[1:] == [(second.SeriesInstanceUID, [first.SOPInstanceUID])]
    assert dciodvfy_errors(path) == []
    # the segment is the same finding, tracked across the revisions, and holds the new mask
    assert second.get_segment_description(1).tracking_uid == tracking
    stored = str(pydicom.dcmread(media(images[0])).SOPInstanceUID)
    pixels = second.get_pixels_by_source_instance(
        source_sop_instance_uids=[stored], segment_numbers=[1], ignore_spatial_locations=True
    )[0][:, :, 0].astype(bool)
    assert _dice(pixels, drawn) == 1.0

    again, _ = _export(client, images[0].series_id, tmp_path / "c.dcm")
    assert (again.SOPInstanceUID, again.InstanceNumber) == (second.SOPInstanceUID, 2)
    revisions = list(SegRevision.objects.order_by("instance_number"))
    assert [r.sop_instance_uid for r in revisions] == [first.SOPInstanceUID, second.SOPInstanceUID]
    assert revisions[1].previous == revisions[0]
    event = AuditEvent.objects.filter(action="series.seg_exported").latest("id")
    assert (event.after["instance_number"], event.after["previous_sop_instance_uid"]) == (
        2,
        first.SOPInstanceUID,
    )


def test_labels_changed_back_are_the_next_revision_not_the_first_again(world, tmp_path):
    """A PACS viewer shows a series' highest Instance Number: the labels as they are now must
    be the newest SEG, also when they are as they were in an earlier one."""
    images = _ct_series(world, slices=1)
    _accepted_mask(world, images[0], 10, 10, 12)
    client = world.client(world.admin)
    first, _ = _export(client, images[0].series_id, tmp_path / "a.dcm")
    _mask_changed(client, images[0], 30, 20, 8)
    second, _ = _export(client, images[0].series_id, tmp_path / "b.dcm")
    _mask_changed(client, images[0], 10, 10, 12)
    path = tmp_path / "c.dcm"
    third, _ = _export(client, images[0].series_id, path)

    assert third.InstanceNumber == 3 and third.SeriesInstanceUID == first.SeriesInstanceUID
    assert third.SOPInstanceUID not in (first.SOPInstanceUID, second.SOPInstanceUID)
    assert _previous_reference(third) == second.SOPInstanceUID
    assert np.array_equal(third.pixel_array, first.pixel_array)
    assert dciodvfy_errors(path) == []
    assert SegRevision.objects.count() == 3


def test_another_projects_series_has_no_seg_and_no_revision(world):
    [image] = _ct_series(world, slices=1)
    _accepted_mask(world, image, 10, 10, 12)
    response = world.client(world.outsider).get(f"/api/series/{image.series_id}/seg/")
    assert response.status_code == 404
    assert not SegRevision.objects.exists()


def _in_thread(work):
    """Run ``work`` in a thread with its own database connection; join() gives its result."""
    result = {}

    def run():
        try:
            result["value"] = work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(timeout=60)
        assert not thread.is_alive()
        return result["value"]

    return join


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_exports_of_the_same_labels_make_one_revision(world, monkeypatch):
    [image] = _ct_series(world, slices=1)
    _accepted_mask(world, image, 10, 10, 12)
    built = dicom_seg._segmentation
    both_read = threading.Barrier(2, timeout=30)

    def together(*args, **kwargs):
        both_read.wait()  # both found no revision before either stores one
        return built(*args, **kwargs)

    monkeypatch.setattr(dicom_seg, "_segmentation", together)

    def export():
        response = world.client(world.admin).get(f"/api/series/{image.series_id}/seg/")
        return response.status_code, response["X-Seg-Sop-Instance-Uid"]

    joins = [_in_thread(export) for _ in range(2)]
    results = [join() for join in joins]
    [revision] = SegRevision.objects.all()
    assert results == [(200, revision.sop_instance_uid)] * 2
    assert revision.instance_number == 1


@pytest.mark.django_db(transaction=True)
def test_an_export_whose_labels_changed_while_it_was_built_answers_409(world, monkeypatch):
    [image] = _ct_series(world, slices=1)
    _accepted_mask(world, image, 10, 10, 12)
    built = dicom_seg._segmentation
    building, release = threading.Event(), threading.Event()

    def held_once(*args, **kwargs):
        if not building.is_set():
            building.set()
            assert release.wait(timeout=30)
        return built(*args, **kwargs)

    monkeypatch.setattr(dicom_seg, "_segmentation", held_once)
    client = world.client(world.admin)
    join = _in_thread(lambda: world.client(world.admin).get(f"/api/series/{image.series_id}/seg/"))
    assert building.wait(timeout=30)
    _mask_changed(client, image, 30, 20, 8)
    meanwhile = client.get(f"/api/series/{image.series_id}/seg/")
    release.set()
    held = join()

    assert meanwhile.status_code == 200 and meanwhile["X-Seg-Instance-Number"] == "1"
    assert held.status_code == 409 and held.data["code"] == "seg_changed", held.data
    [revision] = SegRevision.objects.all()
    assert revision.sop_instance_uid == meanwhile["X-Seg-Sop-Instance-Uid"]


def test_label_class_segment_type_is_one_of_the_short_list(world):
    client = world.client(world.admin)
    created = client.post(
        "/api/projects/chest/label-classes/",
        {"name": "cyst", "color": "#00ff00", "segment_type": "Cyst"},
        format="json",
    )
    assert created.status_code == 201 and created.data["segment_type"] == "Cyst", created.data
    listed = client.get("/api/projects/chest/label-classes/").data
    assert {c["name"]: c["segment_type"] for c in listed}["nodule"] == ""
    refused = client.patch(
        f"/api/projects/chest/label-classes/{created.data['id']}/",
        {"segment_type": "Appendix"},
        format="json",
    )
    assert refused.status_code == 400 and "segment_type" in str(refused.data), refused.data
    cleared = client.patch(
        f"/api/projects/chest/label-classes/{created.data['id']}/",
        {"segment_type": ""},
        format="json",
    )
    assert cleared.status_code == 200 and cleared.data["segment_type"] == ""
    event = AuditEvent.objects.filter(action="label_class.updated").latest("id")
    assert (event.before["segment_type"], event.after["segment_type"]) == ("Cyst", "")
