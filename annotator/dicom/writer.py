"""Serialising a (de-identified) data set for storage."""

from __future__ import annotations

from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataset import Dataset

PREAMBLE = b"\x00" * 128


def dataset_to_bytes(ds: Dataset) -> bytes:
    """Encode ``ds`` as a Part-10 file: zeroed preamble, ``DICM``, file meta, data set.

    The 128-byte preamble is always written as zeros, whatever ``ds.preamble`` holds,
    so a stored file can never be a polyglot (PE/ELF header or JSON in the preamble).
    The data set is encoded in the transfer syntax its file meta names; pixel data is
    written as it is (no re-encoding). ``ds`` itself is left unchanged.
    """
    original = ds.preamble
    ds.preamble = PREAMBLE
    try:
        buffer = BytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
    finally:
        ds.preamble = original
    data = buffer.getvalue()
    if data[:128] != PREAMBLE or data[128:132] != b"DICM":  # pragma: no cover - invariant
        raise RuntimeError("pydicom wrote an unexpected Part-10 header")
    return data
