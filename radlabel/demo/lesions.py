"""Synthetic lesions with exactly known masks on real CT slices: the demo's data (and the tests').

Base slices are the real CT images shipped in the ``pydicom-data`` wheel (head, neck/chest and
abdomen, 512²) and pydicom's own ``CT_small.dcm`` (chest, upsampled from 128²). Lesions are
ellipses with soft edges placed inside the body (largest connected tissue region, holes filled),
away from bone and from each other:

- ``nodule_solid``: blended towards a soft-tissue value (+20..+80 HU), at least 200 HU above
  the background (so it is also visible on soft tissue), sharp edge;
- ``nodule_ggo``: blended towards −650..−450 HU, at least 100 HU above the background, mottled,
  wide soft edge.

The lesion is blurred (scanner point-spread) and scanner-like noise, measured on the slice, is
added inside it. The mask is the ellipse interior. Everything is deterministic given the seed.
NumPy only: the web side seeds the demo with it, and torch loads only in the worker.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pydicom

CLASS_NAMES = ["nodule_solid", "nodule_ggo"]
SOLID, GGO = 1, 2
DEMO_WINDOW = (-300.0, 1400.0)  # level, width: air to dense bone, shows both classes

_DATA_STORE_CT = ("693_J2KR.dcm", "693_UNCI.dcm", "bad_sequence.dcm", "explicit_VR-UN.dcm")


@dataclass
class SyntheticSlice:
    hu: np.ndarray  # float32 (H, W) Hounsfield units with the lesions
    masks: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N,), SOLID or GGO


def ct_paths() -> list[Path]:
    """The real CT files available locally (pydicom-data and pydicom's test files)."""
    paths = []
    spec = importlib.util.find_spec("data_store")
    if spec is not None and spec.submodule_search_locations:
        root = Path(spec.submodule_search_locations[0]) / "data"
        paths += [root / name for name in _DATA_STORE_CT if (root / name).exists()]
    pyd = importlib.util.find_spec("pydicom")
    if pyd is not None and pyd.submodule_search_locations:
        small = Path(pyd.submodule_search_locations[0]) / "data" / "test_files" / "CT_small.dcm"
        if small.exists():
            paths.append(small)
    return paths


def _rescale(ds: pydicom.Dataset) -> tuple[float, float]:
    if "RescaleSlope" in ds:
        return float(ds.RescaleSlope), float(ds.RescaleIntercept)
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and "PixelValueTransformationSequence" in shared[0]:
        item = shared[0].PixelValueTransformationSequence[0]
        return float(item.RescaleSlope), float(item.RescaleIntercept)
    return 1.0, 0.0


def load_ct_hu(path: Path, size: int = 512) -> list[np.ndarray]:
    """Every frame of a CT file in HU as float32 (size, size), resampled when needed."""
    ds = pydicom.dcmread(path)
    slope, intercept = _rescale(ds)
    frames = ds.pixel_array.astype(np.float32)
    frames = frames.reshape(-1, *frames.shape[-2:]) * slope + intercept
    out = []
    for frame in frames:
        frame = np.maximum(frame, -1024.0)
        if frame.shape != (size, size):
            frame = _bilinear(frame, size)
        out.append(np.ascontiguousarray(frame, dtype=np.float32))
    return out


def _bilinear(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` resampled to (size, size) by bilinear interpolation between pixel centres
    (half-pixel offsets, edges clamped; no antialiasing), in float32."""
    (y0, y1, wy), (x0, x1, wx) = (_taps(n, size) for n in frame.shape)
    rows = frame[y0] * (1 - wy)[:, None] + frame[y1] * wy[:, None]
    resampled: np.ndarray = rows[:, x0] * (1 - wx) + rows[:, x1] * wx
    return resampled


def _taps(length: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``size`` output positions: the two input indexes and the second's weight."""
    scale = np.float32(length / size)
    source = np.maximum((np.arange(size, dtype=np.float32) + 0.5) * scale - 0.5, 0)
    first = np.floor(source).astype(np.int64)
    second = np.minimum(first + 1, length - 1)
    weight = np.clip(source - first, 0, 1).astype(np.float32)
    return first, second, weight


@cache
def base_slices(size: int = 512) -> tuple[np.ndarray, ...]:
    return tuple(f for p in ct_paths() for f in load_ct_hu(p, size))


def window(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    lo = level - width / 2
    return np.clip((hu - lo) / width, 0.0, 1.0).astype(np.float32)


def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur out to 3 sigma, edges replicated, in float32."""
    radius = max(1, math.ceil(3 * sigma))
    k = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(k**2) / np.float32(2 * sigma**2))
    k = k / k.sum()
    rows = _correlate_rows(np.ascontiguousarray(x, dtype=np.float32), k)
    return _correlate_rows(rows.T, k).T


def _correlate_rows(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``kernel`` (odd length) slid along each row of ``x``, the edge pixels repeated."""
    radius, width = len(kernel) // 2, x.shape[1]
    padded = np.pad(x, ((0, 0), (radius, radius)), mode="edge")
    out: np.ndarray = kernel[0] * padded[:, :width]
    for j in range(1, len(kernel)):
        out = out + kernel[j] * padded[:, j : j + width]
    return out


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erosion by a square; outside the image counts as outside the mask."""
    outside = np.pad(~mask, radius, constant_values=True)
    eroded: np.ndarray = ~_square_any(outside, radius)[
        radius : -radius or None, radius : -radius or None
    ]
    return eroded


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return _square_any(mask, radius)


def _square_any(mask: np.ndarray, radius: int) -> np.ndarray:
    """Whether any pixel of the (2r+1)² square around each pixel is set (inside the image), as
    two 1-D passes."""
    out = mask.copy()
    for axis in (0, 1):
        line = out.copy()
        for shift in range(1, radius + 1):
            if axis == 0:
                out[shift:] |= line[:-shift]
                out[:-shift] |= line[shift:]
            else:
                out[:, shift:] |= line[:, :-shift]
                out[:, :-shift] |= line[:, shift:]
    return out


def _largest_region(mask: np.ndarray) -> np.ndarray:
    """The connected region of ``mask`` around its most interior pixel (flood fill by dilation)."""
    core = mask
    for radius in (24, 12, 4, 0):
        core = _erode(mask, radius) if radius else mask
        if core.any():
            break
    ys, xs = np.nonzero(core)
    h, w = mask.shape
    i = np.argmin((ys - h / 2) ** 2 + (xs - w / 2) ** 2)
    region = np.zeros((h, w), dtype=bool)
    region[ys[i], xs[i]] = True
    for _ in range(4 * max(h, w)):
        grown = _square_any(region, 4) & mask
        if np.array_equal(grown, region):
            break
        region = grown
    return region


def _fill_rows_cols(mask: np.ndarray) -> np.ndarray:
    def fill(m: np.ndarray) -> np.ndarray:
        idx = np.arange(m.shape[1])
        first = np.where(m.any(1), m.argmax(1), m.shape[1])
        last = np.where(m.any(1), m.shape[1] - 1 - m[:, ::-1].argmax(1), -1)
        inside: np.ndarray = (idx[None] >= first[:, None]) & (idx[None] <= last[:, None])
        return inside

    filled: np.ndarray = fill(mask) & fill(mask.T).T
    return filled


def body_mask(hu: np.ndarray) -> np.ndarray:
    """Inside of the body: the main tissue region (> −400 HU) with enclosed air (lungs) filled."""
    return _fill_rows_cols(_largest_region(hu > -400.0))


def scanner_noise_std(hu: np.ndarray, body: np.ndarray) -> float:
    residual = hu - _gaussian_blur(hu, 1.5)
    values = residual[_erode(body, 4) & (np.abs(hu) < 200)]
    if values.size < 100:
        return 10.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def add_lesions(
    hu: np.ndarray,
    rng: np.random.Generator,
    *,
    count: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (7.0, 22.0),
    placeable: np.ndarray | None = None,
    noise_std: float | None = None,
) -> SyntheticSlice:
    """Place ``count`` (inclusive range) solid or ground-glass nodules inside the body.

    ``placeable`` (where a lesion centre may go) and ``noise_std`` are derived from the slice
    when not given.
    """
    h, w = hu.shape
    if placeable is None or noise_std is None:
        placeable, noise_std = placement(hu)
    free = placeable.copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = hu.copy()
    masks, labels = [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        label = int(rng.choice([SOLID, GGO]))
        a = float(rng.uniform(*radius))
        b = a * float(rng.uniform(0.7, 1.0))
        allowed = _erode(free, math.ceil(a) + 3)
        ys, xs = np.nonzero(allowed)
        if len(ys) == 0:
            break
        i = int(rng.integers(len(ys)))
        cy, cx = int(ys[i]), int(xs[i])
        r = math.ceil(1.6 * a) + 8
        y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, h), max(cx - r, 0), min(cx + r + 1, w)
        crop = out[y0:y1, x0:x1]
        theta = float(rng.uniform(0, math.pi))
        dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
        u = (dx * math.cos(theta) + dy * math.sin(theta)) / a
        v = (-dx * math.sin(theta) + dy * math.cos(theta)) / b
        d = np.sqrt(u**2 + v**2)
        edge = 0.06 if label == SOLID else 0.18
        alpha = 1.0 / (1.0 + np.exp(np.clip((d - 1.0) / edge, -50, 50)))
        if label == SOLID:
            target = np.maximum(float(rng.uniform(20, 80)), crop + 200.0)
        else:
            target = np.maximum(float(rng.uniform(-650, -450)), crop + 100.0)
            target = target + 120.0 * _gaussian_blur(rng.standard_normal(crop.shape), 2.0)
        delta = _gaussian_blur(alpha * (target - crop), 0.8)
        noise = rng.standard_normal(crop.shape).astype(np.float32) * noise_std * alpha
        out[y0:y1, x0:x1] = crop + delta + noise
        mask = np.zeros((h, w), dtype=bool)
        mask[y0:y1, x0:x1] = d <= 1.0
        masks.append(mask.astype(np.uint8))
        labels.append(label)
        free &= ~_dilate(mask, 4)
    masks_arr = np.stack(masks) if masks else np.zeros((0, h, w), np.uint8)
    return SyntheticSlice(hu=out, masks=masks_arr, labels=np.asarray(labels, dtype=np.int64))


def placement(hu: np.ndarray) -> tuple[np.ndarray, float]:
    """Where lesions may go (inside the body, away from bone) and the slice's noise level."""
    body = body_mask(hu)
    return body & (_gaussian_blur(hu, 3.0) < 300.0), scanner_noise_std(hu, body)


@cache
def placements(size: int) -> tuple[tuple[np.ndarray, float], ...]:
    """``placement`` of each base slice of ``size``."""
    return tuple(placement(hu) for hu in base_slices(size))


def random_lesion_slice(
    rng: np.random.Generator,
    *,
    size: int,
    count: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (7.0, 22.0),
) -> SyntheticSlice:
    """A random base slice of ``size``, mirrored half the time, with ``add_lesions``."""
    choice = int(rng.integers(len(base_slices(size))))
    hu, (placeable, noise_std) = base_slices(size)[choice], placements(size)[choice]
    if rng.random() < 0.5:
        hu, placeable = hu[:, ::-1].copy(), placeable[:, ::-1].copy()
    return add_lesions(
        hu, rng, count=count, radius=radius, placeable=placeable, noise_std=noise_std
    )
