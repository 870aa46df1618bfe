"""DICOM-SEG out: a series' accepted masks as one binary Segmentation instance (highdicom).

One segment per label class, in the project's class order. The SEG references the stored,
de-identified source instances (their pseudonymous UIDs, patient, study and frame of
reference), so it carries nothing the stored files do not. A series is either single-frame
instances (one SEG frame per labelled slice) or one multi-frame instance.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from pydicom.sr.coding import Code

from annotator import coco
from annotator.dicom.deid import add_missing_type2
from annotator.exceptions import ConflictError
from annotator.models import Annotation, AnnotationStatus, Image, LabelClass, Series
from annotator.services.audit import audit_record

logger = logging.getLogger(__name__)

MANUFACTURER = "RadLabel"
SOFTWARE_VERSION = "0.1.0"
CATEGORY = Code("49755003", "SCT", "Morphologically abnormal structure")
PRIVATE_SCHEME = "99RADLABEL"


@dataclass
class SegResult:
    data: bytes
    sop_instance_uid: str
    series_instance_uid: str
    segments: dict[int, str]
    frames: int


def _source_datasets(series: Series) -> tuple[list[pydicom.Dataset], list[Image]]:
    images = list(
        Image.objects.filter(series=series)
        .select_related("instance")
        .order_by("instance__instance_number", "instance_id", "frame_number")
    )
    instance_ids = list(dict.fromkeys(image.instance_id for image in images))
    multi = [image for image in images if image.instance.number_of_frames > 1]
    if multi and len(instance_ids) > 1:
        raise ConflictError(
            "A DICOM-SEG covers one multi-frame instance or single-frame instances, not both.",
            code="unsupported_series",
        )
    datasets = []
    seen: set[int] = set()
    for image in images:
        if image.instance_id in seen:
            continue
        seen.add(image.instance_id)
        with default_storage.open(image.instance.file, "rb") as stream:
            # files stored before ingest kept empty Type 2 attributes lack some of them
            datasets.append(add_missing_type2(pydicom.dcmread(stream)))
    return datasets, images


def series_seg_build(*, series: Series) -> SegResult:
    """The SEG of a series' accepted masks (409 when it has none)."""
    annotations = list(
        Annotation.objects.filter(
            image__series=series, status=AnnotationStatus.ACCEPTED, mask__isnull=False
        ).values_list("image_id", "label_class_id", "mask")
    )
    if not annotations:
        raise ConflictError("This series has no accepted masks.", code="no_masks")
    classes = list(
        LabelClass.objects.filter(pk__in={a[1] for a in annotations}).order_by("order", "id")
    )
    segment_of = {c.pk: number for number, c in enumerate(classes, start=1)}
    datasets, images = _source_datasets(series)
    index_of = {image.pk: position for position, image in enumerate(images)}
    first = images[0]
    pixels = np.zeros((len(images), first.rows, first.columns, len(classes)), dtype=bool)
    for image_id, class_id, mask in annotations:
        pixels[index_of[image_id], :, :, segment_of[class_id] - 1] |= coco.decode_mask(mask).astype(
            bool
        )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=segment_of[c.pk],
            segment_label=c.name[:64],
            segmented_property_category=CATEGORY,
            segmented_property_type=Code(f"RL{c.pk}", PRIVATE_SCHEME, c.name[:64]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=hd.UID(),
            tracking_id=f"radlabel-class-{c.pk}",
        )
        for c in classes
    ]
    try:
        seg = _segmentation(datasets, pixels, descriptions)
    except ValueError as error:
        logger.warning("no DICOM-SEG for series %s: %s", series.pk, error)
        raise ConflictError(
            "The source images of this series cannot be referenced by a DICOM-SEG "
            "(they lack the geometry a multi-frame segmentation needs).",
            code="unsupported_series",
        ) from error
    except (AttributeError, KeyError, TypeError) as error:
        # the source files (de-identified by us) lack something highdicom needs
        logger.warning("no DICOM-SEG for series %s: %r", series.pk, error)
        raise ConflictError(
            f"A DICOM-SEG cannot be built from this series' images: {error}",
            code="unsupported_series",
        ) from error
    buffer = io.BytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    return SegResult(
        data=buffer.getvalue(),
        sop_instance_uid=str(seg.SOPInstanceUID),
        series_instance_uid=str(seg.SeriesInstanceUID),
        segments={segment_of[c.pk]: c.name for c in classes},
        frames=int(seg.NumberOfFrames),
    )


def _segmentation(
    datasets: list[pydicom.Dataset],
    pixels: np.ndarray,
    descriptions: list[hd.seg.SegmentDescription],
) -> hd.seg.Segmentation:
    return hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=9000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MANUFACTURER,
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        content_label="RADLABEL",
        content_description="Accepted RadLabel masks",
        series_description="RadLabel segmentation",
    )


def series_seg_export(*, series: Series, actor: AbstractBaseUser) -> SegResult:
    result = series_seg_build(series=series)
    audit_record(
        actor=actor,
        project=series.study.project,
        action="series.seg_exported",
        obj=series,
        after={"sop_instance_uid": result.sop_instance_uid, "segments": len(result.segments)},
    )
    logger.info("DICOM-SEG of series %s built (%d frames)", series.pk, result.frames)
    return result
