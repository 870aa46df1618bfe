"""Real DICOM files for tests: the pydicom-data wheel and pydicom's own test files."""

import importlib.util
import io
import zipfile
from pathlib import Path

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
