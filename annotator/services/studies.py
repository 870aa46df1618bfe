"""DICOM in: validate, de-identify, store and index files, each all or nothing; previews after."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from pydicom import Dataset

from annotator import dicom, storage
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
    [outcome] = _ingest(project=project, items=[(name, data)])
    return outcome


@dataclass(eq=False)
class _Written:
    """A file that passed validation and de-identification, its data set stored."""

    position: int
    name: str
    result: dicom.DeidResult
    windows: list[tuple[float, float] | None]
    content_keys: list[str]
    file_name: str
    sha256: str
    size: int


def _prepare(
    *, project: Project, secret: bytes, position: int, name: str, data: bytes, saves: _Saves
) -> _Written | FileOutcome:
    """Validate, de-identify and store one file's data set (``saves`` writes it while the next
    file is read); its rows are made later."""
    try:
        source = dicom.read_validated_file(
            data=data,
            filename=name,
            max_bytes=settings.RADLABEL_MAX_FILE_BYTES,
            max_decoded_bytes=settings.RADLABEL_MAX_DECODED_BYTES,
        )
        result = dicom.deidentify(source.dataset, project_secret=secret)
        windows = dicom.default_windows(source.dataset)
        payload = dicom.dataset_to_bytes(result.dataset, source=source)
    except dicom.DicomRejected as rejected:
        return FileOutcome(name, rejected.status, rejected.code, rejected.detail)
    written = _Written(
        position,
        name,
        result,
        windows,
        _frame_content_keys(result.dataset, result.number_of_frames),
        "",
        hashlib.sha256(payload).hexdigest(),
        len(payload),
    )
    saves.submit(written, f"projects/{project.pk}/instances/{result.sop_uid}.dcm", payload)
    return written


class _Saves:
    """Stored files written a few at a time beside the request's parsing (an object store
    answers each write after a round trip), with at most ``IN_FLIGHT`` payloads waiting in
    memory. ``finish`` names every file written, then raises the first failed write's error."""

    THREADS = 4
    IN_FLIGHT = 8

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.THREADS, thread_name_prefix="ingest-save")
        self._saves: list[tuple[Future[str], _Written]] = []

    def submit(self, written: _Written, name: str, payload: bytes) -> None:
        running = [future for future, _ in self._saves if not future.done()]
        if len(running) >= self.IN_FLIGHT:
            wait(running, return_when=FIRST_COMPLETED)
        future = self._pool.submit(storage.save_file, name, ContentFile(payload))
        self._saves.append((future, written))

    def finish(self) -> None:
        self._pool.shutdown(wait=True)
        errors = [future.exception() for future, _ in self._saves if future.exception()]
        for future, written in self._saves:
            if future.exception() is None:
                written.file_name = future.result()
        if errors:
            raise errors[0]


def _ingest(
    *, project: Project, items: Iterable[tuple[str, bytes | dicom.DicomRejected]]
) -> list[FileOutcome]:
    """Ingest files in order, each standing or falling on its own, with the rows of the good
    ones made together: each file is validated, de-identified and its data set stored as it
    comes (so only one file's bytes are in memory), then one transaction makes every new
    instance's rows. An instance already stored, or twice in the upload, is stored once."""
    secret = project_deid_secret(project)
    outcomes: list[FileOutcome | None] = []
    written: list[_Written] = []
    saves = _Saves()
    try:
        try:
            for position, (name, item) in enumerate(items):
                prepared = (
                    FileOutcome(name, item.status, item.code, item.detail)
                    if isinstance(item, dicom.DicomRejected)
                    else _prepare(
                        project=project,
                        secret=secret,
                        position=position,
                        name=name,
                        data=item,
                        saves=saves,
                    )
                )
                if isinstance(prepared, FileOutcome):
                    outcomes.append(prepared)
                else:
                    outcomes.append(None)
                    written.append(prepared)
        finally:
            saves.finish()
        new, repeated = _split_new(written=written)
        try:
            stored = _index(project=project, group=new) if new else {}
        except IntegrityError:  # some were stored before: index the others
            new, known = _split_new(written=new, known=_known(project=project, written=new))
            repeated += known
            stored = _index_all(project=project, new=new)
        for one in repeated:
            default_storage.delete(one.file_name)
    except BaseException:
        for one in written:
            if one.file_name:
                default_storage.delete(one.file_name)
        raise
    for one, outcome in stored.items():
        outcomes[one.position] = outcome
    image_ids = (
        _image_ids_of(project=project, sop_uids={o.result.sop_uid for o in repeated})
        if repeated
        else {}
    )
    for one in repeated:
        outcomes[one.position] = FileOutcome(
            one.name,
            200,
            "already_stored",
            "This instance is already stored.",
            image_ids.get(one.result.sop_uid, []),
        )
    new_ids = [i for o in stored.values() if o.code == "stored" for i in o.image_ids]
    if new_ids:
        transaction.on_commit(lambda: _previews_enqueue(new_ids))
    return [outcome for outcome in outcomes if outcome is not None]


def _known(*, project: Project, written: list[_Written]) -> set[str]:
    """The instances of ``written`` that are already stored."""
    uids = {one.result.sop_uid for one in written}
    return set(
        Instance.objects.filter(project=project, sop_uid__in=uids).values_list("sop_uid", flat=True)
    )


def _split_new(
    *, written: list[_Written], known: set[str] | None = None
) -> tuple[list[_Written], list[_Written]]:
    """The files whose instance is new, and those ``known`` (already stored) or earlier in
    the upload."""
    known = set(known or ())
    new, repeated = [], []
    for one in written:
        if one.result.sop_uid in known:
            repeated.append(one)
        else:
            known.add(one.result.sop_uid)
            new.append(one)
    return new, repeated


def _image_ids_of(*, project: Project, sop_uids: set[str]) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for sop_uid, pk in (
        Image.objects.filter(project=project, instance__sop_uid__in=sop_uids)
        .order_by("instance_id", "frame_number")
        .values_list("instance__sop_uid", "pk")
    ):
        ids.setdefault(sop_uid, []).append(pk)
    return ids


def _index_all(*, project: Project, new: list[_Written]) -> dict[_Written, FileOutcome]:
    """Every new file's rows in one transaction; if another upload stored one of the same
    instances meanwhile, file by file, so each of those is answered as already stored."""
    if not new:
        return {}
    try:
        return _index(project=project, group=new)
    except IntegrityError:
        pass
    outcomes = {}
    for one in new:
        try:
            outcomes.update(_index(project=project, group=[one]))
        except IntegrityError:
            default_storage.delete(one.file_name)
            existing = _image_ids_of(project=project, sop_uids={one.result.sop_uid})
            if one.result.sop_uid not in existing:
                raise
            outcomes[one] = FileOutcome(
                one.name,
                200,
                "already_stored",
                "This instance is already stored.",
                existing[one.result.sop_uid],
            )
    return outcomes


@transaction.atomic
def _index(*, project: Project, group: list[_Written]) -> dict[_Written, FileOutcome]:
    """The patient, study, series, instance and image rows of ``group``: the stored series
    (with their studies and patients) and the other patients looked up in one query each, any
    other patient, study and series once, instances and images made in one statement each."""
    patients: dict[str, Patient] = {}
    studies: dict[str, Study] = {}
    series_of = _series_known(project=project, group=group)
    for series in series_of.values():
        studies[series.study.study_uid] = series.study
        patients[series.study.patient.pseudonym] = series.study.patient
    missing = {one.result.patient_pseudonym for one in group} - patients.keys()
    if missing:
        patients.update(
            (patient.pseudonym, patient)
            for patient in Patient.objects.filter(project=project, pseudonym__in=missing)
        )
    for one in group:
        result = one.result
        if result.patient_pseudonym not in patients:
            patients[result.patient_pseudonym] = patient_get_or_create(
                project=project, pseudonym=result.patient_pseudonym
            )
        if result.study_uid not in studies:
            studies[result.study_uid], _ = Study.objects.get_or_create(
                project=project,
                study_uid=result.study_uid,
                defaults={"patient": patients[result.patient_pseudonym]},
            )
        key = (result.study_uid, result.series_uid)
        if key not in series_of:
            series_of[key], _ = Series.objects.get_or_create(
                study=studies[result.study_uid],
                series_uid=result.series_uid,
                defaults={
                    "modality": result.modality,
                    "series_number": result.series_number,
                    "body_part": result.body_part_examined,
                },
            )
    instances = Instance.objects.bulk_create(
        Instance(
            project=project,
            series=series_of[(one.result.study_uid, one.result.series_uid)],
            sop_uid=one.result.sop_uid,
            sop_class_uid=one.result.sop_class_uid,
            transfer_syntax_uid=str(one.result.dataset.file_meta.TransferSyntaxUID),
            instance_number=one.result.instance_number,
            number_of_frames=one.result.number_of_frames,
            file=one.file_name,
            sha256=one.sha256,
            size=one.size,
        )
        for one in group
    )
    images = Image.objects.bulk_create(
        _image_row(project, one, instance, number, window)
        for one, instance in zip(group, instances, strict=True)
        for number, window in enumerate(one.windows, start=1)
    )
    ids: dict[int, list[int]] = {}
    for image in images:
        ids.setdefault(image.instance_id, []).append(image.pk)
    logger.info("stored %d instances of project %s", len(instances), project.pk)
    return {
        one: FileOutcome(
            one.name,
            201,
            "stored",
            "Quarantined: burned-in annotation." if one.result.burned_in_annotation else "Stored.",
            ids[instance.pk],
        )
        for one, instance in zip(group, instances, strict=True)
    }


def _series_known(*, project: Project, group: list[_Written]) -> dict[tuple[str, str], Series]:
    """The series of ``group`` already stored, with their study and its patient, in one
    query."""
    pairs = {(one.result.study_uid, one.result.series_uid) for one in group}
    found = Series.objects.filter(
        study__project=project,
        study__study_uid__in={study for study, _ in pairs},
        series_uid__in={series for _, series in pairs},
    ).select_related("study__patient")
    keyed = {(series.study.study_uid, series.series_uid): series for series in found}
    return {key: series for key, series in keyed.items() if key in pairs}


def _image_row(
    project: Project,
    one: _Written,
    instance: Instance,
    number: int,
    window: tuple[float, float] | None,
) -> Image:
    """A frame's row; its preview is rendered after the upload (``image_previews_render``)."""
    result = one.result
    spacing = result.pixel_spacing or (None, None)
    return Image(
        project=project,
        series=instance.series,
        instance=instance,
        frame_number=number,
        content_key=one.content_keys[number - 1],
        rows=result.rows,
        columns=result.columns,
        pixel_spacing_row=spacing[0],
        pixel_spacing_col=spacing[1],
        photometric=result.photometric,
        window_center=window[0] if window else None,
        window_width=window[1] if window else None,
        position=_position(result, number),
        preview="",
        quarantined=result.burned_in_annotation,
    )


def _previews_enqueue(image_ids: list[int]) -> None:
    """Send the new images' previews to the cpu queue; if the broker is down, the preview
    route renders each one when it is first asked for."""
    from worker import tasks  # the task module imports the services

    try:
        tasks.image_previews.apply_async(args=[image_ids])
    except Exception:
        logger.exception("could not enqueue the previews of %d images", len(image_ids))


def image_previews_render(*, image_ids: list[int]) -> None:
    """Render and store the previews of those images that have none yet, each stored file
    read once."""
    images = (
        Image.objects.filter(pk__in=image_ids, preview="")
        .select_related("instance")
        .order_by("instance_id", "frame_number")
    )
    source: tuple[int, Dataset] | None = None
    for image in images:
        if source is None or source[0] != image.instance_id:
            source = (image.instance_id, dicom.open_stored(default_storage, image.instance.file))
        _preview_store(image, source[1])


def image_preview_path(*, image: Image) -> str:
    """The stored preview of ``image``, rendered now if the cpu queue has not made it yet."""
    if not image.preview:
        _preview_store(image, dicom.open_stored(default_storage, image.instance.file))
    return image.preview


def _preview_store(image: Image, dataset: Dataset) -> None:
    """Render the image's preview in its stored window and record it, unless another process
    recorded one first (then that one is kept and this one removed)."""
    pixels = dicom.frame_pixels(dataset, image.frame_number - 1)
    window = (
        (image.window_center, image.window_width)
        if image.window_center is not None and image.window_width is not None
        else None
    )
    path = default_storage.save(
        f"projects/{image.project_id}/previews/{image.instance.sop_uid}_{image.frame_number}.png",
        ContentFile(dicom.render_preview(pixels, window)),
    )
    if Image.objects.filter(pk=image.pk, preview="").update(preview=path):
        image.preview = path
        return
    default_storage.delete(path)
    image.refresh_from_db(fields=["preview"])


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
    outcomes = _ingest(
        project=project,
        items=(
            item for raw_name, stream in files for item in _expand(_safe_name(raw_name), stream)
        ),
    )
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
    files += list(
        Image.objects.filter(series__study=study)
        .exclude(preview="")
        .values_list("preview", flat=True)
    )
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
    transaction.on_commit(lambda: _files_delete(files))


def _files_delete(paths: list[str]) -> None:
    for path in paths:
        default_storage.delete(path)


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
