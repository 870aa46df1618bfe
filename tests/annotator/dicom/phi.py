"""A real CT slice loaded with sentinel patient data in every place PHI can hide.

``build_phi_dataset()`` takes ``693_UNCI.dcm`` (512 x 512 CT from pydicom-data) and
fills every attribute of PS3.15 Table E.1-1 that pydicom's dictionary knows, with a
sentinel of the attribute's VR, plus nested sequences, a private block, an overlay,
free text and dates outside the table, and ``OUTSIDE_TABLE_SENTINELS`` in attributes the
table does not list at all. Tests (de-identification here, exports and logs
elsewhere) assert that no string in ``SENTINELS`` survives.
"""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from annotator.dicom.profile import TABLE_E1_1
from tests.annotator.dicom.corpus import read_bytes

SOURCE_FILE = "693_UNCI.dcm"

PATIENT_NAME = "ZZTEST^PATIENT"
MRN = "PHI-123456"
BIRTH_DATE = "19230417"
HOSPITAL = "ZZHOSPITAL"
PHYSICIAN = "ZZDOCTOR^HOUSE"
STREET = "ZZ 221B BAKER STREET"
EVENT_TIME = "235917.654321"
DATETIME = "19230417235917"
SENTINEL_CS = "ZZSENTINELCS"
SENTINEL_OB = b"ZZPHIBYTES"
# Sentinels in attributes Table E.1-1 does not list: only an allow-list removes them.
ALT_BIRTH = "ZZALTBIRTH-1923"
ALT_DEATH = "ZZALTDEATH-1999"
CODE_MEANING_NAME = "ZZCODE^PATIENT"
UNKNOWN_SEQUENCE_TEXT = "ZZUNKNOWNSEQ"
IN_KEPT_SEQUENCE = "ZZINKEPTSEQ"
#: A public (even group) tag no edition of the dictionary defines.
UNKNOWN_PUBLIC_SEQUENCE_TAG = 0x00089999
#: UIDs of the fixture that must not survive (the real file's plus those added here).
SENTINEL_UID_ROOT = "1.2.826.0.1.3680043.10.999"

#: Strings placed outside Table E.1-1 (see ``add_phi_outside_the_table``).
OUTSIDE_TABLE_SENTINELS: tuple[str, ...] = (
    ALT_BIRTH,
    ALT_DEATH,
    CODE_MEANING_NAME,
    UNKNOWN_SEQUENCE_TEXT,
    IN_KEPT_SEQUENCE,
)

#: Strings that must not appear in any de-identified output (the CT's own UIDs are
#: added by ``build_phi_dataset`` through ``original_uids``).
SENTINELS: tuple[str, ...] = (
    PATIENT_NAME,
    "ZZTEST",
    MRN,
    BIRTH_DATE,
    HOSPITAL,
    PHYSICIAN,
    STREET,
    EVENT_TIME,
    DATETIME,
    SENTINEL_CS,
    SENTINEL_OB.decode(),
    SENTINEL_UID_ROOT,
    "ZZVENDOR",
    *OUTSIDE_TABLE_SENTINELS,
)

_TEXT_BY_VR = {
    "PN": PATIENT_NAME,
    "LO": MRN,
    "SH": MRN,
    "LT": STREET,
    "ST": STREET,
    "UT": STREET,
    "UC": STREET,
    "CS": SENTINEL_CS,
    "AE": HOSPITAL,
    "DA": BIRTH_DATE,
    "DT": DATETIME,
    "TM": EVENT_TIME,
    "AS": "077Y",
    "DS": "98765.4321",
    "IS": "987654321",
    "UR": "http://zzhospital.example/ZZTEST",
}


def sentinel_uid(n: int) -> str:
    return f"{SENTINEL_UID_ROOT}.{n}"


def _value_for(vr: str, tag: int, counter: list[int]):
    if vr in _TEXT_BY_VR:
        return _TEXT_BY_VR[vr]
    if vr == "UI":
        counter[0] += 1
        return sentinel_uid(counter[0])
    if vr in ("OB", "OW", "UN"):
        return SENTINEL_OB
    if vr in ("FL", "FD"):
        return 42.5
    if vr in ("US", "UL", "SS", "SL", "SV", "UV"):
        return 42
    if vr == "SQ":
        return Sequence([_person_item()])
    return None


def _person_item() -> Dataset:
    item = Dataset()
    item.CodeValue = MRN
    item.CodingSchemeDesignator = "99ZZ"
    item.CodeMeaning = PATIENT_NAME
    item.PersonName = PHYSICIAN
    item.InstitutionName = HOSPITAL
    return item


def load_source() -> Dataset:
    return pydicom.dcmread(BytesIO(read_bytes(SOURCE_FILE)))


def original_uids(ds: Dataset) -> list[str]:
    return [
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPInstanceUID),
        str(ds.FrameOfReferenceUID),
    ]


def build_phi_dataset() -> Dataset:
    """The CT with sentinel PHI everywhere; its pixel data and pixel module unchanged."""
    ds = load_source()
    if "FrameOfReferenceUID" not in ds:
        ds.FrameOfReferenceUID = sentinel_uid(902)
    counter = [0]
    for tag, _action in sorted(TABLE_E1_1.items()):
        group = tag >> 16
        if group in (0x0000, 0x0002, 0x0004) or tag in (0xFFFAFFFA, 0xFFFCFFFC):
            continue  # command, file meta and DICOMDIR elements do not belong in a data set
        if tag in (0x00080018, 0x0020000D, 0x0020000E, 0x00200052):
            continue  # keep the CT's own instance UIDs: they are sentinels too
        vr = dictionary_VR(tag).split(" or ")[0]
        value = _value_for(vr, tag, counter)
        if value is None:
            continue
        ds.add_new(tag, vr, value)

    ds.PatientName = PATIENT_NAME
    ds.PatientID = MRN
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyDescription = f"CT chest for {PATIENT_NAME}"
    ds.SeriesDescription = f"{MRN} axial"
    ds.ImageComments = f"seen by {PHYSICIAN} at {HOSPITAL}"

    # Dates, times and names outside Table E.1-1.
    ds.DateOfSecondaryCapture = BIRTH_DATE
    ds.TimeOfSecondaryCapture = EVENT_TIME
    ds.ContrastBolusStartTime = EVENT_TIME

    # Nested sequences carrying PHI and references.
    request = Dataset()
    request.RequestedProcedureID = MRN
    request.ScheduledProcedureStepID = MRN
    request.RequestedProcedureDescription = PATIENT_NAME
    ds.RequestAttributesSequence = Sequence([request])

    referenced_patient = Dataset()
    referenced_patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.1"
    referenced_patient.ReferencedSOPInstanceUID = sentinel_uid(900)
    ds.ReferencedPatientSequence = Sequence([referenced_patient])

    other_id = Dataset()
    other_id.PatientID = MRN
    other_id.IssuerOfPatientID = HOSPITAL
    other_id.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other_id])

    source_image = Dataset()
    source_image.ReferencedSOPClassUID = str(ds.SOPClassUID)
    source_image.ReferencedSOPInstanceUID = sentinel_uid(901)
    ds.SourceImageSequence = Sequence([source_image])
    referenced_image = Dataset()
    referenced_image.ReferencedSOPClassUID = str(ds.SOPClassUID)
    referenced_image.ReferencedSOPInstanceUID = sentinel_uid(901)
    ds.ReferencedImageSequence = Sequence([referenced_image])

    # A code sequence Table E.1-1 does not list, with a PHI-bearing nested name.
    anatomy = Dataset()
    anatomy.CodeValue = "T-D3000"
    anatomy.CodingSchemeDesignator = "SRT"
    anatomy.CodeMeaning = "Chest"
    ds.AnatomicRegionSequence = Sequence([anatomy])

    # Private block with a creator, holding a name, an MRN and a nested sequence.
    block = ds.private_block(0x0009, "ZZVENDOR PRIVATE", create=True)
    block.add_new(0x10, "LO", MRN)
    block.add_new(0x11, "PN", PATIENT_NAME)
    block.add_new(0x12, "SQ", Sequence([_person_item()]))

    # Overlay group 6000 with a description and data bytes.
    ds.add_new(0x60000010, "US", 512)
    ds.add_new(0x60000011, "US", 512)
    ds.add_new(0x60000022, "LO", PATIENT_NAME)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", SENTINEL_OB * (512 * 512 // 8 // len(SENTINEL_OB)) + b"ZZ")

    # Curve group 5000.
    ds.add_new(0x50000022, "LO", PATIENT_NAME)

    add_phi_outside_the_table(ds)

    # A polyglot preamble.
    ds.preamble = b"MZ" + PATIENT_NAME.encode() + b"\x00" * (128 - 2 - len(PATIENT_NAME))
    return ds


def add_phi_outside_the_table(ds: Dataset) -> Dataset:
    """Put ``OUTSIDE_TABLE_SENTINELS`` where Table E.1-1 does not look: public attributes
    it does not list, a code meaning in a code sequence, a public sequence no dictionary
    defines, and a private block inside a sequence that de-identification keeps."""
    ds.PatientBirthDateInAlternativeCalendar = ALT_BIRTH
    ds.PatientDeathDateInAlternativeCalendar = ALT_DEATH
    ds.PatientAlternativeCalendar = "I"

    procedure = Dataset()
    procedure.CodeValue = "ZZP1"
    procedure.CodingSchemeDesignator = "99ZZ"
    procedure.CodeMeaning = f"CT chest of {CODE_MEANING_NAME}"
    ds.ProcedureCodeSequence = Sequence([procedure])

    unknown = Dataset()
    unknown.add_new(0x00089998, "LO", UNKNOWN_SEQUENCE_TEXT)
    unknown.CodeMeaning = UNKNOWN_SEQUENCE_TEXT
    ds.add_new(UNKNOWN_PUBLIC_SEQUENCE_TAG, "SQ", Sequence([unknown]))

    kept = ds.ReferencedImageSequence[0] if "ReferencedImageSequence" in ds else Dataset()
    block = kept.private_block(0x0011, "ZZVENDOR IN SEQUENCE", create=True)
    block.add_new(0x01, "LO", IN_KEPT_SEQUENCE)
    kept.PatientName = IN_KEPT_SEQUENCE
    if "ReferencedImageSequence" not in ds:
        ds.ReferencedImageSequence = Sequence([kept])
    return ds


def table_keywords() -> dict[int, str]:
    """Table E.1-1 tags with pydicom keywords, for readable test ids."""
    return {tag: keyword_for_tag(tag) for tag in TABLE_E1_1}
