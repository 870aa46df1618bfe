"""COCO export: a project's de-identified images and labels as a zip, built by a background job.

The zip holds ``manifest.json``, one COCO instances file per split
(``annotations/instances_<split>.json``) and the images as PNG
(``images/<split>/<image id>.png``). Memory stays bounded whatever the project's size: rows are
read with server-side cursors, JSON is written entry by entry into the zip stream, and masks are
never all in memory at once. Quarantined images (burned-in text) never leave.

Negatives apart from unlabelled: every image entry carries its labelling status and whether a
person labelled it, and by default (``images: "done"``) only images a person marked done or
reviewed are exported, with their labels: an image there without annotations is a confirmed
negative. ``images: "all"`` exports every image; the manifest and each file's ``info`` say
which rule was used.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import numpy as np
import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from PIL import Image as PILImage
from pydicom.pixels import pixel_array

from annotator import coco, dicom
from annotator.dicom.deid import DEIDENTIFICATION_METHOD
from annotator.dicom.profile import PROFILE_EDITION, PROFILE_NAME
from annotator.exceptions import ApplicationError, ConflictError
from annotator.models import (
    Annotation,
    AnnotationStatus,
    ExportJob,
    Image,
    ImageStatus,
    JobStatus,
    LabelClass,
    LabelKind,
    Project,
)
from annotator.services import jobs
from annotator.services.audit import audit_record

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
FLUSH_BYTES = 1 << 20
FORMAT_VERSION = 1
SEGMENTATIONS = ("rle", "polygon")
IMAGE_FORMATS = ("png8", "png16", "none")
PNG16_SIGNED_OFFSET = 32768
IMAGE_RULES = {
    "done": "only images a person marked done or reviewed, with their labels: an image without "
    "annotations is a confirmed negative",
    "all": "every image, whatever its labelling status: an image without annotations may be "
    "unlabelled, see its labelling_status",
}
DONE_STATUSES = (ImageStatus.DONE, ImageStatus.REVIEWED)
PERSON_STATUSES = (ImageStatus.IN_PROGRESS, *DONE_STATUSES)

_IMAGE_FIELDS = (
    "id",
    "rows",
    "columns",
    "pixel_spacing_row",
    "pixel_spacing_col",
    "frame_number",
    "status",
    "series__modality",
    "series__series_uid",
    "series__study__study_uid",
    "series__study__patient__pseudonym",
    "instance__sop_uid",
)
_ANNOTATION_FIELDS = (
    "id",
    "image_id",
    "label_class_id",
    "box_x",
    "box_y",
    "box_w",
    "box_h",
    "mask",
    "score",
    "status",
    "source",
)


class ExportCancelled(Exception):
    pass


def _datetime(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ApplicationError(f"{name} is not an ISO 8601 date and time.", code="invalid_option")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed.isoformat()


def export_options_validate(*, project: Project, options: dict[str, Any]) -> dict[str, Any]:
    """Normalised export options; unknown values are refused with a 400 naming them."""
    known = {
        "split",
        "label_classes",
        "updated_from",
        "updated_to",
        "include_proposals",
        "segmentation",
        "image_format",
        "window",
        "images",
    }
    unknown = set(options) - known
    if unknown:
        raise ApplicationError(
            f"Unknown export option(s): {', '.join(sorted(unknown))}.", code="invalid_option"
        )
    split = options.get("split") or None
    if split is not None and split not in coco.SPLITS:
        raise ApplicationError(f"Unknown split {split!r}.", code="invalid_option")
    classes = options.get("label_classes")
    if classes is not None:
        if not isinstance(classes, list) or not all(isinstance(c, int) for c in classes):
            raise ApplicationError("label_classes is a list of ids.", code="invalid_option")
        found = set(
            LabelClass.objects.filter(project=project, pk__in=classes).values_list("pk", flat=True)
        )
        if missing := sorted(set(classes) - found):
            raise ApplicationError(
                f"Label classes {missing} are not in this project.", code="invalid_label_class"
            )
        classes = sorted(set(classes))
    segmentation = options.get("segmentation") or "rle"
    if segmentation not in SEGMENTATIONS:
        raise ApplicationError("segmentation is 'rle' or 'polygon'.", code="invalid_option")
    image_format = options.get("image_format") or "png8"
    if image_format not in IMAGE_FORMATS:
        raise ApplicationError("image_format is 'png8', 'png16' or 'none'.", code="invalid_option")
    images = options.get("images") or "done"
    if images not in IMAGE_RULES:
        raise ApplicationError("images is 'done' or 'all'.", code="invalid_option")
    window = options.get("window")
    if window is not None:
        if (
            not isinstance(window, list)
            or len(window) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in window)
            or not window[1] > 0
        ):
            raise ApplicationError(
                "window is [centre, width] with a positive width.", code="invalid_option"
            )
        window = [float(window[0]), float(window[1])]
    updated_from = _datetime(options.get("updated_from"), "updated_from")
    updated_to = _datetime(options.get("updated_to"), "updated_to")
    if updated_from and updated_to and updated_from > updated_to:
        raise ApplicationError("updated_from is after updated_to.", code="invalid_option")
    return {
        "split": split,
        "label_classes": classes,
        "updated_from": updated_from,
        "updated_to": updated_to,
        "include_proposals": bool(options.get("include_proposals", False)),
        "segmentation": segmentation,
        "image_format": image_format,
        "window": window,
        "images": images,
    }


def export_create(
    *, project: Project, actor: AbstractBaseUser, options: dict[str, Any]
) -> ExportJob:
    """Queue an export; the worker picks it up once this transaction commits."""
    options = export_options_validate(project=project, options=options)
    with transaction.atomic():
        job = ExportJob.objects.create(project=project, created_by=actor, options=options)
        audit_record(actor=actor, project=project, action="export.created", obj=job, after=options)
        jobs.job_enqueue(job)
    return job


def export_downloaded(*, job: ExportJob, actor: AbstractBaseUser) -> None:
    if job.status != JobStatus.SUCCEEDED or not job.result_file:
        raise ConflictError("The export is not ready.", code="export_not_ready")
    audit_record(
        actor=actor,
        project=job.project,
        action="export.downloaded",
        obj=job,
        after={"sha256": job.result_sha256},
    )


def export_run(*, job_id: int) -> ExportJob | None:
    """Build the zip of a queued export. Idempotent: a finished job is left as it is."""
    job = jobs.job_claim(ExportJob, job_id)
    if job is None:
        return None
    project = job.project
    path = f"exports/{project.pk}/export-{job.pk}-{os.urandom(8).hex()}.zip"
    try:
        with tempfile.TemporaryDirectory(prefix="radlabel-export-") as folder:
            local = os.path.join(folder, "export.zip")
            summary = write_export_zip(
                project=project, options=job.options, target=local, progress=_progress(job)
            )
            sha256, size = _digest(local)
            with open(local, "rb") as stream:
                stored = default_storage.save(path, File(stream))
    except ExportCancelled:
        jobs.job_finish(job, status=JobStatus.CANCELLED, error="Cancelled.")
        logger.info("export %s cancelled", job.pk)
        return ExportJob.objects.get(pk=job.pk)
    except Exception:
        logger.exception("export %s failed", job.pk)
        jobs.job_finish(
            job, status=JobStatus.FAILED, error="The export failed; the server log has the details."
        )
        return ExportJob.objects.get(pk=job.pk)
    jobs.job_finish(
        job,
        status=JobStatus.SUCCEEDED,
        result_file=stored,
        result_sha256=sha256,
        result_size=size,
        summary=summary,
    )
    logger.info("export %s of project %s written (%d bytes)", job.pk, project.pk, size)
    return ExportJob.objects.get(pk=job.pk)


def _progress(job: ExportJob):  # noqa: ANN202
    def report(fraction: float) -> None:
        if jobs.job_heartbeat(job, progress=round(min(max(fraction, 0.0), 0.99), 4)):
            raise ExportCancelled

    return report


def _digest(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _classes(
    project: Project, options: dict[str, Any]
) -> tuple[list[LabelClass], list[LabelClass]]:
    queryset = LabelClass.objects.filter(project=project).order_by("order", "id")
    if options.get("label_classes") is not None:
        queryset = queryset.filter(pk__in=options["label_classes"])
    classes = list(queryset)
    return (
        [c for c in classes if c.kind == LabelKind.INSTANCE],
        [c for c in classes if c.kind == LabelKind.TAG],
    )


def _image_rule(options: dict[str, Any]) -> str:
    """The images rule of an export; jobs queued before the rule existed exported every image."""
    return options.get("images", "all")


def _exported(options: dict[str, Any], split: str, prefix: str = "") -> dict[str, Any]:
    """Filters on an image (through ``prefix``) for it to be in ``split`` of the export."""
    filters: dict[str, Any] = {
        f"{prefix}quarantined": False,
        f"{prefix}series__study__patient__split": split,
    }
    if _image_rule(options) == "done":
        filters[f"{prefix}status__in"] = DONE_STATUSES
    return filters


def _images(project: Project, split: str, options: dict[str, Any]):  # noqa: ANN202
    return Image.objects.filter(project=project, **_exported(options, split))


def _annotations(project: Project, split: str, options: dict[str, Any], class_ids: list[int]):  # noqa: ANN202
    statuses = [AnnotationStatus.ACCEPTED]
    if options.get("include_proposals"):
        statuses.append(AnnotationStatus.PROPOSED)
    queryset = Annotation.objects.filter(
        project=project,
        status__in=statuses,
        label_class_id__in=class_ids,
        **_exported(options, split, "image__"),
    )
    if options.get("updated_from"):
        queryset = queryset.filter(updated_at__gte=options["updated_from"])
    if options.get("updated_to"):
        queryset = queryset.filter(updated_at__lte=options["updated_to"])
    return queryset


def _tags_by_image(
    project: Project, split: str, options: dict[str, Any], tag_ids: list[int]
) -> Iterator[tuple[int, int]]:
    through = Image.tags.through
    return (
        through.objects.filter(
            image__project=project,
            labelclass_id__in=tag_ids,
            **_exported(options, split, "image__"),
        )
        .order_by("image_id", "labelclass_id")
        .values_list("image_id", "labelclass_id")
        .iterator(chunk_size=CHUNK_SIZE)
    )


class _JsonWriter:
    """Buffered text writes into a binary zip member."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.stream.write("".join(self.parts).encode())
            self.parts, self.size = [], 0


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def _write_array(out: _JsonWriter, entries: Iterator[dict[str, Any]]) -> int:
    out.write("[")
    count = 0
    for entry in entries:
        out.write(("," if count else "") + _dumps(entry))
        count += 1
    out.write("]")
    return count


def _image_entries(
    project: Project, split: str, options: dict[str, Any], tag_names: dict[int, str]
) -> Iterator[dict[str, Any]]:
    rows = (
        _images(project, split, options)
        .order_by("id")
        .values_list(*_IMAGE_FIELDS)
        .iterator(CHUNK_SIZE)
    )
    tags = _tags_by_image(project, split, options, list(tag_names))
    pending = next(tags, None)
    for (
        pk,
        rows_,
        cols,
        spacing_row,
        spacing_col,
        frame,
        status,
        modality,
        series_uid,
        study_uid,
        pseudonym,
        sop_uid,
    ) in rows:
        image_tags = []
        while pending is not None and pending[0] <= pk:
            if pending[0] == pk:
                image_tags.append(tag_names[pending[1]])
            pending = next(tags, None)
        yield {
            "id": pk,
            "file_name": coco.image_file_name(split, pk),
            "width": cols,
            "height": rows_,
            "tags": image_tags,
            "patient": pseudonym,
            "study_uid": study_uid,
            "series_uid": series_uid,
            "sop_instance_uid": sop_uid,
            "frame_number": frame,
            "modality": modality,
            "pixel_spacing": ([spacing_row, spacing_col] if spacing_row is not None else None),
            "split": split,
            "labelling_status": status,
            "person_labelled": status in PERSON_STATUSES,
        }


def _annotation_entries(
    project: Project,
    split: str,
    options: dict[str, Any],
    category_of: dict[int, int],
    counts: dict[str, int],
) -> Iterator[dict[str, Any]]:
    rows = (
        _annotations(project, split, options, list(category_of))
        .order_by("id")
        .values_list(*_ANNOTATION_FIELDS)
        .iterator(CHUNK_SIZE)
    )
    polygons = options.get("segmentation") == "polygon"
    for pk, image_id, class_id, x, y, w, h, mask, score, status, source in rows:
        box = coco.round_box([x, y, w, h])
        entry: dict[str, Any] = {
            "id": pk,
            "image_id": image_id,
            "category_id": category_of[class_id],
            "bbox": box,
            "iscrowd": 0,
        }
        if mask:
            entry["area"] = coco.mask_area(mask)
            entry["segmentation"] = coco.rle_to_polygons(mask) if polygons else mask
            entry["has_mask"] = True
            counts["masks"] += 1
        else:
            entry["area"] = round(float(w) * float(h), 3)
            entry["segmentation"] = coco.box_polygon(box)
            entry["has_mask"] = False
        entry["status"] = status
        entry["source"] = source
        if score is not None:
            entry["score"] = score
        yield entry


def _manifest(project: Project, options: dict[str, Any], summary: dict[str, Any]) -> dict:
    return {
        "format": "COCO instances",
        "format_version": FORMAT_VERSION,
        "generator": "RadLabel",
        "project": project.slug,
        "created_at": timezone.now().isoformat(),
        "options": options,
        "deidentification": {
            "profile": PROFILE_NAME,
            "edition": PROFILE_EDITION,
            "method": DEIDENTIFICATION_METHOD,
            "attributes": "an allow-list: only pixel, geometry, acquisition and UID "
            "attributes are kept, Table E.1-1 applied to them; everything else is removed",
            "patient_identity_removed": True,
            "patients": "pseudonyms (HMAC of the identity, keyed per project)",
            "uids": "2.25 UIDs remapped with a per-project key",
            "quarantined_images": "excluded (burned-in annotation risk)",
            "people": "no user names or e-mail addresses",
        },
        "images": {
            "rule": _image_rule(options),
            "description": IMAGE_RULES[_image_rule(options)],
            "labelling_status": "each image entry's status: unlabelled, proposed (only model "
            "proposals), in_progress (a person has labelled), done or reviewed; "
            "person_labelled is true from in_progress on",
        },
        "layout": {
            "annotations": "annotations/instances_<split>.json",
            "images": "images/<split>/<image id>.png (file_name in each image entry)",
            "segmentation": (
                "pixel-edge rectangles (polygons), lossless"
                if options["segmentation"] == "polygon"
                else "COCO compressed RLE"
            ),
            "box_only_annotations": "has_mask false; segmentation is the box as a polygon",
            "images_format": {
                "png8": "8-bit, windowed with each image's default window"
                + (f" (fixed window {options['window']})" if options.get("window") else ""),
                "png16": "16-bit stored pixel values; signed data shifted by +32768; colour as"
                " 8-bit RGB",
                "none": "no pixel files",
            }[options["image_format"]],
        },
        "summary": summary,
    }


def write_export_zip(
    *,
    project: Project,
    options: dict[str, Any],
    target: str | IO[bytes],
    progress: Any = None,
) -> dict[str, Any]:
    """Write the export zip to ``target``; returns the summary (counts per split)."""
    instance_classes, tag_classes = _classes(project, options)
    categories = coco.categories((c.pk, c.name, c.color) for c in instance_classes)
    category_of = {c["radlabel_id"]: c["id"] for c in categories}
    tag_names = {c.pk: c.name for c in tag_classes}
    splits = [options["split"]] if options.get("split") else list(coco.SPLITS)
    render = options.get("image_format", "png8") != "none"
    selected = sum(_images(project, split, options).count() for split in splits)
    total_images = max(1, selected * (2 if render else 1))
    done = 0
    rule = _image_rule(options)
    summary: dict[str, Any] = {"splits": {}}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for split in splits:
            counts = {"masks": 0}
            with zf.open(coco.instances_path(split), "w", force_zip64=True) as member:
                out = _JsonWriter(member)
                out.write(
                    '{"info":'
                    + _dumps(
                        {
                            "description": f"RadLabel export of {project.slug}, split {split}",
                            "generator": "RadLabel",
                            "version": str(FORMAT_VERSION),
                            "date_created": timezone.now().isoformat(),
                            "images": f"{rule}: {IMAGE_RULES[rule]}",
                        }
                    )
                    + ',"licenses":[],"categories":'
                    + _dumps(categories)
                    + ',"images":'
                )
                images = _write_array(out, _image_entries(project, split, options, tag_names))
                out.write(',"annotations":')
                annotations = _write_array(
                    out, _annotation_entries(project, split, options, category_of, counts)
                )
                out.write("}")
                out.flush()
            summary["splits"][split] = {
                "images": images,
                "images_left_out": _images(project, split, {"images": "all"}).count() - images,
                "annotations": annotations,
                "masks": counts["masks"],
            }
            done += images
            if progress:
                progress(done / total_images)
        if render:
            for split in splits:
                for _ in _render_split(zf, project, split, options):
                    done += 1
                    if progress and done % 25 == 0:
                        progress(done / total_images)
        summary["categories"] = [c["name"] for c in categories]
        summary["tags"] = sorted(tag_names.values())
        zf.writestr(
            "manifest.json",
            json.dumps(_manifest(project, options, summary), indent=2, sort_keys=True),
        )
    return summary


def _render_split(
    zf: zipfile.ZipFile, project: Project, split: str, options: dict[str, Any]
) -> Iterator[int]:
    rows = (
        _images(project, split, options)
        .order_by("instance_id", "frame_number")
        .values_list(
            "id", "instance_id", "instance__file", "frame_number", "window_center", "window_width"
        )
        .iterator(CHUNK_SIZE)
    )
    current: tuple[int, Any] | None = None
    fixed = options.get("window")
    for pk, instance_id, path, frame, center, width in rows:
        if current is None or current[0] != instance_id:
            with default_storage.open(path, "rb") as stream:
                current = (instance_id, pydicom.dcmread(stream))
        dataset = current[1]
        if options.get("image_format") == "png16":
            data = _png16(dataset, frame - 1)
        else:
            pixels = dicom.frame_pixels(dataset, frame - 1)
            window = (
                tuple(fixed)
                if fixed
                else ((center, width) if center is not None and width is not None else None)
            )
            data = dicom.render_preview(pixels, window, max_side=max(pixels.shape[:2]))
        zf.writestr(
            zipfile.ZipInfo(coco.image_file_name(split, pk), date_time=(1980, 1, 1, 0, 0, 0)),
            data,
            compress_type=zipfile.ZIP_STORED,
        )
        yield pk


def _png16(dataset: pydicom.Dataset, index: int) -> bytes:
    photometric = str(dataset.PhotometricInterpretation)
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        pixels = dicom.frame_pixels(dataset, index)
        return dicom.render_preview(pixels, None, max_side=max(pixels.shape[:2]))
    stored = np.asarray(pixel_array(dataset, index=index))
    if int(dataset.PixelRepresentation) == 1:
        stored = stored.astype(np.int32) + PNG16_SIGNED_OFFSET
    values = np.clip(stored, 0, 65535).astype(np.uint16)
    out = io.BytesIO()
    PILImage.fromarray(values).save(out, format="PNG", compress_level=1)
    return out.getvalue()
