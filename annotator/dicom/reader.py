"""Strict, bounded reading of one uploaded DICOM file."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Protocol

import numpy as np
import pydicom
import pydicom.config
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.tag import BaseTag
from pydicom.uid import UID, AllTransferSyntaxes, UncompressedTransferSyntaxes

from annotator.dicom._scan import MAX_SEQUENCE_DEPTH, ElementSpan, check_uid, scan_part10
from annotator.dicom.errors import DicomRejected

DEFAULT_MAX_BYTES = 512 * 2**20
DEFAULT_MAX_DECODED_BYTES = 2**30
MAX_DIMENSION = 16_384
MAX_FRAME_PIXELS = 2**26
MAX_FRAMES = 65_535

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
PHOTOMETRIC_MONOCHROME = frozenset({"MONOCHROME1", "MONOCHROME2"})
PHOTOMETRIC_COLOUR = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"}
)
#: The Image Pixel module's US attributes that every image carries and ingest checks for
#: consistency; de-identification keeps them (``profile.KEPT_BY_MODULE``).
PIXEL_MODULE_US = (
    "SamplesPerPixel",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
)


class Storage(Protocol):
    """Where stored files are opened by name (Django's ``default_storage``)."""

    def open(self, name: str, mode: str = ...) -> AbstractContextManager[Any]: ...


def open_stored(storage: Storage, name: str) -> Dataset:
    """The data set of a file ingest stored (validated and de-identified then), read in full."""
    with storage.open(name, "rb") as stream:
        return pydicom.dcmread(stream)


@dataclass(frozen=True, eq=False)
class ValidatedFile:
    """A file ``read_validated`` accepted: its data set, its bytes, their transfer syntax,
    and where each top-level element of the data set lies in them (none when the data set is
    deflated), so a writer can reuse the bytes of values it keeps."""

    dataset: Dataset
    data: bytes
    transfer_syntax: UID
    spans: dict[int, ElementSpan]


def read_validated(*, data: bytes, filename: str, **limits: int) -> Dataset:
    """The data set of ``read_validated_file`` (``limits``: its ``max_bytes`` and
    ``max_decoded_bytes``)."""
    return read_validated_file(data=data, filename=filename, **limits).dataset


def read_validated_file(
    *,
    data: bytes,
    filename: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> ValidatedFile:
    """Parse one uploaded file strictly and prove its pixels decode.

    Order of checks (each failure raises ``DicomRejected`` naming the reason):

    1. size against ``max_bytes`` (``file_too_large``);
    2. a byte-level scan of the Part-10 structure before pydicom parses anything:
       ``DICM`` at offset 128, file meta, every declared length against the bytes
       left, nesting depth, deflate ratio (see ``annotator.dicom._scan``);
    3. transfer syntax known and decodable (``unsupported_transfer_syntax``,
       ``no_decoder``);
    4. pydicom parse with warnings promoted to errors and value validation set to
       raise, every element converted so a bad value fails here, not later;
    5. an image SOP class with valid instance UIDs (``unsupported_sop_class``,
       ``invalid_uid``);
    6. the image pixel module checked for consistency before any decode
       (``inconsistent_pixel_module``, ``no_pixel_data``), and the size its pixels decode
       to (Rows x Columns x NumberOfFrames x SamplesPerPixel x bytes per sample) against
       ``max_decoded_bytes`` (``pixel_data_too_large``): a few kilobytes of codestream
       must not make a decoder allocate gigabytes;
    7. every frame of compressed pixel data decoded once (``undecodable_pixel_data``).
       Native (uncompressed) pixel data needs no decoding: its exact length check in
       step 6 is what a decode would prove.

    pydicom's reading settings are process-wide; they are switched to strict only for
    the duration of the parse. Run ingest in worker processes (Celery prefork,
    gunicorn sync workers), not in threads that read DICOM with other settings.
    """
    try:
        return _read_validated(data, max_bytes=max_bytes, max_decoded_bytes=max_decoded_bytes)
    except DicomRejected as exc:
        exc.filename = filename
        raise


def _read_validated(data: bytes, *, max_bytes: int, max_decoded_bytes: int) -> ValidatedFile:
    if len(data) > max_bytes:
        raise DicomRejected(
            "file_too_large", f"file is {len(data)} bytes, the limit is {max_bytes} bytes"
        )
    layout = scan_part10(data, max_bytes=max_bytes)
    ts = UID(layout.transfer_syntax)
    if ts not in AllTransferSyntaxes:
        raise DicomRejected(
            "unsupported_transfer_syntax",
            f"transfer syntax {ts} is not a known DICOM transfer syntax",
        )
    if layout.media_storage_sop_class == MEDIA_STORAGE_DIRECTORY:
        raise DicomRejected(
            "unsupported_sop_class", "DICOMDIR (Media Storage Directory) files are not images"
        )
    if ts not in UncompressedTransferSyntaxes:
        _require_decoder(ts)

    ds = _parse_strict(data)

    _check_sop_class(ds)
    _check_uids(ds)
    if "PixelData" not in ds:
        raise DicomRejected("no_pixel_data", "the file has no Pixel Data (7FE0,0010)")
    _check_pixel_module(ds, ts)
    _check_decoded_size(ds, max_decoded_bytes)
    if ts not in UncompressedTransferSyntaxes:
        _decode_all_frames(ds, ts)
    return ValidatedFile(ds, data, ts, layout.spans)


def _require_decoder(ts: UID) -> None:
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise DicomRejected(
            "no_decoder", f"no pixel data decoder for transfer syntax {ts} ({ts.name})"
        ) from None
    if not decoder.is_available:
        raise DicomRejected(
            "no_decoder",
            f"no installed pixel data decoder for transfer syntax {ts} ({ts.name})",
        )


@contextmanager
def _strict_pydicom() -> Iterator[None]:
    settings = pydicom.config.settings
    previous = settings.reading_validation_mode
    settings.reading_validation_mode = pydicom.config.RAISE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    finally:
        settings.reading_validation_mode = previous


def _parse_strict(data: bytes) -> Dataset:
    with _strict_pydicom():
        try:
            ds = pydicom.dcmread(BytesIO(data), force=False)
        except InvalidDicomError:
            raise DicomRejected("not_dicom_part10", "not a DICOM Part 10 file") from None
        except EOFError:
            raise DicomRejected("dicom_truncated", "file ends before its data set does") from None
        # Untrusted input: whatever the parser raises (ValueError, struct.error,
        # KeyError, promoted warnings, ...) is a malformed file, never a server error.
        # The parser's message may quote values, so only its type is reported.
        except Exception as exc:  # noqa: BLE001
            raise DicomRejected(
                "dicom_invalid", f"data set could not be parsed strictly ({type(exc).__name__})"
            ) from None
        _convert_all(ds, depth=0)
    return ds


def _convert_all(ds: Dataset, *, depth: int) -> None:
    """Turn every raw element into a value now, under strict validation."""
    if depth > MAX_SEQUENCE_DEPTH:
        raise DicomRejected(
            "dicom_invalid", f"sequences nested deeper than {MAX_SEQUENCE_DEPTH} levels"
        )
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]
        # Same reasoning as in _parse_strict: any conversion failure is a bad value.
        except Exception as exc:  # noqa: BLE001
            raise _bad_value(ds, tag, exc) from None
        if elem.VR == "SQ":
            for item in elem.value:
                _convert_all(item, depth=depth + 1)


def _bad_value(ds: Dataset, tag: BaseTag, exc: Exception) -> DicomRejected:
    """Name the element whose value failed validation, never the value itself."""
    raw_vr = getattr(ds.get_item(tag), "VR", None)
    if raw_vr is None and not tag.is_private:
        try:
            raw_vr = dictionary_VR(tag)
        except KeyError:
            raw_vr = None
    detail = f"element {tag} has an invalid value ({type(exc).__name__})"
    if raw_vr == "UI":
        return DicomRejected("invalid_uid", f"element {tag} is not a valid UID")
    if tag.group in (0x0028, 0x7FE0):
        return DicomRejected("inconsistent_pixel_module", detail)
    return DicomRejected("dicom_invalid", detail)


def is_image_sop_class(uid: str) -> bool:
    """Image storage SOP classes named as such in pydicom's UID dictionary.

    Excludes DICOMDIR, structured reports, segmentations, RT objects, presentation
    states, waveforms, encapsulated documents, parametric maps and unknown or
    private SOP classes.
    """
    return "Image Storage" in UID(uid).name


def _check_sop_class(ds: Dataset) -> None:
    if "DirectoryRecordSequence" in ds:
        raise DicomRejected("unsupported_sop_class", "DICOMDIR files are not images")
    sop_class = ds.get("SOPClassUID")
    if not isinstance(sop_class, str) or not sop_class:
        raise DicomRejected("unsupported_sop_class", "the file has no SOP Class UID (0008,0016)")
    check_uid(sop_class, "SOP Class UID")
    if not is_image_sop_class(sop_class):
        name = UID(sop_class).name
        label = sop_class if name == sop_class else f"{sop_class} ({name})"
        raise DicomRejected(
            "unsupported_sop_class", f"SOP class {label} is not an image storage SOP class"
        )


def _check_uids(ds: Dataset) -> None:
    for keyword, required in (
        ("StudyInstanceUID", True),
        ("SeriesInstanceUID", True),
        ("SOPInstanceUID", True),
        ("FrameOfReferenceUID", False),
    ):
        value = ds.get(keyword)
        if value is None or value == "":
            if required:
                raise DicomRejected("invalid_uid", f"the file has no {keyword}")
            continue
        if not isinstance(value, str):
            raise DicomRejected("invalid_uid", f"{keyword} holds more than one value")
        check_uid(value, keyword)


def _us_value(ds: Dataset, keyword: str) -> int:
    elem = ds.data_element(keyword)
    if elem is None or elem.value is None or elem.value == "":
        raise DicomRejected("inconsistent_pixel_module", f"{keyword} is missing")
    if elem.VR != "US" or not isinstance(elem.value, int):
        raise DicomRejected(
            "inconsistent_pixel_module", f"{keyword} must be a single US value (VR {elem.VR})"
        )
    return int(elem.value)


def number_of_frames(ds: Dataset) -> int:
    """NumberOfFrames as an int (1 when absent); validated by ``read_validated``."""
    value = ds.get("NumberOfFrames")
    if value is None or value == "":
        return 1
    return int(value)


def _check_pixel_module(ds: Dataset, ts: UID) -> None:
    def bad(detail: str) -> DicomRejected:
        return DicomRejected("inconsistent_pixel_module", detail)

    v = {keyword: _us_value(ds, keyword) for keyword in PIXEL_MODULE_US}
    rows, cols = v["Rows"], v["Columns"]
    spp, bits_alloc = v["SamplesPerPixel"], v["BitsAllocated"]
    bits_stored, high_bit = v["BitsStored"], v["HighBit"]
    if not (1 <= rows <= MAX_DIMENSION and 1 <= cols <= MAX_DIMENSION):
        raise bad(f"Rows x Columns {rows} x {cols} outside 1..{MAX_DIMENSION}")
    if rows * cols > MAX_FRAME_PIXELS:
        raise bad(f"a frame of {rows} x {cols} pixels exceeds {MAX_FRAME_PIXELS} pixels")
    if bits_alloc not in (1, 8, 16, 32):
        raise bad(f"BitsAllocated {bits_alloc} is not 1, 8, 16 or 32")
    if not 1 <= bits_stored <= bits_alloc:
        raise bad(f"BitsStored {bits_stored} is not within 1..BitsAllocated ({bits_alloc})")
    if high_bit >= bits_alloc or high_bit < bits_stored - 1:
        raise bad(
            f"HighBit {high_bit} inconsistent with BitsStored {bits_stored} "
            f"and BitsAllocated {bits_alloc}"
        )
    if v["PixelRepresentation"] not in (0, 1):
        raise bad(f"PixelRepresentation {v['PixelRepresentation']} is not 0 or 1")

    photometric = ds.get("PhotometricInterpretation")
    if not isinstance(photometric, str) or photometric not in (
        PHOTOMETRIC_MONOCHROME | PHOTOMETRIC_COLOUR
    ):
        raise bad("PhotometricInterpretation missing or not supported")
    expected_spp = 1 if photometric in PHOTOMETRIC_MONOCHROME | {"PALETTE COLOR"} else 3
    if spp != expected_spp:
        raise bad(f"SamplesPerPixel {spp} does not fit PhotometricInterpretation {photometric}")
    if spp == 3 and ds.get("PlanarConfiguration", 0) not in (0, 1):
        raise bad("PlanarConfiguration is not 0 or 1")
    if bits_alloc == 1 and photometric != "MONOCHROME2":
        raise bad("BitsAllocated 1 is only valid for MONOCHROME2")

    raw_frames = ds.get("NumberOfFrames")
    if raw_frames is not None and raw_frames != "":
        if not isinstance(raw_frames, int):
            raise bad("NumberOfFrames holds more than one value")
        if not 1 <= int(raw_frames) <= MAX_FRAMES:
            raise bad(f"NumberOfFrames {int(raw_frames)} outside 1..{MAX_FRAMES}")
    frames = number_of_frames(ds)

    if ds["PixelData"].VR not in ("OB", "OW"):
        raise bad(f"Pixel Data has VR {ds['PixelData'].VR}")
    if ts in UncompressedTransferSyntaxes:
        if photometric == "YBR_FULL_422":
            frame_bits = rows * cols * 2 * bits_alloc
        else:
            frame_bits = rows * cols * spp * bits_alloc
        expected = (frame_bits * frames + 7) // 8
        actual = len(ds.PixelData)
        if actual != expected and not (actual == expected + 1 and expected % 2):
            raise bad(
                f"Pixel Data holds {actual} bytes; Rows x Columns x SamplesPerPixel x "
                f"BitsAllocated x NumberOfFrames gives {expected}"
            )
    if photometric == "PALETTE COLOR":
        _check_palette(ds, bits_alloc)


def decoded_bytes(ds: Dataset) -> int:
    """Bytes the pixel data decodes to (1-bit samples unpack to one byte each)."""
    sample_bytes = (int(ds.BitsAllocated) + 7) // 8
    return (
        int(ds.Rows) * int(ds.Columns) * number_of_frames(ds) * int(ds.SamplesPerPixel)
    ) * sample_bytes


def _check_decoded_size(ds: Dataset, max_decoded_bytes: int) -> None:
    size = decoded_bytes(ds)
    if size > max_decoded_bytes:
        raise DicomRejected(
            "pixel_data_too_large",
            f"the pixel data decodes to {size} bytes (Rows x Columns x NumberOfFrames x "
            f"SamplesPerPixel x bytes per sample), the limit is {max_decoded_bytes} bytes",
        )


def _check_palette(ds: Dataset, bits_alloc: int) -> None:
    def bad(detail: str) -> DicomRejected:
        return DicomRejected("inconsistent_pixel_module", detail)

    descriptors = []
    for colour in ("Red", "Green", "Blue"):
        desc = ds.get(f"{colour}PaletteColorLookupTableDescriptor")
        if desc is None or len(desc) != 3:
            raise bad(f"{colour} palette LUT descriptor missing or malformed")
        descriptors.append(tuple(int(x) for x in desc))
    if len(set(descriptors)) != 1:
        raise bad("palette LUT descriptors differ between channels")
    entries, first_map, lut_bits = descriptors[0]
    entries = entries or 65_536
    if lut_bits not in (8, 16):
        raise bad(f"palette LUT entries of {lut_bits} bits")
    if "RedPaletteColorLookupTableData" in ds:
        for colour in ("Red", "Green", "Blue"):
            lut = ds.get(f"{colour}PaletteColorLookupTableData")
            if lut is None or len(lut) not in (entries, 2 * entries):
                raise bad(f"{colour} palette LUT data length does not match its descriptor")
    elif "SegmentedRedPaletteColorLookupTableData" not in ds:
        raise bad("palette LUT data missing")
    # Map the extreme index values once: this expands segmented LUTs and proves
    # every possible stored value maps inside the table.
    probe_dtype = np.uint8 if bits_alloc == 8 else np.uint16
    info = np.iinfo(probe_dtype)
    probe = np.array([info.min, info.max, max(first_map, 0)], dtype=probe_dtype)
    try:
        mapped = apply_color_lut(probe, ds)
    # pydicom raises ValueError/IndexError/struct.error for inconsistent LUTs.
    except Exception as exc:  # noqa: BLE001
        raise bad(f"palette LUT cannot be applied ({type(exc).__name__})") from None
    if mapped.shape != (3, 3):
        raise bad("palette LUT does not map to RGB")


def _decode_all_frames(ds: Dataset, ts: UID) -> None:
    rows, cols = int(ds.Rows), int(ds.Columns)
    spp = int(ds.SamplesPerPixel)
    expected_shape = (rows, cols) if spp == 1 else (rows, cols, spp)
    decoder = get_decoder(ts)
    count = 0
    try:
        for arr, _ in decoder.iter_array(ds, as_rgb=False):
            if arr.shape != expected_shape:
                raise DicomRejected(
                    "undecodable_pixel_data",
                    f"frame {count} decodes to shape {arr.shape}, expected {expected_shape}",
                )
            count += 1
    except (DicomRejected, KeyboardInterrupt, SystemExit):
        raise
    # Decoder plugins raise a variety of exceptions (RuntimeError from the codec,
    # ValueError from pydicom's checks, and the Rust codecs' PanicException, which is a
    # BaseException); all mean the codestream is unusable.
    except BaseException as exc:  # noqa: BLE001
        raise DicomRejected(
            "undecodable_pixel_data",
            f"frame {count} of {ts.name} pixel data cannot be decoded ({type(exc).__name__})",
        ) from None
    if count != number_of_frames(ds):
        raise DicomRejected(
            "undecodable_pixel_data",
            f"{count} frames decoded, NumberOfFrames says {number_of_frames(ds)}",
        )
