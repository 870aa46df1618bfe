"""DICOM in: validate, de-identify, store, and index one file at a time, all or nothing."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from pydicom import Dataset

from annotator import dicom
from annotator.models import Image, Instance, Patient, Project, Series, Study
from annotator.selectors.images import proposable_images
from annotator.selectors.model_versions import active_model_version
from annotator.services.audit import audit_record
from annotator.services.datasets import split_for
from annotator.services.jobs import preannotation_start

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class FileOutcome:
    name: str
    status: int
    code: str
    detail: str
    image_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status < 400

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "image_ids": self.image_ids,
        }


def project_deid_secret(project: Project) -> bytes:
    """The key of a project's pseudonyms and UID remapping, derived from the server's key."""
    return hmac.new(settings.RADLABEL_DEID_KEY.encode(), project.uid.bytes, hashlib.sha256).digest()


def _frame_content_keys(dataset: Dataset, number_of_frames: int) -> list[str]:
    """Each frame's content key: the SHA-256 (hex) of ``<SHA-256 hex of the Pixel Data
    value>:<frame number>``. De-identification carries Pixel Data over byte for byte, so the
    same file gets the same keys in every project, and a COCO export matches them anywhere."""
    pixels = hashlib.sha256(dataset.PixelData).hexdigest()
    return [
        hashlib.sha256(f"{pixels}:{number}".encode()).hexdigest()
        for number in range(1, number_of_frames + 1)
    ]


def _safe_name(name: str) -> str:
    """A client file name for reports only: never used to build a path."""
    return name.replace("\x00", "").split("/")[-1].split("\\")[-1][:200] or "upload"


def instance_ingest(*, project: Project, name: str, data: bytes) -> FileOutcome:
    """Ingest one Part-10 file. Nothing is stored unless every step succeeds."""
    try:
        dataset = dicom.read_validated(
            data=data,
            filename=name,
            max_bytes=settings.RADLABEL_MAX_FILE_BYTES,
            max_decoded_bytes=settings.RADLABEL_MAX_DECODED_BYTES,
        )
        result = dicom.deidentify(dataset, project_secret=project_deid_secret(project))
        existing = Instance.objects.filter(project=project, sop_uid=result.sop_uid).first()
        if existing is not None:
            return FileOutcome(
                name,
                200,
                "already_stored",
                "This instance is already stored.",
                list(existing.images.values_list("id", flat=True)),
            )
        frames = []
        for index in range(result.number_of_frames):
            pixels = dicom.frame_pixels(dataset, index)
            window = dicom.default_window(dataset, pixels, index=index)
            frames.append((window, dicom.render_preview(pixels, window)))
        payload = dicom.dataset_to_bytes(result.dataset)
    except dicom.DicomRejected as rejected:
        return FileOutcome(name, rejected.status, rejected.code, rejected.detail)
    return _store(project=project, name=name, result=result, payload=payload, frames=frames)


def _store(
    *, project: Project, name: str, result: dicom.DeidResult, payload: bytes, frames: list
) -> FileOutcome:
    content_keys = _frame_content_keys(result.dataset, result.number_of_frames)
    base = f"projects/{project.pk}"
    written: list[str] = []
    try:
        file_name = default_storage.save(
            f"{base}/instances/{result.sop_uid}.dcm", ContentFile(payload)
        )
        written.append(file_name)
        previews = []
        for number, (_, png) in enumerate(frames, start=1):
            preview = default_storage.save(
                f"{base}/previews/{result.sop_uid}_{number}.png", ContentFile(png)
            )
            written.append(preview)
            previews.append(preview)
        with transaction.atomic():
            patient = patient_get_or_create(project=project, pseudonym=result.patient_pseudonym)
            study, _ = Study.objects.get_or_create(
                project=project, study_uid=result.study_uid, defaults={"patient": patient}
            )
            series, _ = Series.objects.get_or_create(
                study=study,
                series_uid=result.series_uid,
                defaults={
                    "modality": result.modality,
                    "series_number": result.series_number,
                    "body_part": result.body_part_examined,
                },
            )
            instance = Instance.objects.create(
                project=project,
                series=series,
                sop_uid=result.sop_uid,
                sop_class_uid=result.sop_class_uid,
                transfer_syntax_uid=str(result.dataset.file_meta.TransferSyntaxUID),
                instance_number=result.instance_number,
                number_of_frames=result.number_of_frames,
                file=file_name,
                sha256=hashlib.sha256(payload).hexdigest(),
                size=len(payload),
            )
            spacing = result.pixel_spacing or (None, None)
            images = Image.objects.bulk_create(
                Image(
                    project=project,
                    series=series,
                    instance=instance,
                    frame_number=number,
                    content_key=content_keys[number - 1],
                    rows=result.rows,
                    columns=result.columns,
                    pixel_spacing_row=spacing[0],
                    pixel_spacing_col=spacing[1],
                    photometric=result.photometric,
                    window_center=window[0] if window else None,
                    window_width=window[1] if window else None,
                    position=_position(result, number),
                    preview=preview,
                    quarantined=result.burned_in_annotation,
                )
                for number, ((window, _), preview) in enumerate(
                    zip(frames, previews, strict=True), 1
                )
            )
    except IntegrityError:
        for path in written:
            default_storage.delete(path)
        existing = Instance.objects.filter(project=project, sop_uid=result.sop_uid).first()
        if existing is None:
            raise
        return FileOutcome(
            name,
            200,
            "already_stored",
            "This instance is already stored.",
            list(existing.images.values_list("id", flat=True)),
        )
    except BaseException:
        for path in written:
            default_storage.delete(path)
        raise
    logger.info(
        "stored instance %s of project %s (%d frames)", instance.pk, project.pk, len(images)
    )
    return FileOutcome(
        name,
        201,
        "stored",
        "Quarantined: burned-in annotation." if result.burned_in_annotation else "Stored.",
        [image.pk for image in images],
    )


def _position(result: dicom.DeidResult, frame_number: int) -> float | None:
    """Where a frame sits in its stack: frame order, else z position, else instance number."""
    if result.number_of_frames > 1:
        return float(frame_number)
    if result.image_position_patient is not None:
        return result.image_position_patient[2]
    if result.slice_location is not None:
        return result.slice_location
    return float(result.instance_number) if result.instance_number is not None else None


def patient_get_or_create(*, project: Project, pseudonym: str) -> Patient:
    patient = Patient.objects.filter(project=project, pseudonym=pseudonym).first()
    if patient is not None:
        return patient
    patient, _ = Patient.objects.get_or_create(
        project=project,
        pseudonym=pseudonym,
        defaults={
            "split": split_for(
                pseudonym=pseudonym, seed=project.split_seed, ratios=project.split_ratios
            )
        },
    )
    return patient


def _expand(name: str, stream: BinaryIO) -> Iterable[tuple[str, bytes | dicom.DicomRejected]]:
    head = stream.read(4)
    stream.seek(0)
    if head != ZIP_MAGIC:
        limit = settings.RADLABEL_MAX_FILE_BYTES
        data = stream.read(limit + 1)
        if len(data) > limit:
            yield (
                name,
                dicom.DicomRejected("file_too_large", f"The file exceeds {limit} bytes."),
            )
        else:
            yield name, data
        return
    try:
        members = list(dicom.iter_archive(stream))
    except dicom.DicomRejected as rejected:
        yield name, rejected
        return
    for member, data in members:
        yield f"{name}/{member}", data


def upload_ingest(
    *, project: Project, actor: AbstractBaseUser | None, files: Iterable[tuple[str, BinaryIO]]
) -> list[FileOutcome]:
    """Ingest an upload of files and zips; each file stands or falls on its own."""
    outcomes = []
    for raw_name, stream in files:
        for name, item in _expand(_safe_name(raw_name), stream):
            if isinstance(item, dicom.DicomRejected):
                outcomes.append(FileOutcome(name, item.status, item.code, item.detail))
            else:
                outcomes.append(instance_ingest(project=project, name=name, data=item))
    stored = sum(1 for outcome in outcomes if outcome.code == "stored")
    new_images = [i for o in outcomes if o.code == "stored" for i in o.image_ids]
    version = active_model_version(project=project) if new_images else None
    if (
        version is not None
        and proposable_images(version=version).filter(pk__in=new_images).exists()
    ):
        preannotation_start(project=project, actor=actor, image_ids=new_images)
    if stored:
        audit_record(
            actor=actor,
            project=project,
            action="upload.ingested",
            obj=project,
            after={"stored": stored, "failed": sum(not o.ok for o in outcomes)},
        )
    return outcomes


@transaction.atomic
def study_delete(*, study: Study, actor: AbstractBaseUser) -> None:
    files = list(Instance.objects.filter(series__study=study).values_list("file", flat=True))
    files += list(Image.objects.filter(series__study=study).values_list("preview", flat=True))
    audit_record(
        actor=actor,
        project=study.project,
        action="study.deleted",
        obj=study,
        before={
            "study_uid": study.study_uid,
            "patient": study.patient.pseudonym,
            "files": len(files),
        },
    )
    study.delete()
    transaction.on_commit(lambda: [default_storage.delete(path) for path in files])


@transaction.atomic
def image_release_quarantine(*, image: Image, actor: AbstractBaseUser) -> Image:
    image = Image.objects.select_for_update().get(pk=image.pk)
    if image.quarantined:
        image.quarantined = False
        image.save(update_fields=["quarantined"])
        audit_record(
            actor=actor,
            project=image.project,
            action="image.quarantine_released",
            obj=image,
            before={"quarantined": True},
            after={"quarantined": False},
        )
    return image
