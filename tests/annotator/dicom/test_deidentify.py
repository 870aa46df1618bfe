"""deidentify: PS3.15 Annex E Basic Profile, UID remapping, nothing of the patient left."""

from __future__ import annotations

import copy
import re
from io import BytesIO

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes

from annotator.dicom import dataset_to_bytes, deidentify, read_validated, remap_uid
from annotator.dicom.deid import TYPE2_PATIENT_STUDY, patient_pseudonym
from annotator.dicom.profile import ACTIONS, KEPT, KEPT_ACTIONS, TABLE_E1_1
from tests.annotator.dicom import crafted, phi

SECRET = b"project-one-secret"
OTHER_SECRET = b"project-two-secret"
UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@pytest.fixture(scope="module")
def source() -> Dataset:
    """The PHI fixture as ingest sees it: encoded, then read strictly."""
    return read_validated(data=crafted.encode(phi.build_phi_dataset()), filename="phi.dcm")


@pytest.fixture(scope="module")
def result(source):
    return deidentify(source, project_secret=SECRET)


@pytest.fixture(scope="module")
def stored(result) -> bytes:
    return dataset_to_bytes(result.dataset)


def _walk(ds: Dataset):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item)


def test_no_sentinel_survives_anywhere_in_the_stored_bytes(source, stored):
    sentinels = [*phi.SENTINELS, *phi.original_uids(source)]
    for sentinel in sentinels:
        assert sentinel.encode() not in stored, sentinel
    assert phi.SENTINEL_OB not in stored
    # also not as UTF-16 or in the preamble
    for sentinel in phi.SENTINELS:
        assert sentinel.encode("utf-16-le") not in stored
    assert stored[:128] == b"\x00" * 128


def test_fixture_really_carries_the_sentinels(source):
    encoded = crafted.encode(source)
    for sentinel in [*phi.SENTINELS, *phi.original_uids(source)]:
        assert sentinel.encode() in encoded, sentinel


def test_stored_file_is_valid_part10_that_ingest_accepts(result, stored, source):
    again = read_validated(data=stored, filename="stored.dcm")
    assert again.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert again.file_meta.MediaStorageSOPInstanceUID == result.sop_uid
    assert again.file_meta.MediaStorageSOPClassUID == source.SOPClassUID
    assert "SourceApplicationEntityTitle" not in again.file_meta


def test_pixel_data_is_byte_identical(source, result, stored):
    assert result.dataset.PixelData == source.PixelData
    assert pydicom.dcmread(BytesIO(stored)).PixelData == source.PixelData


def test_identity_removed_attestation(result):
    out = result.dataset
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod == "RadLabel allow-list; DICOM PS3.15 2024c E.1 Basic Profile"
    codes = [
        (i.CodeValue, i.CodingSchemeDesignator) for i in out.DeidentificationMethodCodeSequence
    ]
    assert codes == [("113100", "DCM")]  # no option is claimed that was not executed
    assert result.deidentification_codes == ("113100",)
    assert out.LongitudinalTemporalInformationModified == "REMOVED"


def test_patient_name_and_id_are_the_pseudonym(result):
    assert re.fullmatch(r"P-[0-9a-f]{12}", result.patient_pseudonym)
    assert result.dataset.PatientName == result.patient_pseudonym
    assert result.dataset.PatientID == result.patient_pseudonym


def _table_tags_in(ds: Dataset) -> list[int]:
    return sorted(int(t) for t in ds.keys() if int(t) in TABLE_E1_1)


def _is_empty(value) -> bool:
    return (
        value is None
        or value == ""
        or value == b""
        or (isinstance(value, (Sequence, list, MultiValue)) and len(value) == 0)
    )


def test_every_table_attribute_ends_in_its_action_or_is_removed(source, result):
    """The allow-list keeps few of the table's attributes; those it keeps obey the table."""
    out = result.dataset
    tags = _table_tags_in(source)
    assert len(tags) > 300  # the fixture covers the table, not a sample of it
    overridden = {0x00100010, 0x00100020}  # Z in the table; we write the pseudonym
    for tag in tags:
        action = ACTIONS[tag]
        name = f"{pydicom.datadict.keyword_for_tag(tag)} {TABLE_E1_1[tag]}"
        if tag in overridden:
            continue
        if action == "X" or tag not in KEPT_ACTIONS:
            assert tag not in out, name
            continue
        assert tag in out, name
        src, new = source[tag], out[tag]
        assert new.VR == src.VR, name
        if action == "Z":
            assert _is_empty(new.value), name
        elif action == "D":
            if new.VR == "SQ":
                assert len(new.value) == 0, name
            elif new.VR == "UI":
                assert new.value == remap_uid(src.value, project_secret=SECRET), name
            else:
                assert new.value != src.value or _is_empty(src.value), name
        elif action == "U":
            if new.VR == "UI":
                values = src.value if isinstance(src.value, MultiValue) else [src.value]
                expected = [remap_uid(v, project_secret=SECRET) for v in values]
                got = new.value if isinstance(new.value, MultiValue) else [new.value]
                assert list(got) == expected, name
            else:
                assert new.VR == "SQ", name


# The attributes case 23 names, with the action Table E.1-1 gives them.
CASE_23 = {
    "PatientName": "Z",
    "PatientID": "Z",
    "PatientBirthDate": "Z",
    "AccessionNumber": "Z",
    "InstitutionName": "X/Z/D",
    "InstitutionAddress": "X",
    "ReferringPhysicianName": "Z",
    "OperatorsName": "X/Z/D",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "PatientAddress": "X",
    "StationName": "X/Z/D",
    "DeviceSerialNumber": "X/Z/D",
    "StudyID": "Z",
    "StudyDate": "Z",
    "StudyTime": "Z",
    "SeriesDate": "X/D",
    "AcquisitionDate": "X/Z",
    "ContentDate": "Z/D",
    "StudyInstanceUID": "U",
    "FrameOfReferenceUID": "U",
    "ReferencedSOPInstanceUID": "U",
    "SourceImageSequence": "X/Z/U*",
}


@pytest.mark.parametrize("keyword", sorted(CASE_23))
def test_table_lists_the_case_23_attributes(keyword):
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert TABLE_E1_1[tag] == CASE_23[keyword]


def test_dates_and_times_are_gone(result):
    for elem in _walk(result.dataset):
        if elem.VR in ("DA", "DT", "TM") and not _is_empty(elem.value):
            assert elem.value in ("19000101", "19000101000000", "000000"), elem


def test_private_overlay_and_curve_groups_removed(result):
    for elem in _walk(result.dataset):
        group = elem.tag.group
        assert not group & 1, elem.tag
        assert not 0x5000 <= group <= 0x50FF, elem.tag
        assert not 0x6000 <= group <= 0x60FF, elem.tag


def test_free_text_and_descriptions_removed(result):
    out = result.dataset
    for keyword in (
        "StudyDescription",
        "SeriesDescription",
        "ImageComments",
        "RequestAttributesSequence",
        "ReferencedPatientSequence",
        "OtherPatientIDsSequence",
    ):
        assert keyword not in out, keyword
    # outside the table and not on the allow-list: removed
    assert "DateOfSecondaryCapture" not in out
    assert "ContrastBolusStartTime" not in out


def test_non_identifying_attributes_kept(source, result):
    out = result.dataset
    for keyword in (
        "Modality",
        "Rows",
        "Columns",
        "PixelSpacing",
        "RescaleIntercept",
        "SOPClassUID",
    ):
        assert out[keyword].value == source[keyword].value, keyword
    # A code meaning is free text (it can hold a name): an anatomic region is kept as the
    # standard's code with the standard's meaning (SNOMED RT T-D3000 is SNOMED CT 51185008).
    [anatomy] = out.AnatomicRegionSequence
    assert (anatomy.CodeValue, anatomy.CodingSchemeDesignator) == ("51185008", "SCT")
    assert anatomy.CodeMeaning == "Thoracic structure (body structure)"  # not the source's


def test_an_anatomic_region_the_standard_does_not_know_is_dropped(source):
    ds = copy.deepcopy(source)
    ds.AnatomicRegionSequence[0].CodingSchemeDesignator = "99LOCAL"
    assert "AnatomicRegionSequence" not in deidentify(ds, project_secret=SECRET).dataset


def test_only_allow_listed_attributes_remain_at_any_depth(result):
    out = copy.deepcopy(result.dataset)
    [code] = out.pop("DeidentificationMethodCodeSequence").value  # the profile's own marker
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    out.pop("AnatomicRegionSequence")  # the standard's code, written from its dictionary
    for elem in _walk(out):
        assert int(elem.tag) in KEPT, elem


def test_attributes_outside_the_table_are_removed(source, result, stored):
    out = result.dataset
    for keyword in (
        "PatientBirthDateInAlternativeCalendar",
        "PatientDeathDateInAlternativeCalendar",
        "PatientAlternativeCalendar",
        "ProcedureCodeSequence",
    ):
        assert keyword in source, keyword
        assert keyword not in out, keyword
    assert phi.UNKNOWN_PUBLIC_SEQUENCE_TAG in source
    assert phi.UNKNOWN_PUBLIC_SEQUENCE_TAG not in out
    # a kept sequence keeps only allow-listed attributes, with the table applied to them
    [item] = out.ReferencedImageSequence
    assert not [elem for elem in item if elem.tag.group & 1]
    assert _is_empty(item["PatientName"].value)
    for sentinel in phi.OUTSIDE_TABLE_SENTINELS:
        assert sentinel.encode() in crafted.encode(source), sentinel
        assert sentinel.encode() not in stored, sentinel


def test_type2_patient_and_study_attributes_stay_present_and_empty(result):
    out = result.dataset
    for keyword in TYPE2_PATIENT_STUDY:
        assert keyword in out and _is_empty(out[keyword].value), keyword


def test_references_in_sequences_are_remapped_consistently(result):
    out = result.dataset
    expected = remap_uid(phi.sentinel_uid(901), project_secret=SECRET)
    assert out.SourceImageSequence[0].ReferencedSOPInstanceUID == expected
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == expected
    assert out.SourceImageSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"


def test_no_dangling_reference_between_two_instances():
    """B references A's SOP instance; after de-identifying both apart, it still does."""
    a = phi.load_source()
    a.FrameOfReferenceUID = phi.sentinel_uid(902)
    b = phi.load_source()
    b.FrameOfReferenceUID = phi.sentinel_uid(902)
    b.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.77"
    ref = Dataset()
    ref.ReferencedSOPClassUID = a.SOPClassUID
    ref.ReferencedSOPInstanceUID = a.SOPInstanceUID
    b.SourceImageSequence = Sequence([ref])
    new_a = deidentify(a, project_secret=SECRET)
    new_b = deidentify(b, project_secret=SECRET)
    assert new_b.dataset.SourceImageSequence[0].ReferencedSOPInstanceUID == new_a.sop_uid
    assert new_a.study_uid == new_b.study_uid
    assert new_a.series_uid == new_b.series_uid
    assert new_a.frame_of_reference_uid == new_b.frame_of_reference_uid
    assert new_a.sop_uid != new_b.sop_uid


def test_same_source_same_uids_across_calls(source, result):
    again = deidentify(source, project_secret=SECRET)
    for field in ("study_uid", "series_uid", "sop_uid", "frame_of_reference_uid"):
        assert getattr(again, field) == getattr(result, field)
    assert again.patient_pseudonym == result.patient_pseudonym
    assert dataset_to_bytes(again.dataset) == dataset_to_bytes(result.dataset)


def test_other_project_gets_other_uids_and_pseudonym(source, result):
    other = deidentify(source, project_secret=OTHER_SECRET)
    for field in ("study_uid", "series_uid", "sop_uid", "frame_of_reference_uid"):
        assert getattr(other, field) != getattr(result, field)
    assert other.patient_pseudonym != result.patient_pseudonym


def test_new_uids_are_valid(result, source):
    assert result.study_uid == remap_uid(source.StudyInstanceUID, project_secret=SECRET)
    for elem in _walk(result.dataset):
        if elem.VR == "UI" and elem.value:
            values = elem.value if isinstance(elem.value, MultiValue) else [elem.value]
            for value in values:
                assert UID_RE.match(value) and len(value) <= 64, elem


@pytest.mark.parametrize("uid", ["1.2.3", "1" * 64, "2.25." + "9" * 59])
def test_remap_uid_shape(uid):
    new = remap_uid(uid, project_secret=SECRET)
    assert new.startswith("2.25.") and len(new) <= 44 and UID_RE.match(new)
    assert new == remap_uid(uid, project_secret=SECRET)
    assert new != remap_uid(uid, project_secret=OTHER_SECRET)


def test_source_data_set_is_not_modified(source):
    before = crafted.encode(source)
    deidentify(source, project_secret=SECRET)
    assert crafted.encode(source) == before


def test_empty_secret_is_refused(source):
    with pytest.raises(ValueError):
        deidentify(source, project_secret=b"")


def test_pseudonym_keys():
    ds = Dataset()
    ds.PatientID = "PHI-123456"
    by_id = patient_pseudonym(ds, project_secret=SECRET)
    ds.PatientName = "Other^Name"
    assert patient_pseudonym(ds, project_secret=SECRET) == by_id  # ID wins
    no_id = Dataset()
    no_id.PatientName = "ZZTEST^PATIENT"
    no_id.PatientBirthDate = "19230417"
    same = Dataset()
    same.PatientName = "ZZTEST^PATIENT"
    same.PatientBirthDate = "19230417"
    assert patient_pseudonym(no_id, project_secret=SECRET) == patient_pseudonym(
        same, project_secret=SECRET
    )
    anonymous_1, anonymous_2 = Dataset(), Dataset()
    anonymous_1.StudyInstanceUID, anonymous_2.StudyInstanceUID = "1.2.3", "1.2.4"
    assert patient_pseudonym(anonymous_1, project_secret=SECRET) != patient_pseudonym(
        anonymous_2, project_secret=SECRET
    )


def test_result_metadata(result):
    assert result.modality == "CT"
    assert (result.rows, result.columns, result.number_of_frames) == (512, 512, 1)
    assert result.photometric == "MONOCHROME2"
    assert result.pixel_spacing is not None and all(v > 0 for v in result.pixel_spacing)
    assert result.burned_in_annotation is False
    assert result.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert result.image_position_patient is not None
    for text in (result.modality, result.body_part_examined, result.photometric):
        assert "ZZ" not in text


@pytest.mark.parametrize(
    ("modality", "burned_in", "expected"),
    [
        ("US", None, True),
        ("US", "NO", False),
        ("CT", "YES", True),
        ("CT", None, False),
        ("XA", None, True),
        ("MR", "NO", False),
    ],
)
def test_burned_in_annotation_flag(modality, burned_in, expected):
    ds = phi.load_source()
    ds.Modality = modality
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    assert deidentify(ds, project_secret=SECRET).burned_in_annotation is expected


def test_enhanced_multiframe_functional_groups_are_cleaned():
    data = crafted.read_bytes("eCT_Supplemental.dcm")
    ds = read_validated(data=data, filename="x.dcm")
    result = deidentify(ds, project_secret=SECRET)
    assert result.number_of_frames == 2
    assert result.pixel_spacing is not None
    stored = dataset_to_bytes(result.dataset)
    for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert uid.encode() not in stored
    read_validated(data=stored, filename="stored.dcm")


def test_type1_content_date_and_time_get_dummies_in_enhanced_multi_frame_objects():
    """Z/D: the Multi-frame Functional Groups module makes them Type 1, so D, not Z."""
    for name in ("eCT_Supplemental.dcm", "emri_small.dcm"):
        ds = read_validated(data=crafted.read_bytes(name), filename="x.dcm")
        assert ds.ContentDate and ds.ContentTime, name
        out = deidentify(ds, project_secret=SECRET).dataset
        assert (out.ContentDate, out.ContentTime) == ("19000101", "000000"), name
        assert out.LongitudinalTemporalInformationModified == "REMOVED"


def test_type2_content_date_and_time_are_emptied_in_single_frame_objects():
    ds = read_validated(data=crafted.read_bytes("CT_small.dcm"), filename="x.dcm")
    assert ds.ContentDate and ds.ContentTime
    out = deidentify(ds, project_secret=SECRET).dataset
    assert _is_empty(out.ContentDate) and _is_empty(out.ContentTime)


def test_frame_anatomy_is_kept_as_standard_codes():
    ds = read_validated(data=crafted.read_bytes("eCT_Supplemental.dcm"), filename="x.dcm")
    out = deidentify(ds, project_secret=SECRET).dataset
    [anatomy] = out.SharedFunctionalGroupsSequence[0].FrameAnatomySequence
    assert anatomy.FrameLaterality == "U"
    [region] = anatomy.AnatomicRegionSequence  # SNOMED 3 T-A0100 in the source
    assert (region.CodeValue, region.CodingSchemeDesignator) == ("12738006", "SCT")
    assert region.CodeMeaning == codes.SCT.Brain.meaning
