"""De-identification keeps real files valid: dciodvfy finds no error in a stored copy that
it does not find in the original."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.dicom import dataset_to_bytes, deidentify, read_validated
from tests.annotator.dicom.corpus import corpus_files
from tests.annotator.dicom.test_read_validated import EXPECTED_REJECTIONS
from tests.dciodvfy import dciodvfy_errors

ACCEPTED = [path for path in corpus_files() if path.name not in EXPECTED_REJECTIONS]


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_deidentified_file_has_no_error_its_original_lacks(path: Path, tmp_path):
    ds = read_validated(data=path.read_bytes(), filename=path.name)
    stored = tmp_path / "stored.dcm"
    stored.write_bytes(dataset_to_bytes(deidentify(ds, project_secret=b"secret").dataset))
    before = set(dciodvfy_errors(path))
    assert [error for error in dciodvfy_errors(stored) if error not in before] == []


def test_the_corpus_holds_enhanced_multi_frame_files():
    names = {path.name for path in ACCEPTED}
    assert {"eCT_Supplemental.dcm", "emri_small.dcm"} <= names
    assert len(ACCEPTED) > 100
