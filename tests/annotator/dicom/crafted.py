"""Builders of malformed DICOM bytes for the rejection tests."""

from __future__ import annotations

import struct
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import write_file_meta_info

from annotator.dicom._scan import scan_part10
from tests.annotator.dicom.corpus import read_bytes

CT = "693_UNCI.dcm"
IMPLICIT_MR = "MR_small_implicit.dcm"


def load(name: str = CT) -> Dataset:
    return pydicom.dcmread(BytesIO(read_bytes(name)))


def encode(ds: Dataset) -> bytes:
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def body_offset(data: bytes) -> int:
    return scan_part10(data, max_bytes=len(data) + 1).body_offset


def with_meta(data: bytes, *, ts: str | None = None, sop_instance: str | None = None) -> bytes:
    """Same data set bytes behind a rewritten file meta."""
    ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_instance or ds.file_meta.MediaStorageSOPInstanceUID
    meta.TransferSyntaxUID = ts or ds.file_meta.TransferSyntaxUID
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return buffer.getvalue() + data[body_offset(data) :]


def with_transfer_syntax(data: bytes, ts: str) -> bytes:
    return with_meta(data, ts=ts)


def overwrite_value(data: bytes, group: int, element: int, fill: bytes) -> bytes:
    """Overwrite the value of a short explicit VR element with ``fill`` repeated."""
    pos = find_element(data, group, element, start=body_offset(data))
    (length,) = struct.unpack_from("<H", data, pos + 6)
    value = (fill * length)[:length]
    return data[: pos + 8] + value + data[pos + 8 + length :]


def find_element(data: bytes, group: int, element: int, *, start: int = 132) -> int:
    """Offset of the first element header with this tag (little endian)."""
    return data.index(struct.pack("<HH", group, element), start)


def set_implicit_length(data: bytes, group: int, element: int, length: int) -> bytes:
    pos = find_element(data, group, element, start=body_offset(data))
    return data[: pos + 4] + struct.pack("<I", length) + data[pos + 8 :]


def replace_meta_vr(data: bytes, element: int, vr: bytes) -> bytes:
    pos = find_element(data, 0x0002, element)
    return data[: pos + 4] + vr + data[pos + 6 :]


def duplicate_meta_element(data: bytes, element: int) -> bytes:
    """Insert a second copy of a file meta element right after the first."""
    pos = find_element(data, 0x0002, element)
    (length,) = struct.unpack_from("<H", data, pos + 6)
    copy = data[pos : pos + 8 + length]
    return data[: pos + 8 + length] + copy + data[pos + 8 + length :]


def nested_sequences(depth: int) -> bytes:
    """A CT whose data set holds ``depth`` nested undefined-length sequences."""
    data = read_bytes(CT)
    start = body_offset(data)
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    item_end = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    seq_end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    # (0008,1115) Referenced Series Sequence, explicit VR SQ, undefined length.
    open_seq = struct.pack("<HH", 0x0008, 0x1115) + b"SQ\x00\x00" + b"\xff\xff\xff\xff"
    nested = b""
    for _ in range(depth):
        nested = open_seq + item + nested + item_end + seq_end
    # Insert before the first element whose tag is greater than (0008,1115).
    pos = start
    while True:
        group, element = struct.unpack_from("<HH", data, pos)
        if (group, element) > (0x0008, 0x1115):
            break
        vr = data[pos + 4 : pos + 6]
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OD", b"OF", b"OL"):
            (length,) = struct.unpack_from("<I", data, pos + 8)
            pos += 12 + length
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            pos += 8 + length
    return data[:pos] + nested + data[pos:]
