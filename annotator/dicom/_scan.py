"""Byte-level structural scan of a Part-10 file, run before pydicom sees it.

pydicom trusts declared lengths, recurses once per nested sequence and accepts
duplicate or malformed file meta. This scan walks every element header (not the
values) and checks, in bounded time and without allocating anything the size of
a declared length:

* ``DICM`` at offset 128 and a file meta group that is explicit VR little endian,
  strictly ascending, with the VRs the standard gives its elements;
* every declared length against the bytes that actually remain (and against the
  size limit, so a length such as 0xFFFFFFF0 fails at once);
* nesting depth of sequences, the number of elements, item and delimiter
  structure, and encapsulated pixel data fragments;
* for Deflated Explicit VR Little Endian, the inflated size and ratio.

The scan only decides whether the structure is sound; values are read by pydicom
afterwards, under strict settings.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple

from pydicom.datadict import dictionary_VR

from annotator.dicom.errors import DicomRejected

MAX_SEQUENCE_DEPTH = 16
MAX_ELEMENTS = 500_000
MAX_DEFLATE_RATIO = 1000

IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_BE = "1.2.840.10008.1.2.2"
DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99"

UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
MAX_UID_LENGTH = 64

_VALID_VRS = frozenset(
    vr.encode()
    for vr in (
        "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV "
        "TM UC UI UL UN UR US UT UV"
    ).split()
)
# VRs whose explicit encoding has two reserved bytes and a 32-bit length.
_LONG_VRS = frozenset(vr.encode() for vr in "OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())

# VRs the standard gives the file meta elements (PS3.10 table 7.1-1).
_META_VRS = {
    0x00020000: b"UL",
    0x00020001: b"OB",
    0x00020002: b"UI",
    0x00020003: b"UI",
    0x00020010: b"UI",
    0x00020012: b"UI",
    0x00020013: b"SH",
    0x00020016: b"AE",
    0x00020017: b"AE",
    0x00020018: b"AE",
    0x00020026: b"UR",
    0x00020027: b"UR",
    0x00020028: b"UR",
    0x00020100: b"UI",
    0x00020102: b"OB",
}

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF


class ElementSpan(NamedTuple):
    """Where a top-level element of the data set lies in the file: its header starts at
    ``start``, its value at ``value`` and it ends before ``end``."""

    start: int
    value: int
    end: int


@dataclass(frozen=True)
class Part10Layout:
    """What the scan learnt: the transfer syntax, the file meta values and where each
    top-level element of the data set lies in the file (none for a deflated data set, whose
    elements lie in the inflated body, not in the file)."""

    transfer_syntax: str
    media_storage_sop_class: str
    media_storage_sop_instance: str
    body_offset: int
    spans: dict[int, ElementSpan] = field(default_factory=dict)


def _fmt_tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _meta_uid(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("ascii").rstrip("\x00 ")
    except UnicodeDecodeError:
        raise DicomRejected("invalid_uid", f"{name} is not an ASCII UID") from None
    return text


def check_uid(value: str, name: str) -> None:
    """Reject a UID that is not digits and dots or longer than 64 characters."""
    if len(value) > MAX_UID_LENGTH or not UID_RE.match(value):
        raise DicomRejected(
            "invalid_uid",
            f"{name} is not a valid UID (digits and dots, at most {MAX_UID_LENGTH} characters)",
        )


def scan_part10(data: bytes, *, max_bytes: int) -> Part10Layout:
    """Check the structure of ``data``; raise ``DicomRejected`` or return its layout."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise DicomRejected(
            "not_dicom_part10", "no DICOM Part 10 header ('DICM' at byte offset 128)"
        )
    meta, body_offset = _scan_meta(data)
    if 0x00020010 not in meta:
        raise DicomRejected(
            "unsupported_transfer_syntax", "file meta has no Transfer Syntax UID (0002,0010)"
        )
    ts = _meta_uid(meta[0x00020010], "Transfer Syntax UID")
    check_uid(ts, "Transfer Syntax UID")
    sop_class = _meta_uid(meta.get(0x00020002, b""), "Media Storage SOP Class UID")
    sop_instance = _meta_uid(meta.get(0x00020003, b""), "Media Storage SOP Instance UID")
    if sop_class:
        check_uid(sop_class, "Media Storage SOP Class UID")
    if sop_instance:
        check_uid(sop_instance, "Media Storage SOP Instance UID")

    if ts == DEFLATED_EXPLICIT_VR_LE:
        body = _inflate(data, body_offset, max_bytes=max_bytes)
        walker = _Walker(body, implicit=False, little=True, max_bytes=max_bytes)
        walker.dataset(0, len(body), depth=0)
    else:
        walker = _Walker(
            data,
            implicit=ts == IMPLICIT_VR_LE,
            little=ts != EXPLICIT_VR_BE,
            max_bytes=max_bytes,
        )
        walker.dataset(body_offset, len(data), depth=0)
    return Part10Layout(
        transfer_syntax=ts,
        media_storage_sop_class=sop_class,
        media_storage_sop_instance=sop_instance,
        body_offset=body_offset,
        spans=walker.spans if ts != DEFLATED_EXPLICIT_VR_LE else {},
    )


def _scan_meta(data: bytes) -> tuple[dict[int, bytes], int]:
    size = len(data)
    pos = 132
    meta: dict[int, bytes] = {}
    last = -1
    group_end: int | None = None
    while pos + 2 <= size and struct.unpack_from("<H", data, pos)[0] == 0x0002:
        if pos + 8 > size:
            raise DicomRejected("dicom_truncated", "file ends inside the file meta information")
        group, elem = struct.unpack_from("<HH", data, pos)
        tag = group << 16 | elem
        vr = data[pos + 4 : pos + 6]
        if vr not in _VALID_VRS:
            raise DicomRejected(
                "dicom_invalid", f"file meta element {_fmt_tag(tag)} has an invalid VR"
            )
        expected_vr = _META_VRS.get(tag)
        if expected_vr is not None and vr != expected_vr:
            raise DicomRejected(
                "dicom_invalid",
                f"file meta element {_fmt_tag(tag)} has VR {vr.decode()}, "
                f"expected {expected_vr.decode()}",
            )
        if vr in _LONG_VRS:
            if pos + 12 > size:
                raise DicomRejected("dicom_truncated", "file ends inside the file meta information")
            (length,) = struct.unpack_from("<I", data, pos + 8)
            header = 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            header = 8
        if length == _UNDEFINED:
            raise DicomRejected(
                "dicom_invalid", f"file meta element {_fmt_tag(tag)} has an undefined length"
            )
        if length > size - pos - header:
            raise DicomRejected(
                "dicom_truncated" if length <= size else "dicom_invalid",
                f"file meta element {_fmt_tag(tag)} declares {length} bytes, "
                f"only {size - pos - header} remain",
            )
        if tag <= last:
            raise DicomRejected(
                "dicom_invalid",
                f"file meta element {_fmt_tag(tag)} is duplicated or out of order",
            )
        last = tag
        meta[tag] = data[pos + header : pos + header + length]
        pos += header + length
        if tag == 0x00020000:
            if length != 4:
                raise DicomRejected("dicom_invalid", "file meta group length is not 4 bytes")
            group_end = pos + struct.unpack_from("<I", meta[tag])[0]
    if not meta:
        raise DicomRejected("not_dicom_part10", "no file meta information after 'DICM'")
    if group_end is not None and group_end != pos:
        raise DicomRejected(
            "dicom_invalid", "file meta group length does not match the file meta elements"
        )
    return meta, pos


def _inflate(data: bytes, offset: int, *, max_bytes: int) -> bytes:
    compressed = len(data) - offset
    cap = min(max_bytes, max(compressed, 1) * MAX_DEFLATE_RATIO)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data[offset:], cap + 1)
    except zlib.error:
        raise DicomRejected(
            "dicom_invalid", "deflated data set is not a valid deflate stream"
        ) from None
    if len(body) > cap:
        raise DicomRejected(
            "file_too_large",
            f"deflated data set expands beyond {cap} bytes "
            f"(limit {max_bytes} bytes, ratio {MAX_DEFLATE_RATIO}:1)",
        )
    if not inflater.eof:
        raise DicomRejected("dicom_truncated", "deflated data set ends before its deflate stream")
    return body


class _Walker:
    """Walks element headers of a data set; values are skipped, never copied."""

    def __init__(self, buf: bytes, *, implicit: bool, little: bool, max_bytes: int) -> None:
        self.buf = buf
        self.size = len(buf)
        self.implicit = implicit
        self.max_bytes = max_bytes
        prefix = "<" if little else ">"
        self.tag_fmt = struct.Struct(prefix + "HH")
        self.u16 = struct.Struct(prefix + "H")
        self.u32 = struct.Struct(prefix + "I")
        self.count = 0
        self.spans: dict[int, ElementSpan] = {}

    # -- failures -------------------------------------------------------------------
    def _short(self, end: int, what: str) -> DicomRejected:
        if end == self.size:
            return DicomRejected("dicom_truncated", f"file ends inside {what}")
        return DicomRejected("dicom_invalid", f"{what} overruns its enclosing item")

    def _check_length(self, tag: int, length: int, pos: int, end: int) -> None:
        if length <= end - pos:
            return
        if length > self.max_bytes or length >= 0xFFFFFFF0:
            raise DicomRejected(
                "dicom_invalid",
                f"element {_fmt_tag(tag)} declares an absurd length ({length} bytes)",
            )
        raise self._short(end, f"element {_fmt_tag(tag)} ({length} bytes declared)")

    def _header(self, pos: int, end: int) -> tuple[int, int]:
        if pos + 8 > end:
            raise self._short(end, "an element header")
        group, elem = self.tag_fmt.unpack_from(self.buf, pos)
        (length,) = self.u32.unpack_from(self.buf, pos + 4)
        return group << 16 | elem, length

    # -- structure --------------------------------------------------------------------
    def dataset(self, pos: int, end: int, *, depth: int, item_end: bool = False) -> int:
        """Scan elements from ``pos``; stop at ``end`` or, for an undefined-length item,
        at its item delimiter. Returns the position after what was scanned."""
        buf = self.buf
        last = -1
        while pos < end:
            if pos + 8 > end:
                raise self._short(end, "an element header")
            group, elem = self.tag_fmt.unpack_from(buf, pos)
            tag = group << 16 | elem
            if tag == _ITEM_END:
                if not item_end:
                    raise DicomRejected("dicom_invalid", "item delimiter outside an item")
                return pos + 8
            if group == 0xFFFE:
                raise DicomRejected("dicom_invalid", f"unexpected {_fmt_tag(tag)} in a data set")
            if tag <= last:
                raise DicomRejected(
                    "dicom_invalid", f"element {_fmt_tag(tag)} is duplicated or out of order"
                )
            last = tag
            start = pos
            if group == 0x0002:
                raise DicomRejected(
                    "dicom_invalid", f"file meta element {_fmt_tag(tag)} inside the data set"
                )
            self.count += 1
            if self.count > MAX_ELEMENTS:
                raise DicomRejected("dicom_invalid", f"more than {MAX_ELEMENTS} elements")
            if self.implicit:
                (length,) = self.u32.unpack_from(buf, pos + 4)
                vr = b""
                pos += 8
            else:
                vr = buf[pos + 4 : pos + 6]
                if vr not in _VALID_VRS:
                    raise DicomRejected(
                        "dicom_invalid", f"element {_fmt_tag(tag)} has an invalid VR"
                    )
                if vr in _LONG_VRS:
                    if pos + 12 > end:
                        raise self._short(end, "an element header")
                    (length,) = self.u32.unpack_from(buf, pos + 8)
                    pos += 12
                else:
                    (length,) = self.u16.unpack_from(buf, pos + 6)
                    pos += 8
            value = pos
            if length == _UNDEFINED:
                if tag == _PIXEL_DATA and vr in (b"OB", b"OW", b""):
                    pos = self._fragments(pos, end)
                elif self.implicit or vr == b"SQ":
                    pos = self._sequence(pos, end, depth=depth + 1, defined=False)
                elif vr == b"UN":
                    # An undefined-length UN is a sequence encoded implicit VR little
                    # endian (PS3.5 6.2.2), whatever the transfer syntax says.
                    inner = _Walker(buf, implicit=True, little=True, max_bytes=self.max_bytes)
                    inner.count = self.count
                    pos = inner._sequence(pos, end, depth=depth + 1, defined=False)
                    self.count = inner.count
                else:
                    raise DicomRejected(
                        "dicom_invalid",
                        f"element {_fmt_tag(tag)} has an undefined length but is no sequence",
                    )
            else:
                self._check_length(tag, length, pos, end)
                if vr == b"SQ" or (self.implicit and _is_sequence_tag(tag)):
                    self._sequence(pos, pos + length, depth=depth + 1, defined=True)
                pos += length
            if depth == 0:
                self.spans[tag] = ElementSpan(start, value, pos)
        if item_end:
            raise self._short(end, "an item without its delimiter")
        return pos

    def _sequence(self, pos: int, end: int, *, depth: int, defined: bool) -> int:
        if depth > MAX_SEQUENCE_DEPTH:
            raise DicomRejected(
                "dicom_invalid", f"sequences nested deeper than {MAX_SEQUENCE_DEPTH} levels"
            )
        while not defined or pos < end:
            tag, length = self._header(pos, end)
            pos += 8
            if tag == _SEQUENCE_END and not defined:
                return pos
            if tag != _ITEM:
                raise DicomRejected(
                    "dicom_invalid", f"expected an item in a sequence, found {_fmt_tag(tag)}"
                )
            self.count += 1
            if self.count > MAX_ELEMENTS:
                raise DicomRejected("dicom_invalid", f"more than {MAX_ELEMENTS} elements")
            if length == _UNDEFINED:
                pos = self.dataset(pos, end, depth=depth, item_end=True)
            else:
                self._check_length(tag, length, pos, end)
                self.dataset(pos, pos + length, depth=depth)
                pos += length
        return pos

    def _fragments(self, pos: int, end: int) -> int:
        while True:
            tag, length = self._header(pos, end)
            pos += 8
            if tag == _SEQUENCE_END:
                return pos
            if tag != _ITEM or length == _UNDEFINED:
                raise DicomRejected("dicom_invalid", "malformed encapsulated pixel data")
            self.count += 1
            if self.count > MAX_ELEMENTS:
                raise DicomRejected("dicom_invalid", f"more than {MAX_ELEMENTS} fragments")
            self._check_length(tag, length, pos, end)
            pos += length


def _is_sequence_tag(tag: int) -> bool:
    if (tag >> 16) & 1:  # private: the VR is unknown in implicit VR, skip its value
        return False
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False
