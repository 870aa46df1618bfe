"""frame_pixels, default_window and render_preview on real files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.pixels import pixel_array

from annotator.dicom import default_window, frame_pixels, read_validated, render_preview
from annotator.dicom.pixels import CT_DEFAULT_WINDOW, modality_range
from tests.annotator.dicom.corpus import read_bytes


def load(name: str):
    return read_validated(data=read_bytes(name), filename=name)


def decode_png(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_ct_is_in_hounsfield_units():
    ds = load("693_UNCI.dcm")
    pixels = frame_pixels(ds, 0)
    assert pixels.dtype == np.float32 and pixels.shape == (512, 512)
    air = pixels[(pixels > -1200) & (pixels < -800)]
    assert air.size > 5_000
    assert abs(float(np.median(air)) + 1000) < 50
    raw = pixel_array(ds)
    np.testing.assert_allclose(pixels, raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept))


def test_monochrome1_is_mirrored_so_higher_is_brighter():
    ds = load("RG1_UNCI.dcm")
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    pixels = frame_pixels(ds, 0)
    raw = pixel_array(ds).astype(np.float32)
    lo, hi = modality_range(ds)
    assert (lo, hi) == (0.0, 2.0**ds.BitsStored - 1)
    np.testing.assert_array_equal(pixels, lo + hi - raw)


def test_monochrome1_file_window_is_mirrored_with_the_pixels():
    ds = load("RG1_UNCI.dcm")
    pixels = frame_pixels(ds, 0)
    center, width = default_window(ds, pixels)
    lo, hi = modality_range(ds)
    assert center == lo + hi - float(ds.WindowCenter)
    assert width == float(ds.WindowWidth)


def test_jpeg2000_monochrome1_matches_uncompressed():
    lossless = frame_pixels(load("RG1_J2KR.dcm"), 0)
    native = frame_pixels(load("RG1_UNCR.dcm"), 0)
    np.testing.assert_array_equal(lossless, native)


def test_palette_color_becomes_uint8_rgb():
    ds = load("OBXXXX1A.dcm")
    pixels = frame_pixels(ds, 0)
    assert pixels.dtype == np.uint8 and pixels.shape == (ds.Rows, ds.Columns, 3)
    assert default_window(ds, pixels) is None


def test_sixteen_bit_palette_scales_to_eight_bits():
    ds = load("gdcm-US-ALOKA-16.dcm")
    pixels = frame_pixels(ds, 0)
    assert pixels.dtype == np.uint8 and pixels.shape[2] == 3
    assert pixels.max() > 128


def test_ybr_becomes_rgb():
    rgb = frame_pixels(load("SC_rgb.dcm"), 0)
    ybr = frame_pixels(load("SC_ybr_full_uncompressed.dcm"), 0)
    assert ybr.dtype == np.uint8 and ybr.shape == rgb.shape
    assert np.abs(rgb.astype(int) - ybr.astype(int)).mean() < 3


def test_sixteen_bit_rgb_scales_to_eight_bits():
    pixels = frame_pixels(load("SC_rgb_16bit.dcm"), 0)
    reference = frame_pixels(load("SC_rgb.dcm"), 0)
    assert pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - reference.astype(int)).max() <= 1


def test_only_the_requested_frame_is_decoded_and_frames_differ():
    ds = load("emri_small_RLE.dcm")
    frames = [frame_pixels(ds, i) for i in (0, 9)]
    assert all(f.shape == (64, 64) for f in frames)
    assert not np.array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frame_pixels(ds, 9), pixel_array(ds, index=9).astype(np.float32))


@pytest.mark.parametrize("index", [-1, 10])
def test_frame_index_out_of_range(index):
    with pytest.raises(IndexError):
        frame_pixels(load("emri_small_RLE.dcm"), index)


def test_window_from_file_when_sane():
    ds = load("693_UNCI.dcm")
    assert default_window(ds, frame_pixels(ds, 0)) == (40.0, 100.0)


def test_ct_without_window_gets_soft_tissue_default():
    ds = load("693_UNCI.dcm")
    del ds.WindowCenter
    del ds.WindowWidth
    assert default_window(ds, frame_pixels(ds, 0)) == CT_DEFAULT_WINDOW


def test_insane_file_window_falls_back():
    ds = load("693_UNCI.dcm")
    ds.WindowWidth = 0
    assert default_window(ds, frame_pixels(ds, 0)) == CT_DEFAULT_WINDOW
    ds.WindowWidth = 100
    ds.WindowCenter = 1e7  # nowhere near the frame's values
    assert default_window(ds, frame_pixels(ds, 0)) == CT_DEFAULT_WINDOW


def test_mr_without_window_uses_percentiles():
    ds = load("MR_small.dcm")
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    pixels = frame_pixels(ds, 0)
    center, width = default_window(ds, pixels)
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    assert center == pytest.approx((lo + hi) / 2, rel=0.05)
    assert width == pytest.approx(hi - lo, rel=0.05)


def test_enhanced_ct_window_from_functional_groups():
    ds = load("eCT_Supplemental.dcm")
    pixels = frame_pixels(ds, 1)
    assert default_window(ds, pixels, index=1) is not None


@pytest.mark.parametrize(
    ("name", "size", "mode"),
    [
        ("693_UNCI.dcm", (512, 512), "L"),
        ("MR2_UNCI.dcm", (512, 512), "L"),
        ("RG1_UNCI.dcm", (482, 512), "L"),  # 1841 x 1955, long side to 512
        ("OBXXXX1A.dcm", (512, 384), "RGB"),
        ("emri_small.dcm", (64, 64), "L"),
    ],
)
def test_preview_png_decodes_at_the_expected_size(name, size, mode):
    ds = load(name)
    pixels = frame_pixels(ds, 0)
    image = decode_png(render_preview(pixels, default_window(ds, pixels)))
    assert image.format == "PNG"
    assert image.size == size
    assert image.mode == mode
    assert not image.info.get("text") and "exif" not in image.info


def test_preview_max_side():
    ds = load("693_UNCI.dcm")
    pixels = frame_pixels(ds, 0)
    assert decode_png(render_preview(pixels, None, max_side=128)).size == (128, 128)


def test_preview_applies_the_window():
    pixels = np.array([[-1000.0, 0.0, 40.0, 1000.0]], dtype=np.float32)
    image = decode_png(render_preview(pixels, (40.0, 400.0)))
    assert list(np.asarray(image)[0]) == [0, 102, 127, 255]
