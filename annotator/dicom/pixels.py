"""Frame decoding to display-ready values, default windows and PNG previews.

Conventions shared by the three functions:

* Greyscale frames are float32 modality values (Modality LUT or rescale slope and
  intercept applied; Hounsfield units for CT).
* MONOCHROME1 frames are mirrored so that higher always means brighter:
  ``v' = lo + hi - v`` where ``[lo, hi]`` is the modality-value range of the stored
  bits. A window from the file is mirrored the same way (centre ``lo + hi - c``,
  same width), so file windows stay correct on the returned array.
* Colour frames (RGB, YBR_*, PALETTE COLOR) are uint8 RGB of shape (rows, cols, 3);
  they have no window.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array

from annotator.dicom.errors import DicomRejected
from annotator.dicom.reader import number_of_frames

CT_DEFAULT_WINDOW = (40.0, 400.0)
PERCENTILES = (0.5, 99.5)
PNG_COMPRESS_LEVEL = 1
PNG16_SIGNED_OFFSET = 32768
_PERCENTILE_SAMPLES = 65_536


def frame_pixels(ds: Dataset, index: int) -> np.ndarray:
    """Decode frame ``index`` (0-based) of ``ds``; only that frame is decoded.

    Returns float32 (rows, cols) modality values for greyscale (MONOCHROME1 mirrored,
    see module docstring) or uint8 (rows, cols, 3) RGB for colour.
    """
    frames = number_of_frames(ds)
    if not 0 <= index < frames:
        raise IndexError(f"frame {index} outside 0..{frames - 1}")
    photometric = str(ds.PhotometricInterpretation)
    arr = pixel_array(ds, index=index)
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)[..., :3]
        lut_bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        if rgb.dtype != np.uint8 and lut_bits == 16:
            rgb = rgb >> 8
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    if arr.ndim == 3:
        bits = int(ds.BitsStored)
        if bits > 8:
            arr = arr >> (bits - 8)
        return np.ascontiguousarray(arr, dtype=np.uint8)
    values = _modality(arr, ds, index)
    if photometric == "MONOCHROME1":
        lo, hi = modality_range(ds, index)
        np.subtract(lo + hi, values, out=values)
    return values


def rescale_of(ds: Dataset, index: int) -> tuple[float, float]:
    """Rescale slope and intercept: top level, else per-frame, else shared groups."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    for groups, pick in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        seq = ds.get(groups)
        if seq and pick < len(seq):
            for item in seq[pick].get("PixelValueTransformationSequence") or []:
                return (
                    float(item.get("RescaleSlope", 1) or 1),
                    float(item.get("RescaleIntercept", 0) or 0),
                )
    return 1.0, 0.0


def _modality(arr: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    if "ModalityLUTSequence" in ds:
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    slope, intercept = rescale_of(ds, index)
    values = arr.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def modality_range(ds: Dataset, index: int = 0) -> tuple[float, float]:
    """Modality-value range of the stored bits, used to mirror MONOCHROME1."""
    bits = int(ds.BitsStored)
    if int(ds.PixelRepresentation) == 1:
        stored = np.array([-(2 ** (bits - 1)), 2 ** (bits - 1) - 1], dtype=np.int64)
    else:
        stored = np.array([0, 2**bits - 1], dtype=np.int64)
    ends = _modality(stored, ds, index)
    return float(ends.min()), float(ends.max())


def _file_window(ds: Dataset, index: int) -> tuple[float, float] | None:
    sources = [ds]
    for groups, pick in (
        ("SharedFunctionalGroupsSequence", 0),
        ("PerFrameFunctionalGroupsSequence", index),
    ):
        seq = ds.get(groups)
        if seq and pick < len(seq):
            sources.extend(seq[pick].get("FrameVOILUTSequence") or [])
    for source in sources:
        center, width = source.get("WindowCenter"), source.get("WindowWidth")
        if center is None or width is None or center == "" or width == "":
            continue
        try:
            c, w = _first_number(center), _first_number(width)
        except (TypeError, ValueError, IndexError):
            continue
        return c, w
    return None


def _first_number(value: object) -> float:
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0]
    return float(value)  # type: ignore[arg-type]


def default_window(
    ds: Dataset, pixels: np.ndarray, *, index: int = 0
) -> tuple[float, float] | None:
    """(centre, width) to display ``pixels`` (from ``frame_pixels(ds, index)``).

    The file's first WindowCenter/WindowWidth (top level, then functional groups)
    when sane: finite, width > 0, and overlapping the frame's values. MONOCHROME1
    windows are mirrored like the pixels. Otherwise CT gets 40/400 HU and any other
    modality the 0.5th to 99.5th percentile of the frame. None for colour frames.
    """
    if pixels.ndim == 3:
        return None
    lo, hi = float(pixels.min()), float(pixels.max())
    window = _file_window(ds, index)
    if window is not None:
        c, w = window
        if str(ds.PhotometricInterpretation) == "MONOCHROME1":
            r_lo, r_hi = modality_range(ds, index)
            c = r_lo + r_hi - c
        if math.isfinite(c) and math.isfinite(w) and w > 0 and c + w / 2 >= lo and c - w / 2 <= hi:
            return c, w
    if str(ds.get("Modality") or "").upper() == "CT":
        return CT_DEFAULT_WINDOW
    flat = pixels.ravel()
    step = max(1, flat.size // _PERCENTILE_SAMPLES)
    p_lo, p_hi = np.percentile(flat[::step], PERCENTILES)
    width = max(float(p_hi - p_lo), 1.0)
    return float(p_lo + p_hi) / 2, width


def default_windows(ds: Dataset) -> list[tuple[float, float] | None]:
    """``default_window`` of every frame, each decoded once. A frame the decoder fails on
    (pydicom's checks raise ValueError, the Rust codecs panic with a BaseException) is
    ``undecodable_pixel_data``: validation decodes through another path, which some
    corrupt codestreams pass."""
    windows = []
    for index in range(number_of_frames(ds)):
        try:
            pixels = frame_pixels(ds, index)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            raise DicomRejected(
                "undecodable_pixel_data",
                f"frame {index} of the pixel data cannot be decoded ({type(exc).__name__})",
            ) from None
        windows.append(default_window(ds, pixels, index=index))
    return windows


def render_preview(
    pixels: np.ndarray, window: tuple[float, float] | None, *, max_side: int = 512
) -> bytes:
    """An 8-bit PNG (grey or RGB) of a frame, long side at most ``max_side``.

    Greyscale values are mapped linearly through ``window`` (or the frame's min..max
    when None) to 0..255. The PNG carries no text chunks or metadata.
    """
    if pixels.ndim == 3:
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    else:
        image = Image.fromarray(_window_to_uint8(pixels, window))
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def _window_to_uint8(pixels: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    if window is None:
        lo, hi = float(pixels.min()), float(pixels.max())
    else:
        c, w = window
        lo, hi = c - w / 2, c + w / 2
    scale = 255.0 / max(hi - lo, 1e-6)
    values = np.subtract(pixels, np.float32(lo), dtype=np.float32)
    values *= np.float32(scale)
    np.clip(values, 0, 255, out=values)
    out: np.ndarray = values.astype(np.uint8)
    return out


def render_png16(
    ds: Dataset, index: int, window: tuple[float, float] | None
) -> tuple[bytes, dict[str, Any]]:
    """Frame ``index`` as a PNG of 16-bit stored values, and what those values mean.

    Greyscale is kept as stored values (plus ``PNG16_SIGNED_OFFSET`` for signed data),
    MONOCHROME1 mirrored within the stored range so that higher is brighter. The meaning
    holds the rescale slope and intercept (None where a Modality LUT Sequence, not a line,
    maps stored values), the offset and mirroring of the PNG values, the stored range, and
    ``window`` (the default window as stored, in modality values) as DICOM's VOI window,
    before MONOCHROME1's inversion: the stored window of a MONOCHROME1 image, kept mirrored
    for display, is mirrored back. Colour stays 8-bit RGB and means nothing more.
    """
    photometric = str(ds.PhotometricInterpretation)
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        pixels = frame_pixels(ds, index)
        return render_preview(pixels, None, max_side=max(pixels.shape[:2])), {}
    bits = int(ds.BitsStored)
    signed = int(ds.PixelRepresentation) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    inverted = photometric == "MONOCHROME1"
    offset = PNG16_SIGNED_OFFSET if signed else 0
    stored = np.asarray(pixel_array(ds, index=index)).astype(np.int32)
    if inverted:
        stored = low + high - stored
    values = np.clip(stored + offset, 0, 65535).astype(np.uint16)
    slope, intercept = (None, None) if "ModalityLUTSequence" in ds else rescale_of(ds, index)
    voi = None
    if window is not None:
        center, width = window
        if inverted:
            lo, hi = modality_range(ds, index)
            center = lo + hi - center
        voi = [center, width]
    out = io.BytesIO()
    Image.fromarray(values).save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    meaning = {
        "rescale_slope": slope,
        "rescale_intercept": intercept,
        "default_window": voi,
        "png16_offset": offset,
        "png16_inverted": inverted,
        "stored_range": [low, high],
    }
    return out.getvalue(), meaning
