"""read_validated: real files validate or fail with the right code; crafted ones fail fast."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import DataElement

from annotator.dicom import (
    STATUS_BY_CODE,
    DicomRejected,
    dataset_to_bytes,
    default_window,
    deidentify,
    frame_pixels,
    open_stored,
    read_validated,
    reader,
    render_preview,
)
from annotator.dicom.reader import number_of_frames
from tests.annotator.dicom import crafted
from tests.annotator.dicom.corpus import corpus_files, pydicom_test_files_dir, read_bytes

SECRET = b"test-project-secret"

# Real files that ingest refuses, and why. Every other *.dcm in both wheels must validate.
EXPECTED_REJECTIONS = {
    # no 'DICM' / no file meta (raw data sets)
    "OT-PAL-8-face.dcm": "not_dicom_part10",
    "ExplVR_BigEndNoMeta.dcm": "not_dicom_part10",
    "ExplVR_LitEndNoMeta.dcm": "not_dicom_part10",
    "no_meta.dcm": "not_dicom_part10",
    "rtstruct.dcm": "not_dicom_part10",
    # structure
    "emri_small_jpeg_2k_lossless_too_short.dcm": "dicom_truncated",
    "MR_truncated.dcm": "dicom_truncated",
    "rtplan_truncated.dcm": "dicom_truncated",
    "SC_rgb_jpeg.dcm": "dicom_invalid",  # says explicit VR, is implicit VR
    "bad_sequence.dcm": "invalid_uid",  # a 64-hex-digit "UID"
    "badVR.dcm": "inconsistent_pixel_module",  # NumberOfFrames '1A'
    "meta_missing_tsyntax.dcm": "unsupported_transfer_syntax",
    # pixel data
    "MR_small_padded.dcm": "inconsistent_pixel_module",  # 128 bytes beyond the frame
    "JPEG-lossy.dcm": "undecodable_pixel_data",  # 12-bit lossy JPEG with a bad scan
    "JPEG2000-embedded-sequence-delimiter.dcm": "undecodable_pixel_data",
    # missing instance UIDs
    "JPEGLSNearLossless_08.dcm": "invalid_uid",
    "JPEGLSNearLossless_16.dcm": "invalid_uid",
    "SC_rgb_jls_lossy_line.dcm": "invalid_uid",
    "SC_rgb_jls_lossy_sample.dcm": "invalid_uid",
    # not images
    "liver.dcm": "unsupported_sop_class",
    "liver_expb.dcm": "unsupported_sop_class",
    "liver_1frame.dcm": "unsupported_sop_class",
    "liver_expb_1frame.dcm": "unsupported_sop_class",
    "reportsi.dcm": "unsupported_sop_class",
    "reportsi_with_empty_number_tags.dcm": "unsupported_sop_class",
    "test-SR.dcm": "unsupported_sop_class",
    "rtplan.dcm": "unsupported_sop_class",
    "waveform_ecg.dcm": "unsupported_sop_class",
    "UN_sequence.dcm": "unsupported_sop_class",
    "empty_charset_LEI.dcm": "unsupported_sop_class",
    "nested_priv_SQ.dcm": "unsupported_sop_class",
    "no_meta_group_length.dcm": "unsupported_sop_class",
    "priv_SQ.dcm": "unsupported_sop_class",
    # RT Dose: a UID component with a leading zero fails strict validation first
    "rtdose.dcm": "invalid_uid",
    "rtdose_1frame.dcm": "invalid_uid",
    "rtdose_expb.dcm": "invalid_uid",
    "rtdose_expb_1frame.dcm": "invalid_uid",
    "rtdose_rle.dcm": "invalid_uid",
    "rtdose_rle_1frame.dcm": "invalid_uid",
}


def reject(data: bytes, **kwargs) -> DicomRejected:
    with pytest.raises(DicomRejected) as info:
        read_validated(data=data, filename="upload.dcm", **kwargs)
    exc = info.value
    assert exc.status == STATUS_BY_CODE[exc.code]
    assert exc.filename == "upload.dcm"
    assert exc.detail
    return exc


def reject_fast(data: bytes, **kwargs) -> DicomRejected:
    """``reject``, and the refusal comes within two seconds."""
    start = time.perf_counter()
    exc = reject(data, **kwargs)
    assert time.perf_counter() - start < 2.0
    return exc


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_file_validates_or_is_rejected_with_its_code(path: Path):
    data = path.read_bytes()
    expected = EXPECTED_REJECTIONS.get(path.name)
    if expected is not None:
        assert reject(data).code == expected
        return
    ds = read_validated(data=data, filename=path.name)
    frames = number_of_frames(ds)
    for index in sorted({0, frames - 1}):
        pixels = frame_pixels(ds, index)
        assert pixels.shape[:2] == (ds.Rows, ds.Columns)
        window = default_window(ds, pixels, index=index)
        assert render_preview(pixels, window).startswith(b"\x89PNG")
    result = deidentify(ds, project_secret=SECRET)
    stored = dataset_to_bytes(result.dataset)
    again = read_validated(data=stored, filename="stored.dcm")
    assert again.PixelData == ds.PixelData
    assert again.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID


def test_every_expected_rejection_names_a_real_file():
    names = {p.name for p in corpus_files()}
    assert set(EXPECTED_REJECTIONS) <= names


NON_DICOM = {
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 400,
    "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>" * 4,
    "pdf": b"%PDF-1.7\n" + b"0" * 300,
    "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 300,
    "empty": b"",
    "short": b"DICM",
    "dicm_at_0": b"DICM" + b"\x00" * 300,
}


@pytest.mark.parametrize("kind", sorted(NON_DICOM))
def test_non_dicom_bytes_named_dcm_are_not_part10(kind):
    assert reject(NON_DICOM[kind]).code == "not_dicom_part10"


def test_own_executable_is_not_part10():
    import sys

    assert reject(Path(sys.executable).read_bytes()[:4096]).code == "not_dicom_part10"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in pydicom_test_files_dir().iterdir() if p.is_file() and p.suffix != ".dcm"),
    ids=lambda p: p.name,
)
def test_other_files_in_pydicom_test_folder_are_not_part10(path):
    assert reject(path.read_bytes()).code == "not_dicom_part10"


@pytest.mark.parametrize(
    "path",
    sorted((pydicom_test_files_dir() / "dicomdirtests").rglob("DICOMDIR")),
    ids=lambda p: str(p.relative_to(pydicom_test_files_dir())),
)
def test_dicomdir_is_not_an_image(path):
    assert reject(path.read_bytes()).code == "unsupported_sop_class"


def test_polyglot_preamble_is_accepted_and_zeroed_when_stored():
    data = b"MZ\x90\x00" + b"\xcc" * 124 + read_bytes(crafted.CT)[128:]
    ds = read_validated(data=data, filename="x.dcm")
    stored = dataset_to_bytes(deidentify(ds, project_secret=SECRET).dataset)
    assert stored[:128] == b"\x00" * 128


def test_file_too_large():
    data = read_bytes(crafted.CT)
    assert reject(data, max_bytes=len(data) - 1).code == "file_too_large"


# -- truncation --------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_ct(fraction):
    data = read_bytes(crafted.CT)
    assert reject(data[: int(len(data) * fraction)]).code == "dicom_truncated"


def test_truncated_mid_tag():
    data = read_bytes(crafted.CT)
    pos = crafted.find_element(data, 0x0020, 0x000D, start=crafted.body_offset(data))
    assert reject(data[: pos + 3]).code == "dicom_truncated"
    assert reject(data[: pos + 7]).code == "dicom_truncated"


def test_truncated_inside_file_meta():
    data = read_bytes(crafted.CT)
    assert reject(data[:140]).code == "dicom_truncated"


def test_truncated_inside_pixel_data():
    data = read_bytes(crafted.CT)
    pos = crafted.find_element(data, 0x7FE0, 0x0010, start=crafted.body_offset(data))
    assert reject(data[: pos + 12 + 1000]).code == "dicom_truncated"


def test_truncated_inside_sequence_without_delimiter():
    data = crafted.nested_sequences(3)
    seq_end = data.index(b"\xfe\xff\xdd\xe0")
    assert reject(data[:seq_end]).code == "dicom_truncated"


def test_every_cut_of_the_header_is_rejected_with_a_code():
    data = read_bytes(crafted.CT)
    pixel = crafted.find_element(data, 0x7FE0, 0x0010, start=crafted.body_offset(data))
    codes = {reject(data[:cut]).code for cut in range(0, pixel + 16, 3)}
    # Cuts inside an element are truncations; cuts between elements leave a data set
    # without its SOP class, UIDs or pixel data.
    assert "dicom_truncated" in codes
    assert codes <= {
        "not_dicom_part10",
        "dicom_truncated",
        "dicom_invalid",
        "invalid_uid",
        "unsupported_sop_class",
        "no_pixel_data",
    }, codes


# -- absurd lengths and corrupt meta -----------------------------------------------


def test_lo_element_declaring_0xfffffff0_bytes_fails_fast():
    data = crafted.set_implicit_length(read_bytes(crafted.IMPLICIT_MR), 0x0010, 0x0020, 0xFFFFFFF0)
    exc = reject_fast(data)
    assert exc.code == "dicom_invalid"
    assert "absurd length" in exc.detail


def test_pixel_data_declaring_0xfffffff0_bytes_fails_fast():
    data = bytearray(read_bytes(crafted.CT))
    pos = crafted.find_element(bytes(data), 0x7FE0, 0x0010, start=crafted.body_offset(bytes(data)))
    data[pos + 8 : pos + 12] = (0xFFFFFFF0).to_bytes(4, "little")
    assert reject_fast(bytes(data)).code == "dicom_invalid"


def test_bad_vr_in_file_meta():
    data = crafted.replace_meta_vr(read_bytes(crafted.CT), 0x0010, b"ZZ")
    assert reject(data).code == "dicom_invalid"


def test_wrong_but_valid_vr_in_file_meta():
    data = crafted.replace_meta_vr(read_bytes(crafted.CT), 0x0010, b"LO")
    assert reject(data).code == "dicom_invalid"


def test_duplicate_file_meta_element():
    data = crafted.duplicate_meta_element(read_bytes(crafted.CT), 0x0010)
    assert reject(data).code == "dicom_invalid"


def test_sequences_nested_ten_thousand_deep_fail_fast():
    data = crafted.nested_sequences(10_000)
    exc = reject_fast(data)
    assert exc.code == "dicom_invalid"
    assert "nested deeper" in exc.detail


def test_shallow_nested_sequences_are_fine():
    read_validated(data=crafted.nested_sequences(5), filename="x.dcm")


# -- pixel module ---------------------------------------------------------------------


def _modified(**changes) -> bytes:
    ds = crafted.load()
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return crafted.encode(ds)


def test_wrong_pixel_data_length():
    ds = crafted.load()
    ds.PixelData = ds.PixelData[:-2]
    exc = reject(crafted.encode(ds))
    assert exc.code == "inconsistent_pixel_module"
    assert "Pixel Data holds" in exc.detail


@pytest.mark.parametrize(
    "changes",
    [
        {"HighBit": 16},
        {"HighBit": 40},
        {"BitsStored": 17},
        {"Rows": 0},
        {"Columns": 0},
        {"Rows": 65_535, "Columns": 65_535},
        {"NumberOfFrames": 0},
        {"NumberOfFrames": 2**31 - 1},
        {"NumberOfFrames": 2**31},
        {"BitsAllocated": 12},
        {"SamplesPerPixel": 3},
        {"PixelRepresentation": 2},
        {"PhotometricInterpretation": "HSV"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_inconsistent_pixel_module(changes):
    assert reject(_modified(**changes)).code == "inconsistent_pixel_module"


def test_rows_encoded_as_ul():
    ds = crafted.load()
    ds["Rows"] = DataElement(0x00280010, "UL", 512)
    exc = reject(crafted.encode(ds))
    assert exc.code == "inconsistent_pixel_module"
    assert "Rows" in exc.detail


def test_missing_pixel_data():
    ds = crafted.load()
    del ds.PixelData
    assert reject(crafted.encode(ds)).code == "no_pixel_data"


def test_palette_lut_shorter_than_its_descriptor():
    ds = pydicom.dcmread(crafted.BytesIO(read_bytes("OBXXXX1A.dcm")))
    ds.RedPaletteColorLookupTableData = ds.RedPaletteColorLookupTableData[:100]
    assert reject(crafted.encode(ds)).code == "inconsistent_pixel_module"


def test_palette_descriptor_with_odd_bit_depth():
    ds = pydicom.dcmread(crafted.BytesIO(read_bytes("OBXXXX1A.dcm")))
    entries, first, _ = ds.RedPaletteColorLookupTableDescriptor
    for colour in ("Red", "Green", "Blue"):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [entries, first, 12])
    assert reject(crafted.encode(ds)).code == "inconsistent_pixel_module"


def test_corrupt_codestream_is_rejected_at_ingest():
    ds = pydicom.dcmread(crafted.BytesIO(read_bytes("693_J2KR.dcm")))
    frame = bytearray(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1).__next__())
    frame[len(frame) // 3 : len(frame) // 3 + 64] = b"\xff" * 64
    ds.PixelData = pydicom.encaps.encapsulate([bytes(frame[: len(frame) // 2])])
    exc = reject(crafted.encode(ds))
    assert exc.code == "undecodable_pixel_data"


def test_a_codec_bomb_is_refused_before_any_decoding(monkeypatch):
    """A few bytes of codestream that claim 65 535 frames of 16 384 x 4 096 pixels."""

    def never(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(reader, "_decode_all_frames", never)
    ds = pydicom.dcmread(crafted.BytesIO(read_bytes("693_J2KR.dcm")))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16_384, 4_096, 65_535
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" * 4] * 2)
    exc = reject(crafted.encode(ds))
    assert (exc.code, exc.status) == ("pixel_data_too_large", 413)
    assert str(16_384 * 4_096 * 65_535 * 2) in exc.detail


def test_decoded_size_limit_counts_every_frame_and_sample():
    data = read_bytes("emri_small_RLE.dcm")  # 10 frames of 64 x 64, 16 bits
    size = 64 * 64 * 10 * 2
    read_validated(data=data, filename="mr.dcm", max_decoded_bytes=size)
    with pytest.raises(DicomRejected) as refused:
        read_validated(data=data, filename="mr.dcm", max_decoded_bytes=size - 1)
    assert refused.value.code == "pixel_data_too_large"


def test_missing_frames_in_encapsulated_pixel_data():
    ds = pydicom.dcmread(crafted.BytesIO(read_bytes("emri_small_RLE.dcm")))
    frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=10))
    ds.PixelData = pydicom.encaps.encapsulate(frames[:9])
    assert reject(crafted.encode(ds)).code == "undecodable_pixel_data"


# -- transfer syntax and UIDs ---------------------------------------------------------


def test_unknown_transfer_syntax():
    data = crafted.with_transfer_syntax(read_bytes(crafted.CT), "1.2.3")
    exc = reject(data)
    assert exc.code == "unsupported_transfer_syntax"
    assert "1.2.3" in exc.detail


@pytest.mark.parametrize("ts", ["1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.92"])
def test_known_transfer_syntax_without_decoder(ts):
    exc = reject(crafted.with_transfer_syntax(read_bytes(crafted.CT), ts))
    assert exc.code == "no_decoder"
    assert ts in exc.detail


@pytest.mark.parametrize(
    "keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"]
)
@pytest.mark.parametrize("value", ["../../x", "1.2/3", "1.2.3.", "1" * 65, "1.2.a"])
def test_invalid_instance_uid(keyword, value):
    exc = reject(_modified(**{keyword: value}))
    assert exc.code == "invalid_uid"
    assert value not in exc.detail


def test_invalid_media_storage_uid_in_file_meta():
    data = crafted.with_meta(read_bytes(crafted.CT), sop_instance="../../x")
    assert reject(data).code == "invalid_uid"


def test_detail_never_quotes_values():
    # InstanceNumber (IS) whose value is letters, not a number.
    data = crafted.overwrite_value(read_bytes(crafted.CT), 0x0020, 0x0013, b"Q")
    exc = reject(data)
    assert exc.code == "dicom_invalid"
    assert "(0020,0013)" in exc.detail
    assert "Q" not in exc.detail


def test_deflated_data_set_that_inflates_past_the_limit():
    ds = crafted.load()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    ds.add_new(0x00091010, "LO", "ZZVENDOR")
    ds.add_new(0x00091011, "OB", b"\x00" * 4_000_000)
    data = crafted.encode(ds)
    assert len(data) < 1_000_000
    assert reject_fast(data, max_bytes=2_000_000).code == "file_too_large"


def test_deflated_file_validates():
    ds = read_validated(data=read_bytes("image_dfl.dcm"), filename="x.dcm")
    assert frame_pixels(ds, 0).shape == (ds.Rows, ds.Columns)


class _Storage:
    """A storage of named bytes that records what was opened and whether it was closed."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.opened: list[tuple[str, str]] = []
        self.streams: list[io.BytesIO] = []

    def open(self, name: str, mode: str = "rb") -> io.BytesIO:
        self.opened.append((name, mode))
        self.streams.append(io.BytesIO(self.files[name]))
        return self.streams[-1]


def test_open_stored_reads_the_stored_file_in_full_and_closes_it():
    data = read_bytes("CT_small.dcm")
    stored = dataset_to_bytes(
        deidentify(read_validated(data=data, filename="ct.dcm"), project_secret=SECRET).dataset
    )
    storage = _Storage({"projects/1/a.dcm": stored})
    ds = open_stored(storage, "projects/1/a.dcm")
    assert storage.opened == [("projects/1/a.dcm", "rb")]
    assert storage.streams[0].closed, "the stored file is closed once read"
    assert ds.SOPInstanceUID == pydicom.dcmread(io.BytesIO(stored)).SOPInstanceUID
    assert frame_pixels(ds, 0).shape == (128, 128), "the pixels were read before it closed"
