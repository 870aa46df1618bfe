"""dataset_to_bytes with the source file: the bytes of values kept as they were are reused,
and the stored file decodes to exactly what encoding every element again gives."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
import pytest

from annotator.dicom import (
    DicomRejected,
    ValidatedFile,
    dataset_to_bytes,
    deidentify,
    read_validated,
    read_validated_file,
)
from tests.annotator.dicom import crafted, phi
from tests.annotator.dicom.corpus import corpus_files

SECRET = b"writer-test-secret"


def _accepted(path: Path) -> ValidatedFile | None:
    try:
        return read_validated_file(data=path.read_bytes(), filename=path.name)
    except DicomRejected:
        return None


def _decoded(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(BytesIO(data))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_a_stored_file_decodes_to_the_same_data_set_with_or_without_the_source(path):
    source = _accepted(path)
    if source is None:
        return  # refused on ingest: nothing is written
    result = deidentify(source.dataset, project_secret=SECRET)
    encoded = dataset_to_bytes(result.dataset)
    reused = dataset_to_bytes(result.dataset, source=source)
    assert _decoded(reused) == _decoded(encoded)
    assert _decoded(reused).file_meta == _decoded(encoded).file_meta
    assert reused[:128] == b"\x00" * 128
    read_validated(data=reused, filename="stored.dcm")


def test_most_of_a_ct_slice_is_reused_and_none_of_the_patient():
    data = crafted.encode(phi.build_phi_dataset())
    source = read_validated_file(data=data, filename="phi.dcm")
    result = deidentify(source.dataset, project_secret=SECRET)
    reused = dataset_to_bytes(result.dataset, source=source)
    assert reused == dataset_to_bytes(result.dataset)
    pixel_data = source.spans[0x7FE00010]
    assert data[pixel_data.start : pixel_data.end] in reused
    for value in (phi.PATIENT_NAME, phi.MRN, phi.BIRTH_DATE, phi.HOSPITAL, phi.PHYSICIAN):
        assert value.encode() not in reused


def test_a_value_changed_after_reading_is_encoded_not_copied():
    source = read_validated_file(data=crafted.encode(crafted.load()), filename="ct.dcm")
    result = deidentify(source.dataset, project_secret=SECRET)
    original = "\\".join(source.dataset.ImageType).encode()
    result.dataset.ImageType = ["DERIVED", "SECONDARY"]
    result.dataset.Rows = int(source.dataset.Rows)  # the same number: may be copied
    reused = dataset_to_bytes(result.dataset, source=source)
    assert _decoded(reused).ImageType == ["DERIVED", "SECONDARY"]
    assert _decoded(reused).Rows == source.dataset.Rows
    assert original not in reused
    assert _decoded(reused) == _decoded(dataset_to_bytes(result.dataset))


def test_a_deflated_file_is_encoded_in_full():
    source = read_validated_file(data=crafted.read_bytes("image_dfl.dcm"), filename="dfl.dcm")
    assert source.spans == {}
    result = deidentify(source.dataset, project_secret=SECRET)
    assert dataset_to_bytes(result.dataset, source=source) == dataset_to_bytes(result.dataset)
