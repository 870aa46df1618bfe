"""COCO import: labels from a COCO instances file onto images already in the project.

Each image entry is matched, in this order, by its ``content_key`` (the key every RadLabel
export writes: a hash of the frame's pixel data and number, the same in every project the
same file is ingested into, so an export of one project re-imports into another), by the
``file_name`` a RadLabel export wrote (``images/<split>/<image id>.png``) or its ``id`` when the
file is a RadLabel export (``info.generator == "RadLabel"``), both this project's image ids, or
by the ``sop_instance_uid`` (and ``frame_number``, default 1) extra fields. A SOP Instance UID
is either the one RadLabel stored or the original one of the hospital's file: ingest remaps
UIDs with the project's key, so the same remapping applied to the value in the file finds the
image, and nothing identifying is stored for it. The report says how each annotation's image
was matched (``matched_by``). When the entry gives ``width``/``height`` they must match the
image. Imported labels have ``source: "import"``. Categories match active instance label
classes by name (exactly, else ignoring case).

``keep_splits``: each matched image's patient gets the ``split`` its entry names, as an
admin's per-patient choice (audited, marked manual so a rebalance leaves it). Every entry must
name a split, and the entries of one patient one split, else the file is refused.

Everything happens in one transaction: a file that is not a COCO instances document is
refused whole (400 naming the problem); otherwise every annotation is either imported or
reported as skipped with its reason. Client keys derive from the file's digest and the
annotation's position, so importing the same file twice imports nothing new.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotator import coco
from annotator.dicom.deid import remap_uid
from annotator.exceptions import ApplicationError
from annotator.models import (
    AnnotationStatus,
    Image,
    LabelClass,
    LabelKind,
    Patient,
    Project,
    Source,
    Split,
)
from annotator.services import datasets
from annotator.services.annotations import annotation_create
from annotator.services.audit import audit_record
from annotator.services.studies import project_deid_secret

IMPORT_NAMESPACE = uuid.UUID("5d7c2a4e-93f1-4d0b-8a61-0c2f9e7b3a55")
_EXPORTED_NAME = re.compile(r"^(?:.*/)?images/(?:train|val|test)/([0-9]{1,18})\.png$")
IMPORT_STATUSES = (AnnotationStatus.ACCEPTED, AnnotationStatus.PROPOSED)


def _document(data: bytes) -> Any:
    limit = settings.RADLABEL_MAX_FILE_BYTES
    if len(data) > limit:
        raise ApplicationError(
            f"The file exceeds {limit} bytes.", code="file_too_large", status=413
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ApplicationError(
            f"The file is not UTF-8 text (byte {error.start}).", code="invalid_json"
        ) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ApplicationError(
            f"The file is not JSON: {error.msg} at line {error.lineno}, column {error.colno}.",
            code="invalid_json",
        ) from error
    except RecursionError as error:
        raise ApplicationError("The JSON is nested too deeply.", code="invalid_json") from error


_UID = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_CONTENT_KEY = re.compile(r"^[0-9a-f]{64}$")


def _project_id(entry: dict[str, Any], from_radlabel: bool) -> tuple[int, str] | None:
    """The project image id an entry names, and how: its exported file_name, else its id."""
    name = entry.get("file_name")
    match = _EXPORTED_NAME.match(name) if isinstance(name, str) else None
    if match:
        return int(match.group(1)), "file_name"
    key = entry["id"]
    if from_radlabel and isinstance(key, int) and not isinstance(key, bool):
        return key, "id"
    return None


def _sop(entry: dict[str, Any]) -> tuple[str, int] | None:
    sop = entry.get("sop_instance_uid")
    if not isinstance(sop, str) or len(sop) > 64:
        return None
    frame = entry.get("frame_number", 1)
    return sop, frame if isinstance(frame, int) else -1


def _content_key(entry: dict[str, Any]) -> str | None:
    key = entry.get("content_key")
    return key if isinstance(key, str) and _CONTENT_KEY.match(key) else None


def _match_images(
    project: Project, document: dict[str, Any], images: list[dict[str, Any]]
) -> tuple[dict[Any, tuple[Image, str]], dict[Any, str]]:
    """COCO image id -> (project image, how it matched), and COCO image id -> why it did not.

    Each entry is tried by its content key, then by the project image id it names, then by its
    SOP Instance UID (stored, else original); the first that finds one image wins.
    """
    from_radlabel = (
        (document.get("info") or {}).get("generator") == "RadLabel"
        if isinstance(document.get("info"), dict)
        else False
    )
    project_images = Image.objects.filter(project=project).select_related(
        "instance", "series__study__patient"
    )
    by_key: dict[str, list[Image]] = {}
    keys = {key for entry in images if (key := _content_key(entry))}
    for image in project_images.filter(content_key__in=keys):
        by_key.setdefault(image.content_key, []).append(image)
    ids = {named[0] for entry in images if (named := _project_id(entry, from_radlabel))}
    by_id = project_images.filter(pk__in=ids).in_bulk()
    secret = project_deid_secret(project)
    given = {sop[0] for entry in images if (sop := _sop(entry))}
    remapped = {remap_uid(uid, project_secret=secret): uid for uid in given if _UID.match(uid)}
    by_sop: dict[tuple[str, int], tuple[Image, str]] = {}
    for image in project_images.filter(instance__sop_uid__in=given | set(remapped)):
        stored = image.instance.sop_uid
        if stored in given:
            by_sop[(stored, image.frame_number)] = (image, "sop_instance_uid")
        if stored in remapped:
            by_sop.setdefault(
                (remapped[stored], image.frame_number), (image, "original_sop_instance_uid")
            )
    matched: dict[Any, tuple[Image, str]] = {}
    missing: dict[Any, str] = {}
    for entry in images:
        key, content_key = entry["id"], _content_key(entry)
        project_id, sop = _project_id(entry, from_radlabel), _sop(entry)
        same_pixels = by_key.get(content_key, []) if content_key else []
        found: tuple[Image, str] | None = None
        if len(same_pixels) == 1:
            found = (same_pixels[0], "content_key")
        if found is None and project_id is not None and project_id[0] in by_id:
            found = (by_id[project_id[0]], project_id[1])
        if found is None and sop is not None:
            found = by_sop.get(sop)
        if found is None:
            if content_key is None and project_id is None and sop is None:
                missing[key] = (
                    "The image entry names no RadLabel image (content_key, file_name, id or "
                    "SOP UID)."
                )
            elif len(same_pixels) > 1:
                missing[key] = f"The content_key is that of {len(same_pixels)} images here."
            else:
                missing[key] = "No such image in this project."
            continue
        image = found[0]
        width, height = entry.get("width"), entry.get("height")
        if (width is not None and width != image.columns) or (
            height is not None and height != image.rows
        ):
            missing[key] = f"The image is {image.columns}x{image.rows}, not {width}x{height}."
            continue
        matched[key] = found
    return matched, missing


def _file_splits(
    images: list[dict[str, Any]], matched: dict[Any, tuple[Image, str]]
) -> dict[Patient, str]:
    """The split the file names for each matched image's patient; a bad or missing split, or
    two entries of one patient naming two splits, is a 400 naming them."""
    for number, entry in enumerate(images):
        if entry.get("split") not in Split.values:
            raise ApplicationError(
                f"images[{number}].split is {entry.get('split')!r}, not one of "
                f"{', '.join(Split.values)}: keep_splits needs the split of every image.",
                code="invalid_split",
            )
    splits: dict[Patient, tuple[str, int]] = {}
    for number, entry in enumerate(images):
        found = matched.get(entry["id"])
        if found is None:
            continue
        patient = found[0].series.study.patient
        split, first = splits.setdefault(patient, (entry["split"], number))
        if split != entry["split"]:
            raise ApplicationError(
                f"images[{first}] and images[{number}] put patient {patient.pseudonym} in "
                f"{split} and {entry['split']}: a patient is in one split.",
                code="split_conflict",
            )
    return {patient: split for patient, (split, _) in splits.items()}


def _keep_splits(*, splits: dict[Patient, str], actor: AbstractBaseUser) -> dict[str, Any]:
    """Give each patient the file's split as an admin's choice (audited, marked manual)."""
    moved = []
    for patient, split in sorted(splits.items(), key=lambda item: item[0].pseudonym):
        before = patient.split
        datasets.patient_set_split(patient=patient, actor=actor, split=split)
        if before != split:
            moved.append({"patient": patient.pseudonym, "from": before, "to": split})
    return {"patients": len(splits), "moved": moved}


def _match_categories(project: Project, categories: dict[Any, str]) -> dict[Any, LabelClass]:
    classes = list(
        LabelClass.objects.filter(project=project, is_active=True, kind=LabelKind.INSTANCE)
    )
    exact = {c.name: c for c in classes}
    folded = {c.name.casefold(): c for c in classes}
    matched = {}
    for key, name in categories.items():
        label_class = exact.get(name) or folded.get(name.casefold())
        if label_class is not None:
            matched[key] = label_class
    return matched


def _skip(entry: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    return {**entry, "status": "skipped", "reason": reason, "detail": detail}


def _annotation_target(
    annotation: coco.ParsedAnnotation,
    entry: dict[str, Any],
    *,
    parsed: coco.ParsedInstances,
    images: dict[Any, tuple[Image, str]],
    missing_images: dict[Any, str],
    classes: dict[Any, LabelClass],
) -> tuple[Image, LabelClass, list[float], dict[str, Any] | None]:
    """The image, class, box and mask an annotation of the file makes (``entry`` learns how
    its image matched); an ``ApplicationError`` whose code and detail say why it is skipped."""
    found = images.get(_hashable(annotation.image_id))
    if found is None:
        raise ApplicationError(
            missing_images.get(_hashable(annotation.image_id), "No image entry has this image_id."),
            code="unknown_image",
        )
    image, entry["matched_by"] = found
    label_class = classes.get(_hashable(annotation.category_id))
    if label_class is None:
        name = parsed.categories.get(_hashable(annotation.category_id))
        raise ApplicationError(
            f"No active instance class named {name!r}."
            if name is not None
            else "No category entry has this category_id.",
            code="unknown_category",
        )
    box = coco.valid_bbox(annotation.bbox, image.rows, image.columns)
    if box is None:
        raise ApplicationError(
            f"bbox is not [x, y, w, h] inside the {image.columns}x{image.rows} image.",
            code="bad_bbox",
        )
    if not annotation.has_mask or annotation.segmentation in (None, []):
        return image, label_class, box, None
    mask = coco.segmentation_to_rle(annotation.segmentation, image.rows, image.columns)
    if mask is None:
        raise ApplicationError(
            "segmentation is not polygons or an RLE of the image's size.",
            code="bad_segmentation",
        )
    return image, label_class, box, mask or None


@transaction.atomic
def coco_import(
    *,
    project: Project,
    actor: AbstractBaseUser,
    data: bytes,
    as_status: str,
    keep_splits: bool = False,
) -> dict[str, Any]:
    """Import the annotations of a COCO instances file; returns the per-annotation report.

    With ``keep_splits`` each matched image's patient gets the split its entry names."""
    if as_status not in IMPORT_STATUSES:
        raise ApplicationError("'as' is 'accepted' or 'proposed'.", code="invalid_option")
    document = _document(data)
    try:
        parsed = coco.parse_instances(document)
    except coco.CocoFormatError as error:
        raise ApplicationError(str(error), code="invalid_coco") from error
    digest = hashlib.sha256(data).hexdigest()
    images, missing_images = _match_images(project, document, parsed.images)
    splits = _file_splits(parsed.images, images) if keep_splits else None
    classes = _match_categories(project, parsed.categories)
    kept = _keep_splits(splits=splits, actor=actor) if splits is not None else None
    report = []
    for annotation in parsed.annotations:
        entry = {"index": annotation.index, "id": annotation.coco_id}
        try:
            image, label_class, box, mask = _annotation_target(
                annotation,
                entry,
                parsed=parsed,
                images=images,
                missing_images=missing_images,
                classes=classes,
            )
            created, new = annotation_create(
                image=image,
                actor=actor,
                client_key=uuid.uuid5(
                    IMPORT_NAMESPACE, f"{project.pk}:{digest}:{annotation.index}"
                ),
                label_class=label_class.pk,
                box=box,
                mask=mask,
                status=as_status,
                source=Source.IMPORT,
            )
        except ApplicationError as error:
            report.append(_skip(entry, error.code, error.detail))
            continue
        report.append(
            {**entry, "status": "imported" if new else "exists", "annotation_id": created.pk}
        )
    summary = {
        "imported": sum(r["status"] == "imported" for r in report),
        "exists": sum(r["status"] == "exists" for r in report),
        "skipped": sum(r["status"] == "skipped" for r in report),
    }
    audit_record(
        actor=actor,
        project=project,
        action="coco.imported",
        obj=project,
        after={
            **summary,
            "sha256": digest,
            "as": as_status,
            "keep_splits": keep_splits,
            "splits_moved": len(kept["moved"]) if kept else 0,
        },
    )
    return {**summary, "splits": kept, "annotations": report}


def _hashable(value: Any) -> Any:
    return value if isinstance(value, int | str | float | bool | None) else json.dumps(value)
