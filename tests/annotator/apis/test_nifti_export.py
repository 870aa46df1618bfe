"""NIfTI out: an export with ``volumes: "nifti"`` holds each series' image and label-map
volumes; read back with nibabel, the affine maps every voxel to its DICOM patient position (in
RAS), the label map is the accepted masks voxel for voxel and the image volume the modality
values. Series that are not a regular volume are skipped and listed with the reason."""

import io
import json
import zipfile

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut, pixel_array

from annotator import coco
from annotator.exceptions import ApplicationError
from annotator.models import Image, Instance
from annotator.services import coco_export
from tests import factories
from tests.annotator.apis.test_dicom_seg import _ct_series, media
from tests.annotator.apis.test_exports import _download, _image, _mark_done, _mask
from tests.dicom_files import pydicom_test_file
from tests.labels import accepted_label

pytestmark = pytest.mark.usefixtures("eager")


def _accept(world, image, label_class, y0, x0, size):
    """An accepted square mask of ``label_class``; returns it decoded."""
    mask = _mask(image, y0, x0, size)
    accepted_label(world, image, mask, label_class)
    return coco.decode_mask(mask).astype(bool)


def _export(world, capture, options):
    client = world.client(world.admin)
    with capture(execute=True):
        created = client.post("/api/projects/chest/exports/", options, format="json")
    assert created.status_code == 202, created.data
    job = client.get(f"/api/exports/{created.data['id']}/").data
    assert job["status"] == "succeeded", job
    _, body = _download(client, created.data["id"])
    return zipfile.ZipFile(io.BytesIO(body)), job


def _read(archive, name, tmp_path):
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(archive.read(name))
    return nib.load(path)


def _ras(ds, frame, row, column):
    """The patient position (RAS) of a pixel's centre, from the DICOM attributes."""
    if "PerFrameFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        position = ds.PerFrameFunctionalGroupsSequence[frame].PlanePositionSequence[0]
        position = position.ImagePositionPatient
        orientation = shared.PlaneOrientationSequence[0].ImageOrientationPatient
        spacing = shared.PixelMeasuresSequence[0].PixelSpacing
    else:
        position, orientation, spacing = (
            ds.ImagePositionPatient,
            ds.ImageOrientationPatient,
            ds.PixelSpacing,
        )
    position, orientation = np.array(position, float), np.array(orientation, float)
    lps = (
        position
        + column * float(spacing[1]) * orientation[:3]
        + row * float(spacing[0]) * orientation[3:]
    )
    return lps * [-1, -1, 1]


def _check_affine(affine, ds, frame, k):
    rows, columns = int(ds.Rows), int(ds.Columns)
    for row, column in ((0, 0), (0, columns - 1), (rows - 1, 0), (rows - 1, columns - 1), (7, 3)):
        voxel = affine @ [column, row, k, 1]
        assert np.allclose(voxel[:3], _ras(ds, frame, row, column), atol=1e-3), (k, row, column)


def test_nifti_volumes_of_a_ct_series_map_to_the_dicom_positions_and_masks(
    world, django_capture_on_commit_callbacks, tmp_path
):
    images = _ct_series(world)
    mass = factories.LabelClassFactory(project=world.project, name="mass", order=1)
    masks = {
        (0, 1): _accept(world, images[0], world.instance_class, 5, 5, 12),
        (0, 2): _accept(world, images[0], mass, 10, 10, 20),  # over the nodule: mass wins
        (2, 1): _accept(world, images[2], world.instance_class, 60, 10, 15),
    }
    client = world.client(world.admin)
    for image in (images[0], images[2]):
        _mark_done(client, image)

    archive, job = _export(world, django_capture_on_commit_callbacks, {"volumes": "nifti"})

    manifest = json.loads(archive.read("manifest.json"))
    volumes = manifest["volumes"]
    assert volumes["labels"] == {"0": "background", "1": "nodule", "2": "mass"}
    assert volumes["skipped"] == [] and job["summary"]["volumes"] == {"written": 1, "skipped": 0}
    [entry] = volumes["series"]
    split = images[0].series.study.patient.split
    assert entry["image"] == f"volumes/{split}/{images[0].series_id}_image.nii.gz"
    sidecar = json.loads(archive.read(entry["sidecar"]))
    assert sidecar["labels"] == volumes["labels"]
    assert sidecar["labelled_slices"] == [0, 2], "only the done slices are labelled"
    assert [s["image_id"] for s in sidecar["slices"]] == [image.pk for image in images]

    volume = _read(archive, entry["image"], tmp_path)
    labels = _read(archive, entry["label"], tmp_path)
    assert volume.shape == labels.shape == (128, 128, 3)
    assert volume.get_data_dtype() == np.int16 and labels.get_data_dtype() == np.uint8
    assert int(volume.header["sform_code"]) == int(volume.header["qform_code"]) == 1
    assert labels.header.get_intent()[0] == "label"
    assert np.allclose(volume.affine, labels.affine)
    assert np.allclose(volume.header.get_qform(), volume.affine, atol=1e-4)
    values, label_map = np.asarray(volume.dataobj), np.asarray(labels.dataobj)
    for k, image in enumerate(images):
        ds = pydicom.dcmread(media(image))
        _check_affine(volume.affine, ds, 0, k)
        hu = apply_modality_lut(pixel_array(ds), ds)
        assert np.array_equal(values[:, :, k].T, hu), k
        expected = np.zeros(hu.shape, np.uint8)
        for (slice_k, value), mask in sorted(masks.items()):
            if slice_k == k:
                expected[mask] = value
        assert np.array_equal(label_map[:, :, k].T, expected), k
    assert set(np.unique(label_map)) == {0, 1, 2}


def test_nifti_volume_of_a_multi_frame_ct_follows_its_functional_groups(
    world, django_capture_on_commit_callbacks, tmp_path
):
    # real enhanced CT: two frames 10 mm apart, the frame order against the normal, x flipped
    first = _image(world, pydicom_test_file("eCT_Supplemental.dcm").read_bytes(), "ect.dcm")
    frames = list(Image.objects.filter(instance=first.instance).order_by("frame_number"))
    mask = _accept(world, frames[0], world.instance_class, 100, 200, 40)

    archive, _ = _export(
        world, django_capture_on_commit_callbacks, {"volumes": "nifti", "images": "all"}
    )

    [entry] = json.loads(archive.read("manifest.json"))["volumes"]["series"]
    slices = json.loads(archive.read(entry["sidecar"]))["slices"]
    assert [s["frame_number"] for s in slices] == [2, 1], "ordered along the normal"
    volume = _read(archive, entry["image"], tmp_path)
    labels = np.asarray(_read(archive, entry["label"], tmp_path).dataobj)
    ds = pydicom.dcmread(media(first))
    for k, frame in enumerate((1, 0)):
        _check_affine(volume.affine, ds, frame, k)
        hu = np.asarray(pixel_array(ds, index=frame), np.float32) - 1024
        assert np.array_equal(np.asarray(volume.dataobj)[:, :, k].T, hu), k
    assert np.array_equal(labels[:, :, 1].T, mask) and not labels[:, :, 0].any()


def test_a_series_with_a_missing_slice_is_skipped_and_listed(
    world, django_capture_on_commit_callbacks
):
    images = _ct_series(world, slices=4)
    Instance.objects.filter(pk=images[1].instance_id).delete()  # slices 5 and 10 mm apart
    _accept(world, images[2], world.instance_class, 5, 5, 12)
    _mark_done(world.client(world.admin), images[2])

    archive, job = _export(world, django_capture_on_commit_callbacks, {"volumes": "nifti"})

    volumes = json.loads(archive.read("manifest.json"))["volumes"]
    assert volumes["series"] == []
    [skipped] = volumes["skipped"]
    assert skipped["series_id"] == images[0].series_id
    assert skipped["reason"].startswith("slices are not evenly spaced"), skipped
    assert not [n for n in archive.namelist() if n.startswith("volumes/")]
    assert job["summary"]["volumes"] == {"written": 0, "skipped": 1}
    assert job["summary"]["splits"][images[0].series.study.patient.split]["annotations"] == 1


def test_an_export_without_the_option_has_no_volumes(world, django_capture_on_commit_callbacks):
    images = _ct_series(world, slices=2)
    _mark_done(world.client(world.admin), images[0])
    archive, job = _export(world, django_capture_on_commit_callbacks, {})
    assert job["options"]["volumes"] == "none"
    assert "volumes" not in json.loads(archive.read("manifest.json"))
    assert not [n for n in archive.namelist() if n.startswith("volumes/")]


def test_an_unknown_volumes_value_is_refused_naming_the_option(world):
    response = world.client(world.admin).post(
        "/api/projects/chest/exports/", {"volumes": "analyze"}, format="json"
    )
    assert response.status_code == 400
    assert "volumes" in response.data["errors"], response.data
    with pytest.raises(ApplicationError, match="volumes"):
        coco_export.export_options_validate(project=world.project, options={"volumes": "dicom"})
