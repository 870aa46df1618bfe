"""DICOM-SEG out: a series' accepted masks as one binary Segmentation instance (highdicom).

One segment per label class, in the project's class order. The SEG references the stored,
de-identified source instances (their pseudonymous UIDs, patient, study and frame of
reference), so it carries nothing the stored files do not. A series is either single-frame
instances (one SEG frame per labelled slice) or one multi-frame instance.

A segment's type is the SNOMED CT code the admin chose for its class (``segment_type``), or
else a code of RadLabel's private scheme, declared in the SEG's
CodingSchemeIdentificationSequence, derived from the class name (the same class name gives
the same code in every project).

Revisions. Every SEG of a source series is an instance of one SEG series, whose Series
Instance UID is derived from the source series alone, so a PACS shows the SEGs of a series as
versions in one series. Each SEG built is recorded as a :class:`SegRevision`: the digest of its
content (segments, their codes and pixels), its SOP Instance UID (derived from that digest and
its Instance Number) and its Instance Number (1, 2, 3...). A build whose content is the newest
revision's is that revision again (same UIDs, same number), so the same labels downloaded or
pushed twice are one instance in a PACS. Other content is the next revision, numbered one
higher, also when it equals an earlier revision's: a viewer such as OHIF shows the instance
with the highest Instance Number as the series' SEG, so labels changed back must come after
the change. A revision is recorded only once its SEG is built; when two exports of a series
race for one number, the unique (series, instance number) keeps the first, and the other is
that same instance if its content is the same, else 409 (the labels changed meanwhile).

A revision after the first references the one before it in the General Reference module
(PS3.3 C.12.4, a User module of the Segmentation IOD): one Referenced Image Sequence
(0008,1140) item with the Segmentation Storage SOP Class, the previous revision's SOP Instance
UID and a Purpose of Reference Code Sequence (0040,A170) item ``PREDECESSOR`` of the private
scheme, declared in the CodingSchemeIdentificationSequence. A SEG is an image (the Segmentation
IOD has the General Image and Image Pixel modules), so the Referenced Image Sequence, not the
Referenced Instance Sequence for non-image objects, is the place; its context group (CID 7201
Referenced Image Purpose of Reference) has no concept for an earlier version of the same
object (its Temporal Predecessor and Successor order images in time). The Predecessor
Documents Sequence that Cornerstone3D's adapters write belongs to SR documents and would make
the SEG a Standard Extended SOP Class. Since the previous revision is in this study, it is
also listed in the Common Instance Reference module's Referenced Series Sequence (PS3.3
C.12.2), after the source series (viewers such as OHIF take the first item as the segmented
series).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any, cast

import highdicom as hd
import numpy as np
import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import SegmentationStorage

from annotator import coco, dicom, storage
from annotator.dicom.deid import add_missing_type2, remap_uid
from annotator.exceptions import ConflictError
from annotator.models import Annotation, AnnotationStatus, Image, LabelClass, SegRevision, Series
from annotator.services.audit import audit_record
from annotator.services.studies import project_deid_secret

logger = logging.getLogger(__name__)

MANUFACTURER = "RadLabel"
SOFTWARE_VERSION = "0.1.0"
CATEGORY = codes.SCT.MorphologicallyAbnormalStructure
PRIVATE_SCHEME = "99RADLABEL"
PRIVATE_SCHEME_ITEM = hd.coding_schemes.CodingSchemeIdentificationItem(
    designator=PRIVATE_SCHEME,
    name="RadLabel label class names",
    responsible_organization="RadLabel",
)
PREVIOUS_REVISION = Code("PREDECESSOR", PRIVATE_SCHEME, "Previous revision of this segmentation")


@dataclass
class SegResult:
    data: bytes
    sop_instance_uid: str
    series_instance_uid: str
    instance_number: int
    previous_sop_instance_uid: str | None
    segments: dict[int, str]
    frames: int

    def revision(self) -> dict[str, Any]:
        """Which revision of its SEG series this instance is, as audit events record it."""
        return {
            "sop_instance_uid": self.sop_instance_uid,
            "instance_number": self.instance_number,
            "previous_sop_instance_uid": self.previous_sop_instance_uid,
        }


def source_datasets(series: Series) -> tuple[list[pydicom.Dataset], list[Image]]:
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
        # files stored before ingest kept empty Type 2 attributes lack some of them
        datasets.append(add_missing_type2(dicom.open_stored(storage.reader, image.instance.file)))
    return datasets, images


def segment_type_code(label_class: LabelClass) -> Code:
    """The class's chosen SNOMED CT code, or its private code: ``C`` and 15 hex digits of
    the SHA-256 of its case-folded name (a code value is at most 16 characters)."""
    if label_class.segment_type:
        return getattr(codes.SCT, label_class.segment_type)
    name = label_class.name.strip()
    digest = hashlib.sha256(name.casefold().encode("utf-8")).hexdigest()
    return Code(f"C{digest[:15].upper()}", PRIVATE_SCHEME, name[:64])


def _derived_uid(kind: str, series: Series, content: str) -> str:
    """A ``2.25`` UID keyed like ingest's UID remapping: the same for the same arguments."""
    return remap_uid(
        f"radlabel-seg\x00{kind}\x00{series.series_uid}\x00{content}",
        project_secret=project_deid_secret(series.study.project),
    )


def _revision_for(*, series: Series, digest: str) -> SegRevision:
    """The newest revision when it holds this content, else the next one (not yet saved)."""
    newest = (
        SegRevision.objects.filter(series=series)
        .select_related("previous")
        .order_by("-instance_number")
        .first()
    )
    if newest is not None and newest.digest == digest:
        return newest
    number = 1 if newest is None else newest.instance_number + 1
    return SegRevision(
        series=series,
        digest=digest,
        instance_number=number,
        previous=newest,
        sop_instance_uid=_derived_uid("sop", series, f"{digest}\x00{number}"),
    )


def _revision_save(revision: SegRevision) -> None:
    """Record a new revision once its SEG is built. An export of the same series that stored
    this number meanwhile built the same instance when it holds the same content (the same
    number, previous revision and digest give the same UIDs); else the labels changed."""
    try:
        with transaction.atomic():
            revision.save()
    except IntegrityError:
        winner = SegRevision.objects.filter(
            series=revision.series, instance_number=revision.instance_number
        ).first()
        if winner is None:
            raise
        if winner.digest != revision.digest:
            raise ConflictError(
                "The labels of this series changed while its DICOM-SEG was built; try again.",
                code="seg_changed",
            ) from None


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
    datasets, images = source_datasets(series)
    index_of = {image.pk: position for position, image in enumerate(images)}
    first = images[0]
    pixels = np.zeros((len(images), first.rows, first.columns, len(classes)), dtype=bool)
    for image_id, class_id, mask in annotations:
        rle = cast("dict[str, Any]", mask)  # mask__isnull=False
        pixels[index_of[image_id], :, :, segment_of[class_id] - 1] |= coco.decode_mask(rle).astype(
            bool
        )
    types = {c.pk: segment_type_code(c) for c in classes}
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=segment_of[c.pk],
            segment_label=c.name[:64],
            segmented_property_category=CATEGORY,
            segmented_property_type=types[c.pk],
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=_derived_uid("tracking", series, f"{c.name}\x00{types[c.pk].value}"),
            tracking_id=c.name[:64],
        )
        for c in classes
    ]
    content = hashlib.sha256(pixels.tobytes())
    content.update(repr(pixels.shape).encode())
    for c in classes:
        code = types[c.pk]
        content.update(f"\x00{c.name}\x00{code.value}\x00{code.scheme_designator}".encode())
    revision = _revision_for(series=series, digest=content.hexdigest())
    previous = revision.previous.sop_instance_uid if revision.previous else None
    private = previous is not None or any(
        code.scheme_designator == PRIVATE_SCHEME for code in types.values()
    )
    try:
        seg = _segmentation(
            datasets,
            pixels,
            descriptions,
            series_instance_uid=_derived_uid("series", series, ""),
            sop_instance_uid=revision.sop_instance_uid,
            instance_number=revision.instance_number,
            previous_sop_instance_uid=previous,
            coding_schemes=[PRIVATE_SCHEME_ITEM] if private else None,
        )
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
    if revision.pk is None:
        _revision_save(revision)
    return SegResult(
        data=buffer.getvalue(),
        sop_instance_uid=str(seg.SOPInstanceUID),
        series_instance_uid=str(seg.SeriesInstanceUID),
        instance_number=revision.instance_number,
        previous_sop_instance_uid=previous,
        segments={segment_of[c.pk]: c.name for c in classes},
        frames=int(seg.NumberOfFrames),
    )


def _segmentation(
    datasets: list[pydicom.Dataset],
    pixels: np.ndarray,
    descriptions: list[hd.seg.SegmentDescription],
    *,
    series_instance_uid: str,
    sop_instance_uid: str,
    instance_number: int,
    previous_sop_instance_uid: str | None,
    coding_schemes: list[hd.coding_schemes.CodingSchemeIdentificationItem] | None,
) -> hd.seg.Segmentation:
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_instance_uid,
        series_number=9000,
        sop_instance_uid=sop_instance_uid,
        coding_schemes=coding_schemes,
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MANUFACTURER,
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        content_label="RADLABEL",
        content_description="Accepted RadLabel masks",
        series_description="RadLabel segmentation",
    )
    if previous_sop_instance_uid is not None:
        _reference_previous(seg, previous_sop_instance_uid)
    return seg


def _reference_previous(seg: hd.seg.Segmentation, sop_instance_uid: str) -> None:
    """The previous revision as a Referenced Image Sequence item (see the module docstring),
    also listed with the SEG's own series in the Referenced Series Sequence."""
    related, listed = Dataset(), Dataset()
    for item in (related, listed):
        item.ReferencedSOPClassUID = SegmentationStorage
        item.ReferencedSOPInstanceUID = sop_instance_uid
    related.PurposeOfReferenceCodeSequence = [hd.sr.CodedConcept.from_code(PREVIOUS_REVISION)]
    seg.ReferencedImageSequence = [related]
    series = Dataset()
    series.SeriesInstanceUID = seg.SeriesInstanceUID
    series.ReferencedInstanceSequence = [listed]
    seg.ReferencedSeriesSequence.append(series)


def series_seg_export(*, series: Series, actor: AbstractBaseUser) -> SegResult:
    result = series_seg_build(series=series)
    audit_record(
        actor=actor,
        project=series.study.project,
        action="series.seg_exported",
        obj=series,
        after={**result.revision(), "segments": len(result.segments)},
    )
    logger.info(
        "DICOM-SEG %d of series %s built (%d frames)",
        result.instance_number,
        series.pk,
        result.frames,
    )
    return result
