"""iter_archive: zip uploads read in memory, unsafe archives refused before any yield."""

from __future__ import annotations

import io
import stat
import struct
import zipfile

import pytest

from annotator.dicom import DicomRejected, iter_archive
from tests.annotator.dicom.corpus import read_bytes

CT = read_bytes("693_UNCI.dcm")
MR = read_bytes("MR_small.dcm")


def make_zip(entries, *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, b"/etc/passwd")
            else:
                name, data = entry
                archive.writestr(name, data)
    return buffer.getvalue()


def refused(data: bytes, **kwargs) -> DicomRejected:
    yielded = []
    with pytest.raises(DicomRejected) as info:
        for item in iter_archive(io.BytesIO(data), **kwargs):
            yielded.append(item)
    return info.value, yielded


def test_reads_every_file_and_skips_directories():
    data = make_zip([("study/", b""), ("study/a.dcm", CT), ("study/b.dcm", MR)])
    entries = list(iter_archive(io.BytesIO(data)))
    assert entries == [("study/a.dcm", CT), ("study/b.dcm", MR)]


def test_stored_entries():
    data = make_zip([("a.dcm", CT)], compression=zipfile.ZIP_STORED)
    assert list(iter_archive(io.BytesIO(data))) == [("a.dcm", CT)]


@pytest.mark.parametrize(
    "name",
    ["../evil.dcm", "a/../../evil.dcm", "/etc/cron.d/x", "C:/windows/x.dcm", "..\\..\\x.dcm"],
)
def test_unsafe_names_refuse_the_whole_archive_before_any_yield(name):
    data = make_zip([("first.dcm", CT), (name, MR)])
    exc, yielded = refused(data)
    assert exc.code == "unsafe_archive_entry" and exc.status == 400
    assert yielded == []


def test_nul_in_a_name_is_refused():
    data = make_zip([("first.dcm", CT), ("aQb.dcm", MR)]).replace(b"aQb.dcm", b"a\x00b.dcm")
    exc, yielded = refused(data)
    assert exc.code == "unsafe_archive_entry" and yielded == []


def test_symlink_entry_is_refused():
    link = zipfile.ZipInfo("passwd.dcm")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    exc, yielded = refused(make_zip([("first.dcm", CT), link]))
    assert exc.code == "unsafe_archive_entry" and "symbolic link" in exc.detail
    assert yielded == []


def test_nested_archive_by_name_and_by_content():
    inner = make_zip([("x.dcm", CT)])
    for name in ("inner.zip", "renamed.dcm"):
        exc, yielded = refused(make_zip([("first.dcm", CT), (name, inner)]))
        assert exc.code == "unsafe_archive_entry" and yielded == []


def test_too_many_entries():
    data = make_zip([(f"{i}.dcm", b"x") for i in range(10_001)])
    exc, yielded = refused(data)
    assert exc.code == "archive_too_large" and exc.status == 413 and yielded == []


def test_honest_bomb_is_refused_from_declared_sizes():
    exc, yielded = refused(make_zip([("bomb.dcm", b"\x00" * 10_000_000)]))
    assert exc.code == "archive_too_large" and yielded == []


def _forge_size(data: bytes, real: int, forged: int) -> bytes:
    """Rewrite an entry's uncompressed size in both its local and central headers."""
    out = bytearray(data)
    local = out.index(b"PK\x03\x04")
    assert struct.unpack_from("<I", out, local + 22)[0] == real
    struct.pack_into("<I", out, local + 22, forged)
    central = out.index(b"PK\x01\x02")
    assert struct.unpack_from("<I", out, central + 24)[0] == real
    struct.pack_into("<I", out, central + 24, forged)
    return bytes(out)


def test_bomb_with_forged_size_stops_while_reading():
    real = 10_000_000
    data = _forge_size(make_zip([("bomb.dcm", b"\x00" * real)]), real, 20_000)
    exc, yielded = refused(data)
    assert exc.code == "archive_too_large"
    assert yielded == []


def test_caps_hold_while_reading_across_entries():
    data = make_zip([("a.dcm", CT), ("b.dcm", CT)])
    exc, yielded = refused(data, max_total_bytes=len(CT) + 10)
    assert exc.code == "archive_too_large" and yielded == []


def test_per_entry_cap():
    exc, _ = refused(make_zip([("a.dcm", CT)]), max_entry_bytes=len(CT) - 1)
    assert exc.code == "archive_too_large"


def test_not_a_zip():
    exc, _ = refused(CT)
    assert exc.code == "archive_invalid"


def test_corrupt_entry_data():
    data = bytearray(make_zip([("a.dcm", CT)]))
    start = data.index(b"a.dcm") + len("a.dcm") + 200
    data[start : start + 100] = b"\x00" * 100
    exc, _ = refused(bytes(data))
    assert exc.code in ("archive_invalid", "archive_too_large")


def test_encrypted_entry_is_refused():
    data = bytearray(make_zip([("a.dcm", CT)]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.index(signature)
        flags = struct.unpack_from("<H", data, pos + offset)[0]
        struct.pack_into("<H", data, pos + offset, flags | 1)
    exc, _ = refused(bytes(data))
    assert exc.code == "unsafe_archive_entry"
