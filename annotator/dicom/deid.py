"""De-identification on ingest: an allow-list under PS3.15 Annex E Basic Profile, with
deterministic UIDs."""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

import pydicom.config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.sr._snomed_dict import mapping as SNOMED_MAPPING  # SNOMED RT -> CT, as data
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID_dictionary

from annotator.dicom.profile import (
    KEPT_ACTIONS,
    PROFILE_EDITION,
    PROFILE_NAME,
    STANDARD_CODED,
    TYPE2_PATIENT_STUDY,
    type1_dummied,
)
from annotator.dicom.reader import number_of_frames

#: (0012,0063), an LO of at most 64 characters.
DEIDENTIFICATION_METHOD = f"RadLabel allow-list; {PROFILE_EDITION} E.1 Basic Profile"
IMPLEMENTATION_VERSION_NAME = "RADLABEL_1"
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

# Modalities whose pixels commonly carry burned-in text (screen captures, video,
# ultrasound and angiography overlays). Without an explicit BurnedInAnnotation=NO
# these are flagged as at risk.
BURNED_IN_RISK_MODALITIES = frozenset({"US", "XA", "RF", "ES", "XC", "OT", "SC", "DOC", "GM"})
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

_DUMMY_TEXT = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, object] = {
    "AE": "ANONYMIZED",
    "AS": "000Y",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "FD": 0.0,
    "FL": 0.0,
    "IS": "0",
    "LO": _DUMMY_TEXT,
    "LT": _DUMMY_TEXT,
    "PN": _DUMMY_TEXT,
    "SH": _DUMMY_TEXT,
    "SL": 0,
    "SS": 0,
    "ST": _DUMMY_TEXT,
    "SV": 0,
    "TM": "000000",
    "UC": _DUMMY_TEXT,
    "UL": 0,
    "US": 0,
    "UT": _DUMMY_TEXT,
    "UV": 0,
}


def remap_uid(uid: str, *, project_secret: bytes) -> str:
    """Map a source UID to ``2.25.<int>`` with HMAC-SHA256 keyed by the project secret.

    The new UID is the decimal value of the first 16 bytes (128 bits) of
    ``HMAC-SHA256(project_secret, uid)``, under the ``2.25`` UUID-derived root, so it
    is at most 44 characters. The same source UID always maps to the same new UID
    within a project, across uploads and processes, so references between instances
    (study, series, frame of reference, referenced SOP instances) stay consistent
    without any mapping table to store, encrypt or leak; a different secret (another
    project) gives unrelated UIDs, and without the secret the mapping cannot be
    reversed or recomputed.
    """
    digest = hmac.new(project_secret, uid.encode("ascii"), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def patient_pseudonym(ds: Dataset, *, project_secret: bytes) -> str:
    """``P-`` and 12 hex characters of an HMAC of the patient's identity.

    Keyed on PatientID; when that is empty, on PatientName and PatientBirthDate; when
    all are empty, on StudyInstanceUID (an unidentified patient is one patient per
    study rather than every anonymous upload merging into one).
    """
    patient_id = str(ds.get("PatientID") or "").strip()
    if patient_id:
        key = "id\x00" + patient_id
    else:
        name = str(ds.get("PatientName") or "").strip()
        birth = str(ds.get("PatientBirthDate") or "").strip()
        if name or birth:
            key = "name\x00" + name + "\x00" + birth
        else:
            key = "study\x00" + str(ds.get("StudyInstanceUID") or "")
    digest = hmac.new(project_secret, b"patient\x00" + key.encode("utf-8"), hashlib.sha256)
    return "P-" + digest.hexdigest()[:12]


@dataclass(frozen=True)
class DeidResult:
    """A de-identified copy of a data set and the non-identifying facts the DB keeps.

    ``burned_in_annotation`` is True when the pixels may carry burned-in text:
    BurnedInAnnotation (0028,0301) is YES, or it is absent (or not NO) on a modality
    or SOP class where burned-in text is common (``BURNED_IN_RISK_MODALITIES``,
    secondary capture). Metadata cleaning cannot remove such text; callers keep these
    instances away from exports until pixel data is cleaned (PS3.15 E.3.1).

    Descriptions (study, series, protocol) are deliberately absent: they often hold
    names. ``pixel_spacing`` is (row, column) in mm from PixelSpacing, the shared
    functional groups, or ImagerPixelSpacing, in that order.
    """

    dataset: Dataset
    patient_pseudonym: str
    study_uid: str
    series_uid: str
    sop_uid: str
    frame_of_reference_uid: str | None
    burned_in_annotation: bool
    modality: str
    sop_class_uid: str
    rows: int
    columns: int
    number_of_frames: int
    pixel_spacing: tuple[float, float] | None
    photometric: str
    body_part_examined: str
    series_number: int | None
    instance_number: int | None
    slice_location: float | None
    image_position_patient: tuple[float, float, float] | None
    deidentification_codes: tuple[str, ...]


def _element(tag: BaseTag, vr: str, value: object, *, kept: bool = False) -> DataElement:
    # Values come from a data set read_validated already checked, or are our own
    # dummies; validating them again would only cost time. A value ``kept`` from the source
    # data set is already in its converted form, so it is not converted again either.
    return DataElement(
        tag, vr, value, already_converted=kept, validation_mode=pydicom.config.IGNORE
    )


class _Cleaner:
    def __init__(self, project_secret: bytes) -> None:
        self.secret = project_secret
        self.uids: dict[str, str] = {}

    def uid(self, value: str) -> str:
        new = self.uids.get(value)
        if new is None:
            new = self.uids[value] = remap_uid(value, project_secret=self.secret)
        return new

    def dataset(self, src: Dataset) -> Dataset:
        out = Dataset()
        for elem in src:
            new = self.element(elem)
            if new is not None:
                out.add(new)
        return out

    def element(self, elem: DataElement) -> DataElement | None:
        """The kept form of ``elem``, or None when the allow-list does not keep it."""
        tag = elem.tag
        action = KEPT_ACTIONS.get(int(tag))
        if action is None:
            return None  # not on the allow-list: private, unknown, or not needed
        vr = elem.VR
        if vr == "UN":
            return None  # a value of unknown encoding cannot be shown to be what it claims
        if action == "Z" or (action == "D" and vr == "SQ"):
            return _element(tag, vr, Sequence() if vr == "SQ" else None)
        if tag in STANDARD_CODED:
            items = [code for code in map(_standard_code, elem.value) if code is not None]
            return _element(tag, vr, Sequence(items)) if items else None
        if vr == "SQ":
            return _element(tag, vr, Sequence([self.dataset(i) for i in elem.value]))
        if vr == "UI":
            return _element(tag, vr, self.uid_value(elem.value))
        if action == "U":
            return None  # only UIDs and sequences of them can be replaced
        if action == "D":
            return _element(tag, vr, _DUMMY_BY_VR.get(vr))
        return _element(tag, vr, elem.value, kept=True)

    def uid_value(self, value: object) -> object:
        """Replace every UID that is not a well-known one (SOP classes, transfer syntaxes)."""
        if isinstance(value, (list, MultiValue)):
            return [v if str(v) in UID_dictionary else self.uid(str(v)) for v in value if v]
        if not value or str(value) in UID_dictionary:
            return value
        return self.uid(str(value))


@functools.cache
def _dictionary(scheme: str) -> dict[str, Code]:
    """The codes of ``scheme`` in pydicom's dictionary of the standard's codes, by value."""
    collection = getattr(codes, scheme)
    by_value: dict[str, Code] = {}
    for name in collection.dir():
        code = getattr(collection, name)
        by_value.setdefault(code.value, code)
    return by_value


def _standard_code(item: Dataset) -> Dataset | None:
    """``item``'s code as the standard's dictionary has it (SNOMED RT as SNOMED CT), or None."""
    scheme = str(item.get("CodingSchemeDesignator") or "")
    value = str(item.get("CodeValue") or "")
    if scheme in ("SRT", "SNM3"):
        scheme, value = "SCT", SNOMED_MAPPING["SRT"].get(value, "")
    if scheme not in ("SCT", "DCM"):
        return None
    code = _dictionary(scheme).get(value)
    if code is None:
        return None
    out = Dataset()
    out.CodeValue = code.value
    out.CodingSchemeDesignator = code.scheme_designator
    out.CodeMeaning = code.meaning
    return out


def add_missing_type2(ds: Dataset) -> Dataset:
    """Give ``ds`` every attribute of ``TYPE2_PATIENT_STUDY`` it lacks, with no value."""
    for keyword in TYPE2_PATIENT_STUDY:
        if keyword not in ds:
            setattr(ds, keyword, None)
    return ds


def deidentify(ds: Dataset, *, project_secret: bytes) -> DeidResult:
    """Return a de-identified copy of ``ds`` (a data set from ``read_validated``).

    Keeps only the attributes of the allow-list (``annotator.dicom.profile.KEPT``) at
    every nesting level, with Table E.1-1's action applied to those the table lists;
    everything else (private attributes, overlays, curves, free text, code sequences,
    sequences nobody listed) is removed; anatomic region codes are rewritten from the
    standard's dictionary (``STANDARD_CODED``). Every instance UID is replaced with
    ``remap_uid``. PatientName and PatientID become the pseudonym. Dates and times are
    emptied or removed (no date shift), or given a dummy where the IOD makes them Type 1
    (``type1_dummied``), so LongitudinalTemporalInformationModified is REMOVED. Pixel Data
    is carried over untouched (same bytes, same transfer syntax); burned-in text is not
    cleaned, only flagged. The source data set is not modified.
    """
    if not project_secret:
        raise ValueError("project_secret must not be empty")
    cleaner = _Cleaner(project_secret)
    pseudonym = patient_pseudonym(ds, project_secret=project_secret)
    out = add_missing_type2(cleaner.dataset(ds))
    for tag in type1_dummied(ds):
        if tag in out:
            out[tag].value = _DUMMY_BY_VR[out[tag].VR]

    out.PatientName = pseudonym
    out.PatientID = pseudonym
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = DEIDENTIFICATION_METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    out.DeidentificationMethodCodeSequence = Sequence([code])
    out.LongitudinalTemporalInformationModified = "REMOVED"

    src_meta = ds.file_meta
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = src_meta.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    out.file_meta = meta
    out.preamble = b"\x00" * 128

    return DeidResult(
        dataset=out,
        patient_pseudonym=pseudonym,
        study_uid=str(out.StudyInstanceUID),
        series_uid=str(out.SeriesInstanceUID),
        sop_uid=str(out.SOPInstanceUID),
        frame_of_reference_uid=str(out.FrameOfReferenceUID)
        if out.get("FrameOfReferenceUID")
        else None,
        burned_in_annotation=burned_in_annotation_risk(ds),
        modality=str(ds.get("Modality") or ""),
        sop_class_uid=str(ds.SOPClassUID),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        number_of_frames=number_of_frames(ds),
        pixel_spacing=_pixel_spacing(ds),
        photometric=str(ds.PhotometricInterpretation),
        body_part_examined=str(ds.get("BodyPartExamined") or ""),
        series_number=_int_or_none(ds.get("SeriesNumber")),
        instance_number=_int_or_none(ds.get("InstanceNumber")),
        slice_location=_float_or_none(ds.get("SliceLocation")),
        image_position_patient=_triple(ds.get("ImagePositionPatient")),
        deidentification_codes=(BASIC_PROFILE_CODE[0],),
    )


def burned_in_annotation_risk(ds: Dataset) -> bool:
    """True when the pixels may carry burned-in text (see ``DeidResult``)."""
    value = str(ds.get("BurnedInAnnotation") or "").strip().upper()
    if value == "YES":
        return True
    if value == "NO":
        return False
    modality = str(ds.get("Modality") or "").upper()
    sop_class = str(ds.get("SOPClassUID") or "")
    return modality in BURNED_IN_RISK_MODALITIES or sop_class.startswith(SECONDARY_CAPTURE_PREFIX)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _float_or_none(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _pair(value: object) -> tuple[float, float] | None:
    if isinstance(value, (list, MultiValue)) and len(value) == 2:
        try:
            pair = (float(value[0]), float(value[1]))
        except (TypeError, ValueError):
            return None
        if pair[0] > 0 and pair[1] > 0:
            return pair
    return None


def _triple(value: object) -> tuple[float, float, float] | None:
    if isinstance(value, (list, MultiValue)) and len(value) == 3:
        try:
            return (float(value[0]), float(value[1]), float(value[2]))
        except (TypeError, ValueError):
            return None
    return None


def _pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    spacing = _pair(ds.get("PixelSpacing"))
    if spacing is None:
        for group in ds.get("SharedFunctionalGroupsSequence") or []:
            for measures in group.get("PixelMeasuresSequence") or []:
                spacing = spacing or _pair(measures.get("PixelSpacing"))
    return spacing or _pair(ds.get("ImagerPixelSpacing"))


__all__ = [
    "PROFILE_NAME",
    "DeidResult",
    "burned_in_annotation_risk",
    "deidentify",
    "patient_pseudonym",
    "remap_uid",
]
