"""Serialising a (de-identified) data set for storage."""

from __future__ import annotations

import re
import struct
from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from annotator.dicom._scan import ElementSpan, scan_part10
from annotator.dicom.reader import ValidatedFile

PREAMBLE = b"\x00" * 128
SPECIFIC_CHARACTER_SET = 0x00080005
_BYTES_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW"})
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_NUMBER_FORMATS |= {"SV": "q", "UV": "Q"}
_TEXT_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())
_PRINTABLE_ASCII = re.compile(rb"[\x20-\x7e]*")


def dataset_to_bytes(ds: Dataset, *, source: ValidatedFile | None = None) -> bytes:
    """Encode ``ds`` as a Part-10 file: zeroed preamble, ``DICM``, file meta, data set.

    The 128-byte preamble is always written as zeros, whatever ``ds.preamble`` holds,
    so a stored file can never be a polyglot (PE/ELF header or JSON in the preamble).
    The data set is encoded in the transfer syntax its file meta names; pixel data is
    written as it is (no re-encoding). ``ds`` itself is left unchanged.

    With ``source``, the file ``ds`` was made from (de-identification keeps most elements as
    they are), a top-level element whose bytes there hold exactly its value and nothing
    else is copied from them instead of being encoded again (``_verbatim``); the others are
    encoded as without ``source``. The file decodes to the same data set either way.
    """
    if (
        source is None
        or not source.spans
        or ds.file_meta.TransferSyntaxUID != source.transfer_syntax
    ):
        return _encoded(ds)
    copied = {
        elem.tag: span
        for elem in ds
        if (span := source.spans.get(elem.tag)) is not None
        and elem.tag != SPECIFIC_CHARACTER_SET  # the encoded elements' text needs it
        and _verbatim(elem, span, source)
    }
    rest = Dataset()
    for elem in ds:
        if elem.tag not in copied:
            if " or " in elem.VR:  # resolving it needs elements that may be copied
                return _encoded(ds)
            rest.add(elem)
    rest.file_meta, rest.preamble = ds.file_meta, PREAMBLE
    encoded = _encoded(rest)
    layout = scan_part10(encoded, max_bytes=len(encoded))
    data = memoryview(source.data)
    pieces: list[tuple[int, bytes | memoryview]] = [
        (tag, encoded[span.start : span.end]) for tag, span in layout.spans.items()
    ]
    pieces += [(tag, data[span.start : span.end]) for tag, span in copied.items()]
    pieces.sort(key=lambda piece: piece[0])
    return b"".join([encoded[: layout.body_offset], *(piece for _, piece in pieces)])


def _verbatim(elem: DataElement, span: ElementSpan, source: ValidatedFile) -> bool:
    """Whether the source bytes of ``span`` are ``elem``'s header and exactly its value:
    the same VR, and for bytes the same bytes, for numbers the same numbers, for text the
    same printable ASCII text (only trailing padding besides). Anything else, sequences
    included, is encoded again, so no byte of the source that the value does not hold (a
    name after a NUL, say) is ever copied."""
    vr, value = elem.VR, elem.value
    if not source.transfer_syntax.is_implicit_VR:
        if source.data[span.start + 4 : span.start + 6] != vr.encode("ascii"):
            return False
    raw = source.data[span.value : span.end]
    if vr in _BYTES_VRS:
        return isinstance(value, bytes) and raw == value
    values = list(value) if isinstance(value, MultiValue | list) else [value]
    if value is None or value == "":
        values = []
    number = _NUMBER_FORMATS.get(vr)
    if number is not None:
        count, left = divmod(len(raw), struct.calcsize(number))
        order = "<" if source.transfer_syntax.is_little_endian else ">"
        return not left and list(struct.unpack(f"{order}{count}{number}", raw)) == values
    if vr not in _TEXT_VRS:
        return False
    text = raw.rstrip(b" \x00")
    return _PRINTABLE_ASCII.fullmatch(text) is not None and text.decode("ascii") == "\\".join(
        str(v) for v in values
    )


def _encoded(ds: Dataset) -> bytes:
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
