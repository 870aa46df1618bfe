"""Reading zip uploads entry by entry, in memory, with caps that hold while reading."""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from annotator.dicom.errors import DicomRejected
from annotator.dicom.reader import DEFAULT_MAX_BYTES

DEFAULT_MAX_TOTAL_BYTES = 2 * 2**30
# Small entries may compress extremely well (an all-zero frame) without being a
# threat; the ratio cap applies from this many uncompressed bytes up.
RATIO_FLOOR_BYTES = 1 * 2**20
_CHUNK = 64 * 1024
_PEEK = 262  # enough for the tar magic at offset 257

_ARCHIVE_SUFFIXES = (
    ".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".lz", ".lzma", ".z",
)  # fmt: skip
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!",
    b"\x28\xb5\x2f\xfd",
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def _unsafe(detail: str) -> DicomRejected:
    return DicomRejected("unsafe_archive_entry", detail)


def _too_large(detail: str) -> DicomRejected:
    return DicomRejected("archive_too_large", detail)


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise _unsafe("an entry name contains a NUL byte")
    if "\\" in name:
        raise _unsafe("an entry name contains a backslash")
    if name.startswith("/") or _DRIVE.match(name):
        raise _unsafe("an entry has an absolute path")
    if ".." in name.split("/"):
        raise _unsafe("an entry path contains '..'")


def _check_entry(info: zipfile.ZipInfo) -> None:
    # zipfile cuts names at the first NUL; the name as stored is in orig_filename.
    _check_name(info.orig_filename)
    _check_name(info.filename)
    mode = info.external_attr >> 16
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
        raise _unsafe(f"an entry is {kind}")
    if info.flag_bits & 0x1:
        raise _unsafe("an entry is encrypted")
    if info.is_dir():
        return
    if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
        raise _unsafe("an entry is itself an archive")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DicomRejected(
            "archive_invalid", f"an entry uses unsupported compression method {info.compress_type}"
        )


def iter_archive(
    fileobj: BinaryIO,
    *,
    max_entries: int = 10_000,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_entry_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: int = 200,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for every file in a zip archive; nothing touches disk.

    Before the first yield the whole central directory is checked, and the archive
    refused (``DicomRejected``) if any entry is unsafe (``unsafe_archive_entry``: an
    absolute path, a ``..`` component, a backslash, a NUL, a symlink or other special
    file, encryption, or a nested archive by name or by its first bytes), or if the
    declared sizes break a cap (``archive_too_large``: entry count, per-entry or total
    uncompressed size, compression ratio). Directory entries are skipped.

    The caps are enforced again while inflating, from the real output, so an entry
    whose declared size is forged stops with ``archive_too_large`` as soon as it
    produces more than it declared; a corrupt stream or CRC gives ``archive_invalid``.
    Those read-time failures can happen after earlier entries were yielded: treat
    the archive as one unit and commit nothing until the iterator is exhausted.
    """
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise DicomRejected("archive_invalid", "not a readable zip archive") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise _too_large(f"{len(infos)} entries, the limit is {max_entries}")
        files = []
        declared_total = 0
        for info in infos:
            _check_entry(info)
            if info.is_dir():
                continue
            if info.file_size > max_entry_bytes:
                raise _too_large(
                    f"an entry declares {info.file_size} bytes, the limit is {max_entry_bytes}"
                )
            if info.file_size > RATIO_FLOOR_BYTES and info.file_size > max_ratio * max(
                info.compress_size, 1
            ):
                raise _too_large(f"an entry declares a compression ratio above {max_ratio}:1")
            declared_total += info.file_size
            if declared_total > max_total_bytes:
                raise _too_large(f"declared contents exceed {max_total_bytes} bytes")
            files.append(info)
        for info in files:
            head = _read_entry(fileobj, info, limit=_PEEK, peek=True)
            if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
                raise _unsafe("an entry is itself an archive")

        total = 0
        for info in files:
            limit = min(info.file_size, max_entry_bytes, max_total_bytes - total)
            data = _read_entry(fileobj, info, limit=limit)
            total += len(data)
            yield info.filename, data


def _read_entry(
    fileobj: BinaryIO, info: zipfile.ZipInfo, *, limit: int, peek: bool = False
) -> bytes:
    """Inflate one entry from its raw bytes, never producing more than ``limit`` + 1."""
    fileobj.seek(info.header_offset)
    header = fileobj.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise DicomRejected("archive_invalid", "an entry's local header is truncated")
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise DicomRejected("archive_invalid", "an entry's local header is corrupt")
    fileobj.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)

    inflater = (
        zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    )
    out = bytearray()
    remaining = info.compress_size
    while remaining > 0:
        chunk = fileobj.read(min(_CHUNK, remaining))
        if not chunk:
            raise DicomRejected("archive_invalid", "an entry's data is truncated")
        remaining -= len(chunk)
        while chunk:
            room = limit + 1 - len(out)
            if inflater is None:
                out += chunk[:room]
                chunk = b""
            else:
                try:
                    out += inflater.decompress(chunk, room)
                except zlib.error:
                    raise DicomRejected("archive_invalid", "an entry's data is corrupt") from None
                chunk = inflater.unconsumed_tail
            if len(out) > limit:
                if peek:
                    return bytes(out[:limit])
                raise _too_large("an entry inflates beyond its declared size or the archive limits")
            if peek and len(out) >= limit:
                return bytes(out)
    if peek:
        return bytes(out)
    if inflater is not None and not inflater.eof:
        raise DicomRejected("archive_invalid", "an entry's compressed data is incomplete")
    if len(out) != info.file_size:
        raise DicomRejected("archive_invalid", "an entry's size differs from its declared size")
    if zlib.crc32(out) != info.CRC:
        raise DicomRejected("archive_invalid", "an entry fails its CRC check")
    return bytes(out)
