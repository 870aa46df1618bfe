"""Real DICOM files for tests: the pydicom-data wheel and pydicom's own test files."""

import importlib.util
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file


def data_store(name: str) -> Path:
    spec = importlib.util.find_spec("data_store")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "data" / name


def pydicom_test_file(name: str) -> Path:
    return Path(get_testdata_file(name))


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ct_slices(count: int = 3, without: Iterable[str] = ()) -> list[bytes]:
    """``count`` slices of one CT series (CT_small at successive table positions), without the
    attributes named in ``without``."""
    source = pydicom.dcmread(pydicom_test_file("CT_small.dcm"))
    for keyword in without:
        delattr(source, keyword)
    slices = []
    for n in range(count):
        ds = source.copy()
        ds.SOPInstanceUID = f"{source.SOPInstanceUID}.{n + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [*source.ImagePositionPatient[:2], -75.7 + 5 * n]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        slices.append(buffer.getvalue())
    return slices


def ct_512_files(count: int) -> list[bytes]:
    """``count`` distinct 512² CT instances (pydicom-data's 693_UNCI.dcm), twenty to a
    patient: the benchmarks' ingest workload."""
    source = pydicom.dcmread(data_store("693_UNCI.dcm"))
    files = []
    for i in range(count):
        source.SOPInstanceUID = pydicom.uid.generate_uid()
        source.file_meta.MediaStorageSOPInstanceUID = source.SOPInstanceUID
        source.PatientID = f"BENCH-{i // 20}"
        source.InstanceNumber = i
        buffer = io.BytesIO()
        source.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files
