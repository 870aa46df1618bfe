"""COCO export: a project's de-identified images and labels as a zip, built by a background job.

The zip holds ``manifest.json``, one COCO instances file per split
(``annotations/instances_<split>.json``) and the images as PNG
(``images/<split>/<image id>.png``). Memory stays bounded whatever the project's size: rows are
read with server-side cursors, JSON is written entry by entry (to a temporary file while each
image's PNG goes into the zip as its entry is made, then copied in), and masks are never all
in memory at once. Quarantined images (burned-in text) never leave.

Negatives apart from unlabelled: every image entry carries its labelling status and whether a
person labelled it, and by default (``images: "done"``) only images a person marked done or
reviewed are exported, with their labels: an image there without annotations is a confirmed
negative. ``images: "all"`` exports every image; the manifest and each file's ``info`` say
which rule was used.

``volumes: "nifti"`` adds each exported series' image and label-map volumes as NIfTI
(``nifti_export``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotator import coco, dicom, storage
from annotator.dicom.deid import DEIDENTIFICATION_METHOD
from annotator.dicom.pixels import render_png16
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
    Read,
)
from annotator.selectors.strategies import DONE_STATUSES
from annotator.services import jobs, nifti_export
from annotator.services.audit import audit_record

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
FLUSH_BYTES = 1 << 20
PROGRESS_EVERY = 25
RENDER_THREADS = min(8, len(os.sched_getaffinity(0)))
RENDER_AHEAD = 4 * RENDER_THREADS
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
FORMAT_VERSION = 1
SEGMENTATIONS = ("rle", "polygon")
IMAGE_FORMATS = ("png8", "png16", "none")
IMAGE_RULES = {
    "done": "only images a person marked done or reviewed, with their labels: an image without "
    "annotations is a confirmed negative",
    "reviewed": "only images a second reader accepted in review, with their labels: an image "
    "without annotations is a negative two readers confirmed",
    "all": "every image, whatever its labelling status: an image without annotations may be "
    "unlabelled, see its labelling_status",
}
PNG16_MEANING = (
    "16-bit stored pixel values: stored = png - png16_offset (32768 for signed data, else 0); "
    "MONOCHROME1 is mirrored within stored_range so that higher is brighter, as in every other "
    "image: stored = stored_range[0] + stored_range[1] - (png - png16_offset) where "
    "png16_inverted is true. Modality values (HU for CT) = rescale_slope * stored + "
    "rescale_intercept; rescale_slope is null where a Modality LUT Sequence (not a line) maps "
    "stored values: read it from the DICOM file. default_window is [centre, width] in modality "
    "values, as DICOM applies it before MONOCHROME1's inversion. Colour images are 8-bit RGB."
)
PERSON_STATUSES = (ImageStatus.IN_PROGRESS, ImageStatus.RETURNED, *DONE_STATUSES)

_IMAGE_FIELDS = (
    "id",
    "rows",
    "columns",
    "pixel_spacing_row",
    "pixel_spacing_col",
    "frame_number",
    "content_key",
    "status",
    "photometric",
    "window_center",
    "window_width",
    "series__modality",
    "series__series_uid",
    "series__study__study_uid",
    "series__study__patient__pseudonym",
    "instance_id",
    "instance__sop_uid",
    "instance__file",
    "preview",
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


def _datetime(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ApplicationError(f"{name} is not an ISO 8601 date and time.", code="invalid_option")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
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
        "volumes",
        "include_reads",
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
        raise ApplicationError("images is 'done', 'reviewed' or 'all'.", code="invalid_option")
    volumes = options.get("volumes") or "none"
    if volumes not in nifti_export.VOLUMES:
        raise ApplicationError("volumes is 'none' or 'nifti'.", code="invalid_option")
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
        "include_reads": bool(options.get("include_reads", False)),
        "segmentation": segmentation,
        "image_format": image_format,
        "window": window,
        "images": images,
        "volumes": volumes,
    }


def export_create(
    *, project: Project, actor: AbstractBaseUser, options: dict[str, Any]
) -> ExportJob:
    """Queue an export; the worker picks it up once this transaction commits."""
    options = export_options_validate(project=project, options=options)
    return jobs.job_start(
        ExportJob,
        project=project,
        actor=actor,
        action="export.created",
        after=options,
        options=options,
    )


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
    return jobs.job_run(ExportJob, job_id, _export_work, noun="export")


def _export_work(job: ExportJob, heartbeat: jobs.Heartbeat) -> dict[str, Any]:
    project = job.project
    path = f"exports/{project.pk}/export-{job.pk}-{os.urandom(8).hex()}.zip"

    def progress(fraction: float) -> None:
        heartbeat(progress=round(min(max(fraction, 0.0), 0.99), 4))

    with tempfile.TemporaryDirectory(prefix="radlabel-export-") as folder:
        local = os.path.join(folder, "export.zip")
        summary = write_export_zip(
            project=project, options=job.options, target=local, progress=progress
        )
        with open(local, "rb") as stream:
            sha256 = storage.stream_sha256(stream)
        size = os.path.getsize(local)
        stored = storage.publish(Path(local), path, sha256)
    logger.info("export %s of project %s written (%d bytes)", job.pk, project.pk, size)
    return {
        "result_file": stored,
        "result_sha256": sha256,
        "result_size": size,
        "summary": summary,
    }


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


def _images(project: Project, split: str, options: dict[str, Any]) -> QuerySet[Image]:
    """The images in ``split`` of the export."""
    images = Image.objects.cleared().filter(project=project, series__study__patient__split=split)
    rule = _image_rule(options)
    if rule == "done":
        images = images.filter(status__in=DONE_STATUSES)
    elif rule == "reviewed":
        images = images.filter(status=ImageStatus.REVIEWED)
    return images


def _annotations(
    project: Project, split: str, options: dict[str, Any], class_ids: list[int]
) -> QuerySet[Annotation]:
    statuses = [AnnotationStatus.ACCEPTED]
    if options.get("include_proposals"):
        statuses.append(AnnotationStatus.PROPOSED)
    queryset = Annotation.objects.filter(
        project=project,
        status__in=statuses,
        label_class_id__in=class_ids,
        image__in=_images(project, split, options),
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
            image__in=_images(project, split, options), labelclass_id__in=tag_ids
        )
        .order_by("image_id", "labelclass_id")
        .values_list("image_id", "labelclass_id")
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _reader_pseudonyms(project: Project) -> dict[int, str]:
    """reader-1, reader-2, … by the order the project's readers were created: no names leave."""
    readers = (
        Read.objects.filter(image__project=project, reader__isnull=False)
        .order_by("reader_id")
        .values_list("reader_id", flat=True)
        .distinct()
    )
    return {reader: f"reader-{n}" for n, reader in enumerate(readers, start=1)}


def _reads_by_image(
    project: Project, split: str, options: dict[str, Any]
) -> Iterator[tuple[int, int, Any, list[dict[str, Any]], list[int]]]:
    """(image, reader, submitted at, labels, tags) of the split's reads, by image then time."""
    return (
        Read.objects.filter(image__in=_images(project, split, options), reader__isnull=False)
        .order_by("image_id", "submitted_at", "id")
        .values_list("image_id", "reader_id", "submitted_at", "annotations", "tags")
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _read_entry(
    pseudonym: str,
    submitted_at: Any,
    labels: list[dict[str, Any]],
    tags: list[int],
    category_of: dict[int, int],
    tag_names: dict[int, str],
) -> dict[str, Any]:
    annotations = []
    for label in labels:
        if label["label_class"] not in category_of:
            continue
        box = coco.round_box(label["box"])
        mask = label.get("mask")
        annotations.append(
            {
                "category_id": category_of[label["label_class"]],
                "bbox": box,
                "segmentation": mask if mask else coco.box_polygon(box),
                "has_mask": bool(mask),
            }
        )
    return {
        "reader": pseudonym,
        "submitted_at": submitted_at.isoformat(),
        "tags": [tag_names[t] for t in tags if t in tag_names],
        "annotations": annotations,
    }


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


def _write_array(
    out: _JsonWriter,
    entries: Iterator[dict[str, Any]],
    report: Callable[[int], None] | None = None,
) -> int:
    """Write ``entries`` as a JSON array; ``report`` gets the count every PROGRESS_EVERY."""
    out.write("[")
    count = 0
    for entry in entries:
        out.write(("," if count else "") + _dumps(entry))
        count += 1
        if report and count % PROGRESS_EVERY == 0:
            report(count)
    out.write("]")
    return count


def _image_entries(
    zf: zipfile.ZipFile,
    project: Project,
    split: str,
    options: dict[str, Any],
    tag_names: dict[int, str],
    category_of: dict[int, int],
) -> Iterator[dict[str, Any]]:
    """The split's image entries in id order (with each reader's latest read under its
    pseudonym when the options include reads); unless the format is ``none``, each image's PNG
    goes into ``zf`` as its entry is made (``_Pngs``): up to ``RENDER_AHEAD`` PNGs are made ahead
    by ``RENDER_THREADS`` threads, so memory stays bounded while the cores render."""
    rows = (
        _images(project, split, options).order_by("id").values(*_IMAGE_FIELDS).iterator(CHUNK_SIZE)
    )
    tags = _tags_by_image(project, split, options, list(tag_names))
    pending = next(tags, None)
    with_reads = bool(options.get("include_reads"))
    pseudonyms = _reader_pseudonyms(project) if with_reads else {}
    reads = _reads_by_image(project, split, options) if with_reads else iter(())
    pending_read = next(reads, None)
    render = options.get("image_format", "png8") != "none"
    pngs = _Pngs(options)
    ahead: deque[tuple[dict[str, Any], Future[bytes]]] = deque()
    with ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="radlabel-png") as pool:
        for row in rows:
            pk, status = row["id"], row["status"]
            image_tags = []
            while pending is not None and pending[0] <= pk:
                if pending[0] == pk:
                    image_tags.append(tag_names[pending[1]])
                pending = next(tags, None)
            entry = {
                "id": pk,
                "file_name": coco.image_file_name(split, pk),
                "width": row["columns"],
                "height": row["rows"],
                "tags": image_tags,
                "patient": row["series__study__patient__pseudonym"],
                "study_uid": row["series__study__study_uid"],
                "series_uid": row["series__series_uid"],
                "sop_instance_uid": row["instance__sop_uid"],
                "frame_number": row["frame_number"],
                "content_key": row["content_key"] or None,
                "modality": row["series__modality"],
                "photometric_interpretation": row["photometric"],
                "pixel_spacing": (
                    [row["pixel_spacing_row"], row["pixel_spacing_col"]]
                    if row["pixel_spacing_row"] is not None
                    else None
                ),
                "split": split,
                "labelling_status": status,
                "person_labelled": status in PERSON_STATUSES,
            }
            if with_reads:
                latest: dict[int, dict[str, Any]] = {}
                while pending_read is not None and pending_read[0] <= pk:
                    image_id, reader, submitted_at, labels, read_tags = pending_read
                    if image_id == pk:
                        latest[reader] = _read_entry(
                            pseudonyms[reader],
                            submitted_at,
                            labels,
                            read_tags,
                            category_of,
                            tag_names,
                        )
                    pending_read = next(reads, None)
                entry["reads"] = [latest[r] for r in sorted(latest, key=pseudonyms.__getitem__)]
            if not render:
                yield entry
                continue
            ahead.append((entry, pngs.submit(pool, row, entry)))
            if len(ahead) > RENDER_AHEAD:
                yield _png_written(zf, *ahead.popleft())
        while ahead:
            yield _png_written(zf, *ahead.popleft())


class _Pngs:
    """Each image's PNG, as a future: the stored preview where it is the PNG ``_render`` makes
    (``_preview_as_rendered``), else ``_render`` in ``pool``. The frames of one instance have
    consecutive ids, so each stored file is read once, in the calling thread."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.previews = options.get("image_format", "png8") == "png8" and not options.get("window")
        self.source: tuple[int, pydicom.Dataset] | None = None

    def submit(
        self, pool: ThreadPoolExecutor, row: dict[str, Any], entry: dict[str, Any]
    ) -> Future[bytes]:
        if self.previews and (preview := _preview_as_rendered(row)) is not None:
            stored: Future[bytes] = Future()
            stored.set_result(preview)
            return stored
        if self.source is None or self.source[0] != row["instance_id"]:
            dataset = dicom.open_stored(storage.reader, row["instance__file"])
            self.source = (row["instance_id"], dataset)
        return pool.submit(_render, self.source[1], row, self.options, entry)


def _preview_as_rendered(row: dict[str, Any]) -> bytes | None:
    """The image's stored preview when it is the 8-bit PNG the export renders in the image's
    default window: previews are rendered from the same pixels in that window, shrunk only past
    their longest side, so a preview of the image's own size and depth is that PNG. None when
    the image has no preview (yet) or it is smaller."""
    if not row["preview"]:
        return None
    try:
        with default_storage.open(row["preview"], "rb") as stream:
            png = stream.read()
    except FileNotFoundError:
        return None
    if len(png) < 26 or not png.startswith(PNG_HEADER):
        return None
    grey = row["photometric"] in ("MONOCHROME1", "MONOCHROME2")
    width, height, depth, colour_type = struct.unpack(">IIBB", png[16:26])
    if (width, height, depth, colour_type) != (row["columns"], row["rows"], 8, 0 if grey else 2):
        return None
    return png


def _png_written(zf: zipfile.ZipFile, entry: dict[str, Any], png: Future[bytes]) -> dict:
    """``entry`` once its PNG is in ``zf`` (stored: PNGs are compressed already)."""
    zf.writestr(
        zipfile.ZipInfo(entry["file_name"], date_time=(1980, 1, 1, 0, 0, 0)),
        png.result(),
        compress_type=zipfile.ZIP_STORED,
    )
    return entry


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
            if polygons:
                entry["segmentation"], entry["holes_filled"] = coco.rle_to_polygons(mask)
            else:
                entry["segmentation"] = mask
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
            "people": "no user names or e-mail addresses; readers appear as reader-<n>",
        },
        "images": {
            "rule": _image_rule(options),
            "description": IMAGE_RULES[_image_rule(options)],
            "labelling_status": "each image entry's status: unlabelled, proposed (only model "
            "proposals), in_progress (a person has labelled), returned (a reviewer sent it back "
            "to its annotator), done (submitted for review) or reviewed (a second reader "
            "accepted it); person_labelled is true from in_progress on",
            "reads": (
                "each image entry's reads: every reader's latest submission (the labels they "
                "had accepted and the tags when they marked it done) under a pseudonym "
                "reader-<n>, the same in every split of this export; the image's annotations "
                "are the final set"
                if options.get("include_reads")
                else "not included (include_reads)"
            ),
        },
        "layout": {
            "annotations": "annotations/instances_<split>.json",
            "images": "images/<split>/<image id>.png (file_name in each image entry)",
            "content_key": "per image entry: SHA-256 (hex) of '<SHA-256 hex of the DICOM Pixel "
            "Data value>:<frame number>', the same in every project the file is ingested into; "
            "RadLabel's COCO import matches images on it first",
            "segmentation": (
                "polygons: each connected component's outline, traced a quarter pixel inside "
                "the pixel edges, so pycocotools and PIL ImageDraw both rasterise them back "
                "into the mask; COCO polygons have no holes, so holes are filled "
                "(holes_filled true; the RLE export keeps them)"
                if options["segmentation"] == "polygon"
                else "COCO compressed RLE"
            ),
            "box_only_annotations": "has_mask false; segmentation is the box as a polygon",
            "images_format": {
                "png8": "8-bit, windowed with each image's default window"
                + (f" (fixed window {options['window']})" if options.get("window") else ""),
                "png16": PNG16_MEANING,
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
    total_images = max(1, sum(_images(project, split, options).count() for split in splits))
    done = 0
    rule = _image_rule(options)
    summary: dict[str, Any] = {"splits": {}}

    def report_images(count: int) -> None:
        progress((done + count) / total_images)

    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        volumes = (
            nifti_export.VolumeWriter(zf, categories) if options.get("volumes") == "nifti" else None
        )
        for split in splits:
            counts = {"masks": 0}
            # the PNGs go into the zip while the JSON is written, so the JSON waits in a file
            with tempfile.TemporaryFile() as spool:
                out = _JsonWriter(spool)
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
                images = _write_array(
                    out,
                    _image_entries(zf, project, split, options, tag_names, category_of),
                    report_images if progress else None,
                )
                out.write(',"annotations":')
                annotations = _write_array(
                    out, _annotation_entries(project, split, options, category_of, counts)
                )
                out.write("}")
                out.flush()
                spool.seek(0)
                with zf.open(coco.instances_path(split), "w", force_zip64=True) as member:
                    shutil.copyfileobj(spool, member, FLUSH_BYTES)
            if volumes:
                volumes.write_split(
                    split,
                    images=_images(project, split, options),
                    annotations=_annotations(project, split, options, list(category_of)),
                )
            summary["splits"][split] = {
                "images": images,
                "images_left_out": _images(project, split, {"images": "all"}).count() - images,
                "annotations": annotations,
                "masks": counts["masks"],
            }
            done += images
            if progress:
                progress(done / total_images)
        summary["categories"] = [c["name"] for c in categories]
        summary["tags"] = sorted(tag_names.values())
        if volumes:
            summary["volumes"] = volumes.summary()
        manifest = _manifest(project, options, summary)
        if volumes:
            manifest["volumes"] = volumes.manifest()
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    return summary


def _render(
    dataset: pydicom.Dataset, row: dict[str, Any], options: dict[str, Any], entry: dict[str, Any]
) -> bytes:
    """The PNG of the image in ``row``; png16 adds what its values mean to ``entry``."""
    index = row["frame_number"] - 1
    stored = (
        (row["window_center"], row["window_width"])
        if row["window_center"] is not None and row["window_width"] is not None
        else None
    )
    if options.get("image_format") == "png16":
        png, meaning = render_png16(dataset, index, stored)
        entry.update(meaning)
        return png
    pixels = dicom.frame_pixels(dataset, index)
    fixed = options.get("window")
    window = tuple(fixed) if fixed else stored
    return dicom.render_preview(pixels, window, max_side=max(pixels.shape[:2]))
