"""Paths to the real DICOM files shipped in the pydicom and pydicom-data wheels."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pydicom


def data_store_dir() -> Path:
    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        raise RuntimeError("the pydicom-data wheel is not installed")
    return Path(spec.origin).parent / "data"


def pydicom_test_files_dir() -> Path:
    return Path(pydicom.__file__).parent / "data" / "test_files"


def real_file(name: str) -> Path:
    for folder in (data_store_dir(), pydicom_test_files_dir()):
        path = folder / name
        if path.exists():
            return path
    raise FileNotFoundError(name)


def read_bytes(name: str) -> bytes:
    return real_file(name).read_bytes()


def corpus_files() -> list[Path]:
    """Every ``*.dcm`` in both wheels, data_store first."""
    return sorted(data_store_dir().glob("*.dcm")) + sorted(pydicom_test_files_dir().glob("*.dcm"))
