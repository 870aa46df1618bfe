"""NIfTI out: per series, the image volume and a label-map volume for volume tools (MONAI,
nnU-Net), written into the export zip when the export asks for ``volumes: "nifti"``.

For every series with an exported image, ``volumes/<split>/<series id>_image.nii.gz`` holds
the modality values of all its slices (Hounsfield units for CT: rescale slope and intercept,
or the Modality LUT, applied), as int16 when every value is an integer int16 holds, else as
float32. ``<series id>_label.nii.gz`` is the label map (uint8, uint16 past 255 classes): 0 is
background and each label class has its COCO category id; where masks of two classes overlap,
the later class wins. Only the export's annotations are drawn (its classes, statuses, dates
and image rule), so a slice outside ``labelled_slices`` of ``<series id>.json`` is not a
confirmed negative.

Orientation: voxel (i, j, k) is column i and row j of the k-th slice, slices in order along
the normal (row direction x column direction); the affine maps it to the DICOM patient
position of that pixel's centre, turned from DICOM's LPS into NIfTI's RAS (x and y negated),
as nibabel and dicom2nifti do; qform and sform are both set, code 1 (scanner). A series is
skipped, with its reason in the manifest, when it has one slice, colour or quarantined
images, slices of different sizes, orientations or pixel spacings, slices without geometry,
or slices that are not evenly spaced along one line. One series is in memory at a time.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import dataclass
from typing import Any, cast

import nibabel as nib
import numpy as np
import pydicom
from django.db.models import QuerySet

from annotator import coco
from annotator.dicom.pixels import frame_pixels, modality_range
from annotator.exceptions import ConflictError
from annotator.models import Annotation, Image, Series
from annotator.services.dicom_seg import source_datasets

VOLUMES = ("none", "nifti")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
ORIENTATION_TOLERANCE = 1e-4  # direction cosines
POSITION_TOLERANCE = 1e-3  # mm
SPACING_TOLERANCE = 0.01  # a fraction of the slice step
SCANNER = 1
NO_GEOMETRY = "slices lack ImagePositionPatient, ImageOrientationPatient or PixelSpacing"
ORIENTATION = (
    "voxel (i, j, k) is column i and row j of the k-th slice, slices in order along the normal "
    "(row direction x column direction); the affine maps it to the DICOM patient position of "
    "the pixel's centre in RAS (DICOM's LPS with x and y negated, as nibabel and dicom2nifti "
    "do); qform and sform code 1 (scanner)"
)
IMAGE_VALUES = (
    "modality values (HU for CT: rescale or Modality LUT applied), int16 where every value is "
    "an integer in int16's range, else float32"
)
LABEL_VALUES = (
    "0 background, each class its COCO category id (see labels); uint8, uint16 past 255 "
    "classes; where classes overlap the later one wins; slices not in labelled_slices are not "
    "in the export's image rule, so their zeros are not confirmed negatives"
)


class SeriesSkipped(Exception):
    """A series that has no volume; the message is the reason the manifest gives."""


@dataclass
class _Plane:
    position: np.ndarray
    orientation: np.ndarray
    spacing: np.ndarray


def _plane(ds: pydicom.Dataset, index: int) -> _Plane:
    """Frame ``index``'s plane: top level, overridden by shared then per-frame groups."""
    values = {
        "ImagePositionPatient": ds.get("ImagePositionPatient"),
        "ImageOrientationPatient": ds.get("ImageOrientationPatient"),
        "PixelSpacing": ds.get("PixelSpacing"),
    }
    macros = {
        "PlanePositionSequence": "ImagePositionPatient",
        "PlaneOrientationSequence": "ImageOrientationPatient",
        "PixelMeasuresSequence": "PixelSpacing",
    }
    for groups, pick in (
        ("SharedFunctionalGroupsSequence", 0),
        ("PerFrameFunctionalGroupsSequence", index),
    ):
        seq = ds.get(groups)
        if not seq or pick >= len(seq):
            continue
        for macro, keyword in macros.items():
            for item in seq[pick].get(macro) or []:
                if item.get(keyword):
                    values[keyword] = item.get(keyword)
    try:
        position, orientation, spacing = (
            np.array([float(v) for v in values[k]])
            for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
        )
    except (TypeError, ValueError) as error:
        raise SeriesSkipped(NO_GEOMETRY) from error
    if position.shape != (3,) or orientation.shape != (6,) or spacing.shape != (2,):
        raise SeriesSkipped(NO_GEOMETRY)
    return _Plane(position, orientation, spacing)


def _volume_affine(planes: list[_Plane]) -> tuple[np.ndarray, list[int]]:
    """The RAS affine of the slices and their order along the normal, or SeriesSkipped."""
    if len(planes) < 2:
        raise SeriesSkipped("one slice: not a volume")
    first = planes[0]
    for plane in planes[1:]:
        if not np.allclose(plane.orientation, first.orientation, atol=ORIENTATION_TOLERANCE):
            raise SeriesSkipped("slices are not parallel (their orientations differ)")
        if not np.allclose(plane.spacing, first.spacing, atol=POSITION_TOLERANCE):
            raise SeriesSkipped("pixel spacing differs between slices")
    row, column = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row, column)
    distances = np.array([plane.position @ normal for plane in planes])
    order = [int(n) for n in np.argsort(distances, kind="stable")]
    gaps = np.diff(distances[order])
    if gaps.min() <= POSITION_TOLERANCE:
        raise SeriesSkipped("two slices are at the same position")
    step = float(np.median(gaps))
    if np.abs(gaps - step).max() > SPACING_TOLERANCE * step:
        raise SeriesSkipped(
            f"slices are not evenly spaced (gaps from {gaps.min():.3f} to {gaps.max():.3f} mm)"
        )
    start, end = planes[order[0]].position, planes[order[-1]].position
    delta = (end - start) / (len(order) - 1)
    expected = start + np.outer(np.arange(len(order)), delta)
    found = np.array([planes[n].position for n in order])
    if np.linalg.norm(found - expected, axis=1).max() > SPACING_TOLERANCE * step:
        raise SeriesSkipped("slice positions are not on one line")
    row_spacing, column_spacing = first.spacing
    lps = np.eye(4)
    lps[:3, 0] = row * column_spacing
    lps[:3, 1] = column * row_spacing
    lps[:3, 2] = delta
    lps[:3, 3] = start
    return LPS_TO_RAS @ lps, order


def _modality_values(ds: pydicom.Dataset, index: int) -> np.ndarray:
    values = frame_pixels(ds, index)
    if values.ndim == 3:
        raise SeriesSkipped("colour images have no modality values")
    if str(ds.PhotometricInterpretation) == "MONOCHROME1":
        # frame_pixels mirrors MONOCHROME1 for display: mirror back to the modality values
        low, high = modality_range(ds, index)
        values = np.float32(low + high) - values
    return values


def _image_volume(values: np.ndarray) -> np.ndarray:
    info = np.iinfo(np.int16)
    if (
        values.min() >= info.min
        and values.max() <= info.max
        and np.array_equal(values, np.round(values))
    ):
        return values.astype(np.int16)
    return values.astype(np.float32)


def _nifti_bytes(data: np.ndarray, affine: np.ndarray, *, label: bool) -> bytes:
    image = nib.Nifti1Image(data, affine)
    image.header.set_qform(affine, code=SCANNER)
    image.header.set_sform(affine, code=SCANNER)
    image.header.set_xyzt_units(xyz="mm")
    if label:
        image.header.set_intent("label")
    return gzip.compress(image.to_bytes(), compresslevel=1, mtime=0)


class VolumeWriter:
    """Writes each exported series' NIfTI volumes into ``zf`` and keeps what the manifest says."""

    def __init__(self, zf: zipfile.ZipFile, categories: list[dict[str, Any]]) -> None:
        self.zf = zf
        self.category_of = {c["radlabel_id"]: c["id"] for c in categories}
        self.labels = {"0": "background"} | {str(c["id"]): c["name"] for c in categories}
        self.label_dtype = np.uint8 if len(categories) <= np.iinfo(np.uint8).max else np.uint16
        self.written: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []

    def write_split(
        self, split: str, *, images: QuerySet[Image], annotations: QuerySet[Annotation]
    ) -> None:
        """Volumes of the series of ``images`` (the split's exported images), labelled with
        the masks of ``annotations`` (the split's exported annotations)."""
        exported = set(images.values_list("id", flat=True))
        for series in Series.objects.filter(images__in=images).distinct().order_by("id"):
            try:
                entry = self._write_series(split, series, exported, annotations)
            except SeriesSkipped as reason:
                self.skipped.append(
                    {"series_id": series.pk, "series_uid": series.series_uid, "reason": str(reason)}
                )
            else:
                self.written.append(entry)

    def _write_series(
        self,
        split: str,
        series: Series,
        exported: set[int],
        annotations: QuerySet[Annotation],
    ) -> dict[str, Any]:
        if series.images.quarantined().exists():
            raise SeriesSkipped("it has quarantined images (burned-in annotation)")
        try:
            datasets, images = source_datasets(series)
        except ConflictError as error:
            raise SeriesSkipped(error.detail) from error
        dataset_of = dict(zip(dict.fromkeys(i.instance_id for i in images), datasets, strict=True))
        if len({(image.rows, image.columns) for image in images}) > 1:
            raise SeriesSkipped("slices differ in size")
        affine, order = _volume_affine(
            [_plane(dataset_of[i.instance_id], i.frame_number - 1) for i in images]
        )
        images = [images[n] for n in order]
        values = np.stack(
            [_modality_values(dataset_of[i.instance_id], i.frame_number - 1) for i in images],
            axis=-1,
        ).transpose(1, 0, 2)
        slice_of = {image.pk: k for k, image in enumerate(images)}
        labels = np.zeros(values.shape, dtype=self.label_dtype)
        masks = sorted(
            (
                (self.category_of[class_id], image_id, mask)
                for image_id, class_id, mask in annotations.filter(
                    image__series=series, mask__isnull=False
                ).values_list("image_id", "label_class_id", "mask")
            ),
            key=lambda row: row[0],
        )
        for category, image_id, mask in masks:
            rle = cast("dict[str, Any]", mask)  # mask__isnull=False
            labels[:, :, slice_of[image_id]][coco.decode_mask(rle).T.astype(bool)] = category
        stem = f"volumes/{split}/{series.pk}"
        image_volume = _image_volume(values)
        entry = {
            "series_id": series.pk,
            "series_uid": series.series_uid,
            "modality": series.modality,
            "image": f"{stem}_image.nii.gz",
            "label": f"{stem}_label.nii.gz",
            "sidecar": f"{stem}.json",
            "shape": list(values.shape),
            "image_dtype": str(image_volume.dtype),
            "label_dtype": str(labels.dtype),
            "affine": affine.round(6).tolist(),
            "labels": self.labels,
            "labelled_slices": sorted(slice_of[pk] for pk in exported & slice_of.keys()),
            "slices": [
                {
                    "k": k,
                    "image_id": image.pk,
                    "sop_instance_uid": image.instance.sop_uid,
                    "frame_number": image.frame_number,
                }
                for k, image in enumerate(images)
            ],
        }
        for name, data, label in (
            (entry["image"], image_volume, False),
            (entry["label"], labels, True),
        ):
            self.zf.writestr(
                zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)),
                _nifti_bytes(data, affine, label=label),
                compress_type=zipfile.ZIP_STORED,
            )
        self.zf.writestr(entry["sidecar"], json.dumps(entry, indent=2, sort_keys=True))
        return entry

    def summary(self) -> dict[str, int]:
        return {"written": len(self.written), "skipped": len(self.skipped)}

    def manifest(self) -> dict[str, Any]:
        return {
            "format": "NIfTI-1, gzip (nibabel)",
            "layout": "volumes/<split>/<series id>_image.nii.gz, <series id>_label.nii.gz and "
            "<series id>.json (this entry of series, with the slices' image ids)",
            "orientation": ORIENTATION,
            "image_values": IMAGE_VALUES,
            "label_values": LABEL_VALUES,
            "labels": self.labels,
            "series": [{k: v for k, v in entry.items() if k != "slices"} for entry in self.written],
            "skipped": self.skipped,
        }
